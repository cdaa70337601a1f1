"""Trace time: where the replay starts is a fixed phase of the UTC week, so every run replays the same month."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tenantops_lab.demo.clock import REPLAY_TIME, REPLAY_WEEKDAY, WEEK, TraceClock, replay_origin

# 2001 to 2100, to the microsecond: any wall clock the demo could be started at.
walls = st.floats(min_value=978_307_200.0, max_value=4_102_444_800.0, allow_nan=False)


@given(walls)
def test_the_replay_starts_at_the_same_time_of_the_week_before_any_wall_clock(latest: float) -> None:
    origin = replay_origin(latest)
    assert latest - WEEK < origin <= latest
    at = datetime.fromtimestamp(origin, UTC)
    assert at.weekday() == REPLAY_WEEKDAY
    assert abs(at.hour * 3600 + at.minute * 60 + at.second + at.microsecond / 1e6 - REPLAY_TIME) < 1e-3


@given(walls, st.floats(min_value=0.0, max_value=WEEK, allow_nan=False))
def test_two_runs_apart_lay_the_history_at_the_same_phase(latest: float, later_by: float) -> None:
    # Within a week of each other: the same instant, or exactly a week apart.
    first, second = replay_origin(latest), replay_origin(latest + later_by)
    assert round((second - first) / WEEK, 6) in (0.0, 1.0)


def test_an_instant_at_the_phase_is_its_own_origin() -> None:
    tuesday = datetime(2026, 12, 1, 12, 24, tzinfo=UTC).timestamp()
    assert replay_origin(tuesday) == tuesday
    assert replay_origin(tuesday - 1) == tuesday - WEEK


def test_the_live_part_starts_at_the_origin_behind_the_wall_clock_and_history_keeps_its_times() -> None:
    origin = datetime(2026, 11, 24, 12, 24, tzinfo=UTC).timestamp()
    wall = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp()
    clock = TraceClock(origin_trace=origin, factor=60.0, origin_wall=wall, wall=lambda: wall + 2.0)
    assert clock.now().timestamp() == origin + 120.0
    assert clock.wall_at(origin + 120.0) == wall + 2.0
    assert clock.wall_at(origin - 3600.0) == origin - 3600.0  # backfilled history: stored at its trace time
