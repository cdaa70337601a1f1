"""Which report moment a pass asks for (pure): each scheduled moment requested once, the latest one when
passes were missed, never one after the pass, whatever passes come later; keys as they have always been."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config import Config
from tenantops.config.kinds.reports import ReportSpec
from tenantops.decide.base import PassInput, confirm_applied
from tenantops.decide.reports.decider import REQUESTED, ReportsDecider, due_request, last_requested
from tenantops.decide.reports.schedule import Schedule
from tenantops.structs.reports import ReportRequest
from tenantops.structs.snapshot import Snapshot

from .conftest import NOW

WEEKLY = ReportSpec(schedule="0 8 * * 1", timezone="Europe/Berlin", period_days=7, recipients=["ops@example.com"])


def run(spec: ReportSpec, times: Sequence[datetime], recorded: Sequence[bool] | None = None,
        state: dict[str, Any] | None = None) -> list[tuple[datetime, ReportRequest]]:
    """Passes at `times`, each request settled by the engine's confirmation rule as recorded (or, where
    `recorded` says False, as not recorded: the outbox refused it); the (pass, request) pairs in order."""
    state = {} if state is None else state
    asked: list[tuple[datetime, ReportRequest]] = []
    for i, now in enumerate(times):
        request = due_request(spec, last_requested(state), now)
        if request is None:
            continue
        asked.append((now, request))
        made = request if recorded is None or recorded[i] else None
        value = confirm_applied(request, made, now, state.get(request.state_key))
        if made is not None:
            state[request.state_key] = value
    return asked


SPECS = st.sampled_from([
    ReportSpec(schedule=cron, timezone=zone, period_days=7, recipients=["ops@example.com"])
    for cron in ("0 8 * * 1", "30 2 * * *", "0 0 1 * *", "15 */6 * * *")
    for zone in ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")
])


@st.composite
def pass_times(draw: st.DrawFn) -> list[datetime]:
    start = draw(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1))).replace(tzinfo=UTC)
    gaps = draw(st.lists(st.integers(min_value=1, max_value=60 * 24 * 10), min_size=1, max_size=40))
    times = [start]
    for gap in gaps:
        times.append(times[-1] + timedelta(minutes=gap))
    return times


@settings(max_examples=150, deadline=None)
@given(SPECS, pass_times())
def test_each_moment_is_requested_once_and_none_is_left_out(spec: ReportSpec, times: list[datetime]) -> None:
    schedule = Schedule(spec.schedule, spec.timezone)
    asked = run(spec, times)
    moments = [r.moment for _, r in asked]
    assert len(moments) == len(set(moments))  # once each
    assert moments == sorted(moments)
    for now, request in asked:  # the latest moment at or before the pass, never a later one
        assert request.moment == schedule.last(now) <= now
        assert request.key == f"cost-report:{request.moment.isoformat()}"
        assert request.on_applied == request.moment.isoformat()
    # Every moment some pass saw as the latest is asked for (a missed week is not asked for twice).
    assert set(moments) == {schedule.last(t) for t in times}


@settings(max_examples=150, deadline=None)
@given(SPECS, pass_times(), st.integers(min_value=0, max_value=40))
def test_what_a_pass_asks_does_not_depend_on_later_passes(spec: ReportSpec, times: list[datetime], cut: int) -> None:
    """The same passes decide the same requests with and without passes after them: nothing is decided
    from time that has not come."""
    prefix = times[: cut + 1]
    full = run(spec, times)
    assert run(spec, prefix) == [(now, r) for now, r in full if now <= prefix[-1]]


@settings(max_examples=100, deadline=None)
@given(SPECS, pass_times(), st.data())
def test_a_request_not_recorded_is_asked_again_and_nothing_is_asked_twice_once_recorded(
    spec: ReportSpec, times: list[datetime], data: st.DataObject
) -> None:
    schedule = Schedule(spec.schedule, spec.timezone)
    recorded = data.draw(st.lists(st.booleans(), min_size=len(times), max_size=len(times)))
    asked = run(spec, times, recorded)
    outcome = dict(zip(times, recorded, strict=True))
    done = [r.moment for now, r in asked if outcome[now]]
    assert len(done) == len(set(done))
    # After a pass whose request was not recorded, the next pass asks again (for its own latest moment).
    pairs = list(itertools.pairwise(times))
    refused = {now for now, r in asked if not outcome[now]}
    requested_at = {now for now, _ in asked}
    for now, following in pairs:
        if now in refused:
            assert following in requested_at and schedule.last(following) >= schedule.last(now)


def test_keys_are_those_the_report_always_had() -> None:
    request = due_request(WEEKLY, None, NOW)
    assert request is not None
    assert request.key == "cost-report:2026-11-16T08:00:00+01:00"
    assert request.moment == datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
    assert request.period_days == 7 and request.recipients == ("ops@example.com",)
    assert ReportRequest.from_json(request.to_json()) == ReportRequest(
        request.key, request.moment, 7, ("ops@example.com",), NOW, request.rule, request.reason)


def test_a_controller_down_over_several_moments_asks_once_for_the_latest() -> None:
    """Down from before Monday 2026-11-09 until Wednesday 2026-11-18: one request, Monday 16th's, whose
    period ends at that moment, not at the Wednesday pass."""
    before = datetime(2026, 11, 8, 12, 0, tzinfo=UTC)
    wednesday = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    asked = run(WEEKLY, [before, wednesday, wednesday + timedelta(minutes=1)])
    assert [r.key for _, r in asked] == ["cost-report:2026-11-02T08:00:00+01:00",
                                         "cost-report:2026-11-16T08:00:00+01:00"]
    assert asked[1][1].moment == datetime(2026, 11, 16, 7, 0, tzinfo=UTC)
    assert asked[1][1].requested_at == wednesday


def test_a_daily_report_in_the_hour_the_autumn_change_repeats_is_asked_once_that_day() -> None:
    """Passes every minute through Berlin's night of 2026-10-25 (02:00-03:00 runs twice) ask for the 02:30
    report of that day once: the second 02:30 is the same moment, not a new report."""
    spec = WEEKLY.model_copy(update={"schedule": "30 2 * * *"})
    start = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 01:00 CEST
    asked = run(spec, [start + timedelta(minutes=m) for m in range(4 * 60)])  # until 04:00 CET
    assert [r.key for _, r in asked] == ["cost-report:2026-10-24T02:30:00+02:00",
                                         "cost-report:2026-10-25T02:30:00+02:00"]


def test_a_daily_report_in_the_hour_the_spring_change_skips_is_asked_once_at_the_jump() -> None:
    spec = WEEKLY.model_copy(update={"schedule": "30 2 * * *"})
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 CET; at 02:00 the clock jumps to 03:00
    asked = run(spec, [start + timedelta(minutes=m) for m in range(3 * 60)])
    assert [(now, r.moment) for now, r in asked][1:] == [
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC))]


def test_the_decider_asks_from_its_committed_state_and_audits_why(config: Config) -> None:
    snapshot = Snapshot(at=NOW, workloads={})
    out = ReportsDecider().decide(PassInput(snapshot, config, NOW), {})
    [request] = out.reports
    [decision] = out.decisions
    assert decision.kind == "report" and decision.rule == "due" and decision.new == request.moment.isoformat()
    assert "cost report due: scheduled 2026-11-16T08:00:00+01:00" in decision.reason
    assert decision.inputs["key"] == request.key
    assert out.state == {}  # nothing is recorded from the decision: only the outcome settles it
    recorded = {REQUESTED: request.moment.isoformat()}
    later = ReportsDecider().decide(PassInput(snapshot, config, NOW + timedelta(hours=5)), recorded)
    assert later.reports == () and later.decisions == ()
    unreadable = ReportsDecider().decide(PassInput(snapshot, config, NOW), {REQUESTED: "not a time"})
    assert [r.key for r in unreadable.reports] == [request.key]  # asked again; the outbox key keeps it once
