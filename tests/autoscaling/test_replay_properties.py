"""Properties of the replay that make its figures honest (docs/benchmarks.md §1), on the production policies.

Each of these would fail for a simulator or policy that knew something a live controller cannot: the rest
of the trace, demand beyond what saturated replicas served, or the sample times of a coarse source.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantops.config.kinds.scaling import BreakerSpec, ScalingSpec
from tenantops.config.loader import load_policies
from tenantops.decide.autoscaling.workload import WorkloadDecision
from tenantops.sim.environment import Run, run
from tenantops.sim.replay import recommender_policy
from tenantops.sim.trace import resample

from .conftest import REPO

START = datetime(2024, 1, 1, tzinfo=UTC)
POLICIES = load_policies(REPO / "policies")
NAMES = POLICIES.names("ScalingPolicy")
CAPACITY = 5.0

# Demand shapes a live workload produces: bursts, plateaus, ramps, zeros, in one strategy.
demands = st.lists(st.floats(min_value=0.0, max_value=400.0, allow_nan=False), min_size=20, max_size=160)


def policy_spec(name: str) -> ScalingSpec:
    spec = POLICIES.get("ScalingPolicy", name)
    assert isinstance(spec, ScalingSpec)
    return spec


def replay(demand: np.ndarray, name: str, breakers: BreakerSpec | None = None, lo: int = 1, hi: int = 1000,
           decisions: list[tuple[int, WorkloadDecision]] | None = None) -> Run:
    spec = policy_spec(name)
    policy = recommender_policy(spec, CAPACITY, START, min_replicas=lo, max_replicas=hi, breakers=breakers,
                                on_decision=None if decisions is None else lambda t, d: decisions.append((t, d)))
    return run(demand, CAPACITY, policy, min_replicas=lo, max_replicas=hi)


@settings(max_examples=25, deadline=None)
@given(values=demands, cut=st.integers(2, 19), name=st.sampled_from(NAMES))
def test_decisions_with_and_without_the_future_are_identical(values: list[float], cut: int, name: str) -> None:
    demand = np.asarray(values)
    full, prefix = replay(demand, name), replay(demand[:cut], name)
    assert prefix.desired.tolist() == full.desired[:cut].tolist()
    assert prefix.ready.tolist() == full.ready[:cut].tolist()


@settings(max_examples=25, deadline=None)
@given(values=demands, name=st.sampled_from(NAMES), boost=st.floats(min_value=1.01, max_value=50.0))
def test_demand_raised_only_where_it_exceeded_capacity_changes_nothing(values: list[float], name: str,
                                                                       boost: float) -> None:
    """The policy sees served load only: what queued beyond saturated replicas is invisible to it."""
    demand = np.asarray(values)
    first = replay(demand, name)
    over = demand > first.ready * CAPACITY
    raised = np.where(over, demand * boost + 1.0, demand)
    second = replay(raised, name)
    assert second.desired.tolist() == first.desired.tolist()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=demands, name=st.sampled_from(NAMES), lo=st.integers(1, 6), span=st.integers(0, 40),
       up=st.integers(1, 25), down=st.integers(1, 10))
def test_bounds_and_breakers_hold_at_every_simulated_step(values: list[float], name: str, lo: int, span: int,
                                                          up: int, down: int) -> None:
    hi = lo + span
    brk = BreakerSpec(max_step_up=up, max_step_down=down)
    seen: list[tuple[int, WorkloadDecision]] = []
    result = replay(np.asarray(values), name, brk, lo, hi, seen)
    for t, decision in seen:
        current = int(result.provisioned[t - 1])
        assert lo <= decision.desired <= hi
        inside = lo <= current <= hi
        if inside:  # a count found outside the bounds is brought back in one step: the bounds always win
            assert current - down <= decision.desired <= current + up, (t, current, decision.reason)


@settings(max_examples=25, deadline=None)
@given(blocks=st.lists(st.floats(min_value=0.0, max_value=300.0, allow_nan=False), min_size=4, max_size=30),
       period=st.sampled_from([2, 5, 10, 30]), name=st.sampled_from(NAMES))
def test_a_held_coarse_source_is_indistinguishable_from_a_flat_per_minute_one(
    blocks: list[float], period: int, name: str
) -> None:
    """The replay gives a policy nothing of a coarse source's shape but its values: the same decisions as on
    a per-minute recording that happens to repeat each value, so no sample time, period or phase to exploit."""
    times = np.arange(len(blocks), dtype=np.float64) * period * 60.0
    coarse = resample(times, np.asarray(blocks))
    minutes = np.arange(len(coarse), dtype=np.float64) * 60.0
    per_minute = resample(minutes, np.repeat(np.asarray(blocks), period)[: len(coarse)])
    assert coarse.tolist() == per_minute.tolist()
    assert replay(coarse, name).desired.tolist() == replay(per_minute, name).desired.tolist()


@settings(max_examples=25, deadline=None)
@given(values=demands, cut=st.integers(1, 19), name=st.sampled_from(NAMES),
       later=st.lists(st.floats(min_value=0.0, max_value=400.0, allow_nan=False), min_size=1, max_size=160))
def test_a_decision_does_not_depend_on_the_demand_of_its_own_step(values: list[float], cut: int, name: str,
                                                                  later: list[float]) -> None:
    """The decision at step t is taken on what was measured before t: replacing the demand of steps t, t+1, ...
    leaves every decision up to t as it was. (Cutting the trace after t cannot show this: both runs see the
    demand of step t, so a replay that handed a policy the current step's load would pass that test.)"""
    demand = np.asarray(values)
    other = np.concatenate([demand[:cut], np.resize(np.asarray(later), len(demand) - cut)])
    first, second = replay(demand, name), replay(other, name)
    assert second.desired[: cut + 1].tolist() == first.desired[: cut + 1].tolist()
