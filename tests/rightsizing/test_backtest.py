"""docs/benchmarks.md §2 definitions, checked on series small enough to score by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tenantops.decide.rightsizing.backtest import (
    VpaPoint,
    backtest,
    day_index,
    interpolate_slack,
    replay,
    score,
    vpa_policy,
)

from .helpers import DAY, cpu_params

MIDNIGHT = 1_700_006_400.0  # a UTC midnight


def test_days_are_utc_calendar_days_from_the_first_sample() -> None:
    t = np.array([MIDNIGHT + 20 * 3600, MIDNIGHT + 23.9 * 3600, MIDNIGHT + DAY, MIDNIGHT + 2 * DAY + 5])
    days, origin = day_index(t)
    assert origin == MIDNIGHT
    assert days.tolist() == [0, 0, 1, 2]


def test_slack_and_overrun_definitions() -> None:
    values = np.array([1.0, 2.0, 4.0, 3.0])
    requests = np.array([2.0, 2.0, 2.0, 4.0])
    s = score(values, requests, np.array([True, True, True, True]))
    assert s.slack == pytest.approx((1 + 0 + 0 + 1) / 10)
    assert s.overrun_rate == pytest.approx(0.25)


def test_requests_use_only_the_past_and_hold_for_the_day() -> None:
    t = MIDNIGHT + np.arange(0, 3 * DAY, 3600.0)
    v = np.arange(t.size, dtype=float)
    seen: list[tuple[float, float]] = []

    def policy(pt: np.ndarray, pv: np.ndarray, now: float) -> float:
        seen.append((float(pt.max()), now))
        return float(pv.max())

    requests, plan = replay(t, v, policy)
    assert all(latest < now for latest, now in seen)
    assert np.isnan(requests[:24]).all()  # day 0 is warm-up
    assert (requests[24:48] == 23.0).all() and (requests[48:] == 47.0).all()
    assert [(r.day, r.hour, r.request) for r in plan] == [(1, None, 23.0), (2, None, 47.0)]


def test_vpa_baseline_is_decayed_percentile_plus_15_percent() -> None:
    t = MIDNIGHT + np.arange(0, DAY, 3600.0)
    v = np.linspace(1, 24, 24)
    assert vpa_policy(1.0)(t, v, MIDNIGHT + DAY) == pytest.approx(24 * 1.15)
    # The newest samples weigh most, so the weighted median sits above the plain median.
    assert vpa_policy(0.5)(t, v, MIDNIGHT + DAY) > float(np.median(v)) * 1.15


def test_interpolation_and_both_ends_of_the_curve() -> None:
    curve = [VpaPoint(0.5, 0.1, 0.2), VpaPoint(0.9, 0.3, 0.1), VpaPoint(1.0, 0.6, 0.0)]
    assert interpolate_slack(curve, 0.15) == (pytest.approx(0.2), False)
    assert interpolate_slack(curve, 0.0) == (pytest.approx(0.6), False)
    assert interpolate_slack(curve, 0.5) == (pytest.approx(0.1), True)
    tied = [VpaPoint(0.99, 0.4, 0.0), VpaPoint(1.0, 0.7, 0.0), VpaPoint(0.5, 0.1, 0.3)]
    assert interpolate_slack(tied, 0.0)[0] == pytest.approx(0.4)  # the cheaper of VPA's safest runs


def test_constant_usage_has_no_slack_once_a_day_is_calibrated() -> None:
    t = MIDNIGHT + np.arange(0, 4 * DAY, 300.0)
    v = np.full(t.size, 2.0)
    result = backtest("flat", t, v, cpu_params(minimum=0.0))
    # Day 1 has no full day to calibrate on: the peak + 15%; from day 2 the request is the usage itself.
    assert [(r.day, r.request) for r in result.requests] == [(1, pytest.approx(2.3)), (2, 2.0), (3, 2.0)]
    assert result.score.overrun_rate == 0.0
    assert result.score.slack == pytest.approx(0.3 / (2.3 + 2.0 + 2.0))
    assert result.overrun_budget == 0.01 and result.within_budget
    assert result.fixed_peak.slack == pytest.approx(0.0)
    assert [p.percentile for p in result.vpa] == [0.5, 0.8, 0.9, 0.95, 0.99, 1.0]
    assert all(p.slack == pytest.approx(0.15 / 1.15) for p in result.vpa)
    assert result.slack_vs_vpa == pytest.approx(result.score.slack / (0.15 / 1.15))
    assert result.days == 4 and result.scored_samples == t.size - 288


def test_day_night_series_is_scheduled_and_beats_vpa() -> None:
    t = MIDNIGHT + np.arange(0, 6 * DAY, 300.0)
    hour = (t % DAY) // 3600
    rng = np.random.default_rng(3)
    v = np.where((hour >= 8) & (hour < 20), 4.0, 0.5) * rng.uniform(0.9, 1.0, t.size)
    result = backtest("day-night", t, v, cpu_params(minimum=0.0, daily_schedule=True))
    assert result.scheduled
    assert sum(1 for r in result.requests if r.day == 1) == 1  # nothing to calibrate on yet: flat
    # Scheduled on most later days (a day whose schedule did worse out of sample than flat is not).
    assert result.scheduled_days >= 3 and sum(1 for r in result.requests if r.day == 2) == 24
    assert result.slack_vs_vpa < 0.75
