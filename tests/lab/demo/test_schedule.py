"""The demo's schedule figures: late passes and the trace minutes in which no pass decided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tenantops_lab.demo.schedule import pass_figures
from tenantops_lab.demo.view import ActionEvent

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(*seconds: float) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in seconds]


def event(status: str) -> ActionEvent:
    return ActionEvent(1.0, "acme", "api", 2, 3, status, "predictive", "")


def test_a_schedule_kept_is_nothing_behind() -> None:
    got = pass_figures(30.0, 60.0, [0.1, 0.2, 0.15], at(0, 30, 60.5, 90), [event("applied")])
    assert (got.late, got.behind_trace_minutes, got.actions_not_made) == (0, 0.0, 0)
    assert got.longest_gap_trace_seconds == 30.5
    assert got.seconds_p50 == 0.15 and got.seconds_max == 0.2


def test_a_slow_pass_is_late_and_its_gap_counts_beyond_the_interval() -> None:
    """A pass of 3 wall seconds at 60x is 3 trace minutes: the next pass comes 180 s after it, 150 s late."""
    got = pass_figures(30.0, 60.0, [0.1, 3.0, 0.1], at(0, 30, 210, 240), [event("retryable"), event("applied"),
                                                                          event("failed")])
    assert got.late == 1
    assert got.behind_trace_minutes == 2.5
    assert got.longest_gap_trace_seconds == 180.0
    assert got.actions_not_made == 2


def test_no_passes_gives_empty_figures() -> None:
    got = pass_figures(60.0, 60.0, [], [], [])
    assert (got.late, got.seconds_p50, got.seconds_max, got.longest_gap_trace_seconds) == (0, None, None, None)


def test_the_summary_line_names_the_late_passes_and_the_minutes_behind() -> None:
    line = pass_figures(30.0, 60.0, [0.1, 3.0, 0.1], at(0, 30, 210, 240), [event("retryable")]).describe()
    assert "1 ran past it" in line and "2.5 trace min behind schedule" in line and "longest gap 3.0 min" in line
    assert "1 scale write(s) not made" in line
