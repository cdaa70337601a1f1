"""The per-tenant hour/day series kept in state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.cost.history import DAYS_KEPT, HOURS_KEPT, TenantSeries, hour_index


def test_interval_across_an_hour_is_split_by_time() -> None:
    s = TenantSeries("a")
    start = datetime(2026, 11, 2, 9, 45, tzinfo=UTC)
    s.add(start, start + timedelta(minutes=30), {"cpu": 3000})
    s.add(start + timedelta(hours=2), start + timedelta(hours=2, minutes=1), {"cpu": 0})
    assert s.hour_value(hour_index(start)) == 1500
    assert s.hour_value(hour_index(start) + 1) == 1500


def test_days_close_at_utc_midnight_and_gaps_stay_unknown() -> None:
    s = TenantSeries("a")
    t = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    s.add(t, t + timedelta(minutes=30), {"cpu": 10})
    _, closed_days = s.add(t + timedelta(days=3), t + timedelta(days=3, minutes=30), {"cpu": 20})
    assert closed_days == [datetime(2026, 11, 2).date().toordinal()]
    later = datetime(2026, 11, 7, tzinfo=UTC)
    s.add(later, later + timedelta(minutes=1), {"cpu": 1})
    assert s.days == [10, None, None, 20]


def test_month_to_date_resets_at_month_start() -> None:
    s = TenantSeries("a")
    t = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    s.add(t, t + timedelta(hours=1), {"cpu": 100, "idle": 10})
    assert s.month == "2026-11"
    assert s.mtd == {"cpu": 50, "idle": 5}


def test_state_round_trip_writes_only_what_changed() -> None:
    s = TenantSeries("a")
    t = datetime(2026, 11, 2, 9, tzinfo=UTC)
    s.add(t, t + timedelta(minutes=5), {"cpu": 7})
    out = s.to_state()
    assert set(out) == {"c/a"}
    again = TenantSeries.from_state("a", json.loads(json.dumps(out)))
    again.add(t + timedelta(hours=1), t + timedelta(hours=1, minutes=5), {"cpu": 1})
    assert set(again.to_state()) == {"c/a", "h/a"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 7200), st.integers(0, 10**7)), min_size=1, max_size=150))
def test_money_is_conserved_and_history_bounded(steps: list[tuple[int, int]]) -> None:
    s = TenantSeries("a")
    t = datetime(2026, 11, 1, tzinfo=UTC)
    total = 0
    for seconds, amount in steps:
        s.add(t, t + timedelta(seconds=seconds), {"cpu": amount})
        t += timedelta(seconds=seconds)
        total += amount
    assert len(s.hours) <= HOURS_KEPT and len(s.days) <= DAYS_KEPT
    closed = sum(v or 0 for v in s.days)
    assert closed + s.today == total  # fewer than 13 days: nothing has aged out
    assert s.month_to_date == total  # all within November


def test_spend_so_far_at_the_first_instant_of_a_month_is_none_of_the_old_months() -> None:
    s = TenantSeries("a")
    t = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    s.add(t, t + timedelta(minutes=30), {"cpu": 100})
    s.add(t + timedelta(minutes=30), t + timedelta(hours=1), {"cpu": 100})  # ends exactly at 12-01 00:00
    first = datetime(2026, 12, 1, tzinfo=UTC)
    assert s.month == "2026-11" and s.month_to_date == 200  # the interval before midnight is November's
    assert s.month_to_date_at(first) == 0 and s.today_at(first) == 0
    assert s.month_to_date_at(first - timedelta(seconds=1)) == 200
    assert s.today_at(first - timedelta(seconds=1)) == 200


def test_days_seen_in_part_are_kept_as_money_and_scaled_or_left_out_as_rates() -> None:
    state: dict[str, object] = {}
    s = TenantSeries("a")
    t = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)  # first seen at 18:00: a quarter of the day
    while t < datetime(2026, 11, 5, 6, 0, tzinfo=UTC):
        if not datetime(2026, 11, 3, 4, 0, tzinfo=UTC) <= t < datetime(2026, 11, 3, 10, 0, tzinfo=UTC):
            s.add(t, t + timedelta(minutes=30), {"cpu": 500})  # down 04:00-10:00 on the 3rd: 18 h seen
        t += timedelta(minutes=30)
        state.update(json.loads(json.dumps(s.to_state())))
        s = TenantSeries.from_state("a", state)
    assert s.days == [6000, 18000, 24000]
    assert s.day_rates() == [None, 24000, 24000]
    # A state written before days were measured reads every closed day as whole, as it used to.
    old = {k: v for k, v in state.items() if k != "d/a"} | {"d/a": {"d0": s.day0, "v": s.days}}
    assert TenantSeries.from_state("a", old).day_rates() == [6000, 18000, 24000]
