"""Commitments: the newsvendor rule minimises cost, the rule of thumb is the 30-day minimum."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.capacity import commitments as c

usage = st.lists(st.integers(min_value=0, max_value=40).map(float), min_size=24, max_size=400)


@settings(max_examples=80, deadline=None)
@given(usage, st.floats(min_value=0.2, max_value=0.95))
def test_the_chosen_commitment_costs_no_more_than_any_other_whole_commitment(hours: list[float], ratio: float) -> None:
    od = 0.1
    rs = od * ratio
    chosen = c.optimal_commitment(hours, od, rs)
    best = min(c.cost_with(hours, k, od, rs).total_usd for k in range(0, int(max(hours)) + 2))
    assert c.cost_with(hours, chosen, od, rs).total_usd <= best + 1e-9


def test_steady_usage_is_committed_in_full_and_nothing_is_unused() -> None:
    advice = c.advise("us-east-1", "m6i.large", [6.0] * 336, 1.0, 0.096, 0.060, 1)
    assert advice.units == 6 and advice.expected_unused_share == 0
    assert advice.expected_saving_usd_month > 0 and advice.family == "m6i"
    assert abs(advice.break_even_utilisation - 0.625) < 1e-9


def test_no_commitment_when_reserved_is_not_cheaper() -> None:
    assert c.optimal_commitment([5.0] * 100, 0.1, 0.1) == 0


def test_rule_of_thumb_is_the_minimum_of_the_last_30_days() -> None:
    hours = [1.0] * 24 + [5.0] * (30 * 24)
    assert c.rule_of_thumb(hours) == 5.0
    assert c.rule_of_thumb([3.0, 2.0, 4.0]) == 2.0


def test_expected_usage_repeats_the_week_and_follows_the_trend() -> None:
    week = [float(h % 168 // 24) for h in range(168)]  # the day of the week as the usage
    out = c.expected_usage(week * 4, 2.0, 168)
    assert out == [2 * v for v in week]


def test_spot_saving_uses_the_price_ratio() -> None:
    assert c.spot_saving(100.0, 0.1, 0.03) == 70.0
    assert c.spot_saving(100.0, 0.1, None) == 0.0
