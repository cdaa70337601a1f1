"""A scale change is a scale event only once its write is known to have been made (`behavior.settle`).

The decision leaves the change it asks for proposed; the write's outcome settles it: the replicas written
become an event of the rate-limit periods, a write that failed, was refused or never sent leaves none. The
same holds through the decider's `confirm` (stored JSON in, stored JSON out), which the engine calls.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tenantops.decide.autoscaling.behavior import UP, Limits, record_scale, scale_up_limit, settle
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Tuning
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.decide.autoscaling.workload import Guards, decide_workload
from tenantops.decide.base import KEEP
from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind

from .conftest import spec

NOW = 1_700_000_000.0
BOUNDS = Bounds(1, 20)
GUARDS = Guards(max_step_up=20, max_step_down=5)


def _busy(now: float, current: int) -> Observation:
    """Demand for 20 replicas at the target (the maximum): the HPA rule asks for all of them."""
    return Observation(now - 30, current, current, (MetricLoad("cpu", 0.7 * 20, 0.7, 1.0),))


def _decide(state: WorkloadState, now: float, current: int) -> int:
    return decide_workload(Tuning.of(spec()), BOUNDS, GUARDS, _busy(now, current), (), state, now).desired


def test_a_decided_change_is_proposed_not_an_event_until_settled() -> None:
    state = WorkloadState()
    assert _decide(state, NOW, 2) == 20
    assert state.events == [] and state.proposed == [[NOW, 18.0]]
    applied = settle(state, NOW, 18)
    assert applied.events == [[NOW, 18.0]] and applied.proposed == []
    assert state.proposed == [[NOW, 18.0]] and state.events == []  # pure: the input is left as it was


def test_a_write_not_made_leaves_no_event_and_the_next_pass_scales_up_at_once() -> None:
    state = WorkloadState()
    assert _decide(state, NOW, 2) == 20
    state = settle(state, NOW, 0)  # refused, failed, fenced or never sent
    assert state.events == [] and state.proposed == []
    assert _decide(state, NOW + 30, 2) == 20  # the period's allowance is whole


def test_an_applied_write_uses_up_the_period_and_an_unknown_outcome_counts_as_made() -> None:
    applied = WorkloadState()
    _decide(applied, NOW, 2)
    applied = settle(applied, NOW, 18)
    assert _decide(applied, NOW + 30, 2) == 2  # the count went back to 2 by someone else: +18 already used
    unknown = WorkloadState()
    _decide(unknown, NOW, 2)  # no outcome yet (the target could not be read after a restart): it may have happened
    assert _decide(unknown, NOW + 30, 2) == 2


def test_a_smaller_write_than_decided_records_what_was_written() -> None:
    """The guard stage's ceiling may lower the count after the decision: the event is the write made."""
    up = Limits.of(spec().scale_up, UP, 0.1)
    state = WorkloadState()
    record_scale(state, NOW, 10, 26)
    state = settle(state, NOW, 2)
    assert state.events == [[NOW, 2.0]]
    assert scale_up_limit(state, 12, NOW + 1, up) == 100  # 900% more than the 10 the period started from


def test_the_decider_confirms_its_stored_state_from_the_write_made() -> None:
    decider = AutoscalingDecider()
    state = WorkloadState()
    record_scale(state, NOW, 2, 20)
    at = datetime.fromtimestamp(NOW, UTC)
    proposed = ScaleAction("alpha", "api", ScaleTarget(TargetKind.KUBERNETES, "api", "tenant-alpha"), 2, 20, "scale",
                           "", state_key="alpha/api", concern="autoscaling")
    stored = decider.confirm(proposed, proposed, at, state.to_json())
    assert WorkloadState.from_json(stored).events == [[NOW, 18.0]]
    from_four = decider.confirm(proposed, replace(proposed, current=4), at, state.to_json())  # the target had 4
    assert WorkloadState.from_json(from_four).events == [[NOW, 16.0]]
    dropped = WorkloadState.from_json(decider.confirm(proposed, None, at, state.to_json()))
    assert dropped.events == [] and dropped.proposed == []
    assert decider.confirm(proposed, proposed, at, None) is KEEP  # a workload no longer stored: nothing to write


times = st.lists(st.integers(0, 50), unique=True, max_size=6)
changes = st.integers(-10, 10).filter(bool)


@given(times, st.data())
def test_settling_every_proposal_keeps_exactly_the_writes_made(proposed_at: list[int], data: st.DataObject) -> None:
    state = WorkloadState(events=[[NOW - 100, 3.0]])
    asked = {NOW + t: data.draw(changes) for t in proposed_at}
    for at, change in asked.items():
        record_scale(state, at, 10, 10 + change)
    made = {at: data.draw(st.sampled_from([0, change])) for at, change in asked.items()}
    order = data.draw(st.permutations(list(made)))
    for at in order:
        state = settle(state, at, made[at])
        again = settle(state, at, made[at])  # a second outcome of the same write changes nothing
        assert again.events == state.events and again.proposed == state.proposed
    assert state.proposed == []
    assert sorted(map(tuple, state.events)) == sorted([(NOW - 100, 3.0)] + [(at, float(c)) for at, c in made.items()
                                                                            if c])


@given(times, st.integers(0, 50), changes)
def test_settling_a_time_nothing_was_proposed_at_keeps_the_other_proposals(
        proposed_at: list[int], other: int, change: int) -> None:
    state = WorkloadState()
    for t in proposed_at:
        record_scale(state, NOW + t, 4, 4 + change)
    settled = settle(state, NOW + other, 0)
    assert settled.events == []
    assert settled.proposed == [p for p in state.proposed if p[0] != NOW + other]
