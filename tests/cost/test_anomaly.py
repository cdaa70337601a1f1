"""The spend anomaly detector: modified z on a seasonal baseline, gated by money and proportion."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tenantops.decide.cost.anomaly import (
    daily_baseline,
    hourly_baseline,
    is_weekend_hour,
    judge,
    modified_z,
)

GATES = {"z_threshold": 3.5, "min_impact_usd": 50.0, "min_impact_percent": 20.0}


def test_modified_z_matches_the_textbook_formula() -> None:
    base = [10, 12, 11, 13, 9]  # median 11, MAD 1
    z, med = modified_z(20, base)
    assert med == 11
    assert z == 0.6745 * 9 / 1


def test_mad_zero_falls_back_to_mean_absolute_deviation() -> None:
    z, med = modified_z(14, [10, 10, 10, 12, 8])  # MAD 0, mean AD 0.8
    assert med == 10
    assert math.isclose(z, 4 / (1.253314 * 0.8))


def test_flat_baseline_makes_any_increase_infinitely_unusual() -> None:
    assert modified_z(11, [10, 10, 10])[0] == math.inf
    assert modified_z(10, [10, 10, 10])[0] == 0.0


def test_big_tenant_spike_is_anomalous() -> None:
    v = judge(1500, [1000, 1020, 990, 1010], **GATES)
    assert v is not None and v.anomalous
    assert v.expected == 1005 and v.impact_usd == 495


def test_small_tenant_doubling_does_not_page() -> None:
    v = judge(8, [4, 4.1, 3.9, 4], **GATES)  # +100% but only $4
    assert v is not None and not v.anomalous and v.z > 3.5


def test_large_tenant_small_percentage_does_not_page() -> None:
    v = judge(10300, [10000, 10010, 9990, 10005], **GATES)  # +$300, only +3%
    assert v is not None and not v.anomalous and v.z > 3.5


def test_drops_are_not_anomalies() -> None:
    v = judge(0, [1000, 1020, 990, 1010], **GATES)
    assert v is not None and not v.anomalous


def test_too_little_history_gives_no_verdict() -> None:
    assert judge(5000, [100, 100], **GATES) is None


def test_daily_baseline_uses_the_same_weekday() -> None:
    # Weekdays cost 100, weekends 20; index 21 is a weekend day like 14, 7, 0.
    days: list[float | None] = [20.0 if i % 7 in (0, 1) else 100.0 for i in range(22)]
    assert daily_baseline(days, 21) == [20.0, 20.0, 20.0]
    v = judge(24.0, daily_baseline(days, 21), **{**GATES, "min_impact_usd": 1})
    assert v is not None and v.expected == 20.0


def test_daily_baseline_skips_unknown_days_and_falls_back_when_young() -> None:
    days: list[float | None] = [None, 10.0, 11.0, None, 12.0, 10.0, 9.0, 10.0, 11.0]
    base = daily_baseline(days, 8)
    assert None not in base and len(base) == 6  # not enough same weekdays: previous 14 days stand in


def test_hourly_baseline_separates_weekends() -> None:
    hour0 = 2 * 24  # 1970-01-03, a Saturday
    assert is_weekend_hour(hour0) and not is_weekend_hour(hour0 + 48)
    hours: list[float | None] = [1.0 if is_weekend_hour(hour0 + i) else 5.0 for i in range(24 * 15)]
    index = 24 * 14 + 10  # Saturday again
    assert is_weekend_hour(hour0 + index)
    assert set(hourly_baseline(hours, index, hour0)) == {1.0}


@given(
    st.lists(st.floats(1, 1e5, allow_nan=False), min_size=3, max_size=20),
    st.floats(0, 1e5, allow_nan=False),
    st.floats(-1e4, 1e4, allow_nan=False),
)
def test_z_does_not_depend_on_the_level(base: list[float], x: float, shift: float) -> None:
    z1, _ = modified_z(x, base)
    z2, _ = modified_z(x + shift, [b + shift for b in base])
    if math.isfinite(z1) and abs(z1) < 1e6:
        assert math.isclose(z1, z2, rel_tol=1e-6, abs_tol=1e-6)


@given(st.lists(st.floats(0, 1e5, allow_nan=False), min_size=3, max_size=20), st.floats(0, 1e5, allow_nan=False))
def test_an_anomaly_always_clears_both_gates(base: list[float], x: float) -> None:
    v = judge(x, base, **GATES)
    assert v is not None
    if v.anomalous:
        assert v.impact_usd >= 50 and v.impact_percent >= 20 and x > v.expected
