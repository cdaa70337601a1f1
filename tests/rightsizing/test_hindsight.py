"""Hindsight bounds (docs/benchmarks.md §2): the least-waste plan within the budget, checked by brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.rightsizing.backtest import backtest, interpolate_slack
from tenantops.decide.rightsizing.hindsight import least_waste

from .helpers import DAY, cpu_params, day_night, times

MIDNIGHT = 1_700_006_400.0


def _waste(values: np.ndarray, requests: np.ndarray) -> float:
    return float(np.maximum(0.0, requests - values).sum())


def _every_plan(values: np.ndarray, groups: np.ndarray) -> list[np.ndarray]:
    """Every plan with one request per group among that group's own values."""
    keys = sorted(set(groups.tolist()))
    options = [sorted(set(values[groups == k].tolist())) for k in keys]
    return [np.array([combo[keys.index(g)] for g in groups.tolist()]) for combo in itertools.product(*options)]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), min_size=1, max_size=8),
    st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.5]),
)
def test_no_plan_of_the_shape_wastes_less_at_the_same_risk(samples: list[tuple[int, int]], budget: float) -> None:
    values = np.array([float(v) / 10 for v, _ in samples])
    groups = np.array([g for _, g in samples], dtype=np.int64)
    requests = least_waste(values, groups, budget)
    overrun = float(np.mean(values > requests))
    assert overrun <= budget + 1e-12
    for g in set(groups.tolist()):  # one request per group
        assert len(set(requests[groups == g].tolist())) == 1
    rivals = [p for p in _every_plan(values, groups) if np.mean(values > p) <= overrun + 1e-12]
    assert _waste(values, requests) <= min(_waste(values, p) for p in rivals) + 1e-9


def test_without_budget_each_group_gets_its_own_peak() -> None:
    values = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    groups = np.array([0, 0, 1, 1, 1], dtype=np.int64)
    assert least_waste(values, groups, 0.0).tolist() == [3.0, 3.0, 5.0, 5.0, 5.0]


def test_the_budget_is_spent_where_it_saves_most() -> None:
    # Group 0 has one spike far above the rest, group 1 a small one: one overrun in five is allowed
    # and goes to the spike, which saves the most waste.
    values = np.array([1.0, 1.0, 9.0, 2.0, 2.5])
    groups = np.array([0, 0, 0, 1, 1], dtype=np.int64)
    assert least_waste(values, groups, 0.2).tolist() == [1.0, 1.0, 1.0, 2.5, 2.5]


def test_backtest_shows_the_three_shapes_within_the_budget() -> None:
    t = times(5, end=MIDNIGHT + 5 * DAY)
    v = day_night(t, 4.0, 1.0) * np.random.default_rng(5).uniform(0.8, 1.0, t.size)
    result = backtest("day-night", t, v, cpu_params(minimum=0.0))
    bounds = {b.shape: b.score for b in result.hindsight}
    assert list(bounds) == ["flat per day", "one daily schedule", "schedule per day"]
    assert all(s.overrun_rate <= result.overrun_budget for s in bounds.values())
    # A schedule that follows the clock wastes far less than any flat request here.
    assert bounds["one daily schedule"].slack < bounds["flat per day"].slack / 2
    assert bounds["schedule per day"].slack <= bounds["one daily schedule"].slack + 1e-9
    per_day = result.hindsight[2]
    reference = interpolate_slack(result.vpa, per_day.score.overrun_rate)[0]
    assert per_day.slack_vs_vpa == pytest.approx(per_day.score.slack / reference)
