"""Where a plan's slack goes (docs/benchmarks.md §2): the three parts, by hand and as a property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.rightsizing.backtest import backtest, score
from tenantops.decide.rightsizing.slack_split import slack_split

from .helpers import cpu_params, day_night, times


def test_the_three_parts_by_hand() -> None:
    # One day, two hours: hour 0 peaks at 2, hour 1 at 4 (the day's peak).
    values = np.array([1.0, 2.0, 4.0, 3.0])
    days = np.zeros(4, dtype=np.int64)
    hours = np.array([0, 0, 1, 1], dtype=np.int64)
    requests = np.full(4, 5.0)
    split = slack_split(values, requests, days, hours)
    assert split is not None
    total = 20.0
    assert split.above_day_peak == pytest.approx(4 * 1.0 / total)  # 5 over the day's 4, on every sample
    assert split.day_over_hour == pytest.approx((2 + 2) / total)  # hour 0 held at the day's 4, its peak is 2
    assert split.within_hour == pytest.approx((1 + 0 + 0 + 1) / total)
    assert split.slack == pytest.approx(score(values, requests, np.ones(4, dtype=bool)).slack)


def test_a_request_below_the_hours_peak_has_only_spread_and_nan_requests_are_left_out() -> None:
    values = np.array([1.0, 3.0, 2.0, 8.0])
    days = np.array([0, 0, 1, 1], dtype=np.int64)
    hours = np.zeros(4, dtype=np.int64)
    split = slack_split(values, np.array([2.0, 2.0, np.nan, np.nan]), days, hours)
    assert split is not None
    assert (split.above_day_peak, split.day_over_hour) == (0.0, 0.0)
    assert split.within_hour == pytest.approx(1.0 / 4.0)
    assert slack_split(values, np.full(4, np.nan), days, hours) is None
    assert slack_split(values, np.zeros(4), days, hours) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 12), st.integers(0, 2), st.integers(0, 3)),
                min_size=1, max_size=30))
def test_the_parts_are_never_negative_and_add_up_to_the_slack(rows: list[tuple[float, float, int, int]]) -> None:
    values = np.array([r[0] for r in rows])
    requests = np.array([r[1] for r in rows])
    days = np.array([r[2] for r in rows], dtype=np.int64)
    hours = np.array([r[3] for r in rows], dtype=np.int64)
    split = slack_split(values, requests, days, hours)
    if float(requests.sum()) <= 0:
        assert split is None
        return
    assert split is not None
    assert min(split.above_day_peak, split.day_over_hour, split.within_hour) >= 0
    assert split.slack == pytest.approx(score(values, requests, np.ones(values.size, dtype=bool)).slack, abs=1e-9)
    # A request per hour at that hour's peak (what a schedule that knew the day would ask) pays only the spread.
    peak = np.array([values[(days == d) & (hours == h)].max() for d, h in zip(days, hours, strict=True)])
    knowing = slack_split(values, peak, days, hours)
    assert knowing is None or (knowing.above_day_peak, knowing.day_over_hour) == (0.0, 0.0)


def test_the_backtest_splits_its_own_and_vpas_slack() -> None:
    t = times(5)
    result = backtest("day-night", t, day_night(t, 4.0, 1.0), cpu_params(minimum=0.0))
    for split in (result.slack_split, result.vpa_default_split):
        assert split is not None
    assert result.slack_split is not None and result.slack_split.slack == pytest.approx(result.score.slack)
