"""Month-end forecasts on series whose answer is known."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantops.decide.cost.forecast import EMPTY, fit, forecast_month


def days_from(start: date, values: list[float | None]) -> list[tuple[date, float | None]]:
    return [(start + timedelta(days=i), v) for i, v in enumerate(values)]


def test_constant_spend_is_forecast_exactly() -> None:
    model = fit(days_from(date(2026, 10, 1), [10.0] * 10))
    assert model.method == "run-rate" and model.sigma == 0
    now = datetime(2026, 11, 11, tzinfo=UTC)  # 10 days done, 20 to go, at midnight
    fc = forecast_month(model, 100.0, 0.0, now, budget=300)
    assert fc.forecast == pytest.approx(300.0)
    assert fc.low == fc.high == pytest.approx(300.0)
    assert fc.burn_rate == pytest.approx(1.0)


def test_weekly_seasonality_is_learned() -> None:
    # Weekdays $100, weekends $10, for four weeks starting on a Monday.
    start = date(2026, 10, 5)
    values: list[float | None] = [10.0 if (start + timedelta(days=i)).weekday() >= 5 else 100.0 for i in range(28)]
    model = fit(days_from(start, values))
    assert model.method == "seasonal"
    assert model.day(date(2026, 11, 2)) == pytest.approx(100.0)  # a Monday
    assert model.day(date(2026, 11, 7)) == pytest.approx(10.0)  # a Saturday
    # From Monday 2026-11-23 00:00: 23 24 25 26 27 weekdays, 28 29 weekend, 30 weekday.
    fc = forecast_month(model, 1000.0, 0.0, datetime(2026, 11, 23, tzinfo=UTC), budget=2000)
    assert fc.forecast == pytest.approx(1000 + 6 * 100 + 2 * 10)


def test_interval_widens_with_noise_and_contains_the_point() -> None:
    noisy = [100.0 + (15 if i % 2 else -15) for i in range(10)]
    model = fit(days_from(date(2026, 11, 1), noisy))
    fc = forecast_month(model, 1000.0, 40.0, datetime(2026, 11, 11, 12, tzinfo=UTC), budget=3000)
    assert model.sigma > 10
    assert fc.low < fc.forecast < fc.high
    assert fc.low >= fc.month_to_date


def test_unknown_days_are_skipped_not_zero() -> None:
    model = fit(days_from(date(2026, 11, 1), [10.0, None, None, 10.0, 10.0]))
    assert model.level == pytest.approx(10.0)


def test_no_history_uses_todays_pace() -> None:
    fc = forecast_month(EMPTY, 5.0, 5.0, datetime(2026, 11, 1, 12, tzinfo=UTC), budget=100)
    assert fc.method == "none"
    assert fc.forecast == pytest.approx(5.0 + 10.0 * 0.5 + 10.0 * 29)


def test_json_round_trip() -> None:
    model = fit(days_from(date(2026, 10, 1), [float(i) for i in range(20)]))
    from tenantops.decide.cost.forecast import ForecastModel

    assert ForecastModel.from_json(model.to_json()) == model


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=60), st.integers(1, 27),
       st.floats(0, 1e5, allow_nan=False))
def test_forecast_never_below_spend_so_far(values: list[float], day: int, mtd: float) -> None:
    model = fit(days_from(date(2026, 9, 1), list(values)))
    fc = forecast_month(model, mtd, 0.0, datetime(2026, 11, day, 6, tzinfo=UTC), budget=1000)
    assert fc.forecast >= mtd - 1e-9
    assert fc.low <= fc.forecast + 1e-9 <= fc.high + 2e-9


def test_without_history_the_current_rate_is_projected() -> None:
    # Started at noon: $0.01 seen so far, but the tenant costs $1/h.
    fc = forecast_month(EMPTY, 0.01, 0.01, datetime(2026, 11, 1, 12, tzinfo=UTC), budget=100, rate_per_hour=1.0)
    assert fc.forecast == pytest.approx(0.01 + 24 * 0.5 + 24 * 29)
