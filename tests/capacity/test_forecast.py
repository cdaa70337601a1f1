"""The capacity forecaster: never negative, bands contain the point, weekly shape and trend followed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.capacity.forecast import forecast_daily, seasonal_naive

days = st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False)), min_size=0, max_size=70)


@settings(max_examples=60, deadline=None)
@given(days, st.integers(min_value=1, max_value=200))
def test_never_negative_and_the_band_contains_the_point(values: list[float | None], horizon: int) -> None:
    fc = forecast_daily(values, horizon)
    assert len(fc) == horizon
    for p, lo, hi in zip(fc.point, fc.low, fc.high, strict=True):
        assert p >= 0 and lo >= 0
        assert lo <= p <= hi


@settings(max_examples=30, deadline=None)
@given(days, st.integers(min_value=1, max_value=30))
def test_the_baseline_keeps_the_same_guarantees(values: list[float | None], horizon: int) -> None:
    fc = seasonal_naive(values, horizon)
    assert all(0 <= lo <= p <= hi for p, lo, hi in zip(fc.point, fc.low, fc.high, strict=True))


def test_constant_history_forecasts_the_constant_with_a_tight_band() -> None:
    fc = forecast_daily([100.0] * 42, 30)
    assert all(abs(p - 100.0) < 1e-6 for p in fc.point)
    assert all(hi - lo < 1e-6 for lo, hi in zip(fc.low, fc.high, strict=True))


def test_weekly_shape_is_followed_from_its_phase() -> None:
    week = [100.0, 100, 100, 100, 100, 20, 20]  # five busy days, a quiet weekend
    fc = forecast_daily(week * 6, 14)
    quiet = [p for i, p in enumerate(fc.point) if i % 7 in (5, 6)]
    busy = [p for i, p in enumerate(fc.point) if i % 7 not in (5, 6)]
    assert max(quiet) < 40 < 80 < min(busy)


def test_a_steady_trend_is_carried_on_but_damped() -> None:
    history = [100.0 + 2 * i for i in range(56)]
    fc = forecast_daily(history, 120)
    assert fc.point[0] > history[-1] - 5
    assert fc.point[-1] > fc.point[0]  # still growing
    assert fc.point[-1] < history[-1] + 2 * 120  # but less than the straight line


def test_unknown_days_are_skipped_not_read_as_zero() -> None:
    history: list[float | None] = [100.0] * 42
    for i in range(10, 20):
        history[i] = None
    fc = forecast_daily(history, 7)
    assert min(fc.point) > 90


@pytest.mark.parametrize("days", [1, 3, 6])
def test_under_a_week_of_history_forecasts_the_level_on_every_weekday(days: int) -> None:
    """A steady 100 a day known for `days` days: the weekdays not yet seen were forecast at half of it
    (57% of the spend over the next four weeks from one day of history, 71% from three)."""
    forecast = forecast_daily([100.0] * days, 28)
    assert forecast.point == pytest.approx([100.0] * 28)
    assert all(lo <= p <= hi for lo, p, hi in zip(forecast.low, forecast.point, forecast.high, strict=True))
