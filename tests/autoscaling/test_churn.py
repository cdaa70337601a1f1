"""Churn the workload has shown widens the band: a count that keeps reversing is following noise, and a wider
band buys far fewer, larger steps; a count moving one way does not widen it, and scale-up is never held."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantops.config.kinds.scaling import ScalingSpec
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import (
    CHURN_SHARE,
    CHURN_STEP,
    MAX_CHURN,
    Bounds,
    Observation,
    Tuning,
    churn_band,
    learn_churn,
    recommend,
)
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.decide.autoscaling.workload import Guards, decide_workload
from tenantops.sim.environment import run
from tenantops.sim.replay import recommender_policy
from tenantops.sim.score import oracle_cost, score

from .conftest import spec

START = datetime(2024, 1, 1, tzinfo=UTC)
T0 = 1_700_000_000.0
DEFAULT_WINDOW = {"stabilization_seconds": 300, "max_percent": 100, "period_seconds": 15}


def policy(reversals_per_hour: float, band: float = 1.0) -> ScalingSpec:
    return spec(scale_down=DEFAULT_WINDOW, predictive={"reversals_per_hour": reversals_per_hour, "band": band})


def held_noise(days: float = 4.0, seed: int = 7) -> np.ndarray:
    """A Borg-cell-like series: a slow daily swing with sample noise, recorded every 5 minutes and held."""
    rng = np.random.default_rng(seed)
    samples = int(days * 288)
    t = np.arange(samples)
    level = 250 + 40 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 7.0, samples)
    return np.repeat(level, 5)


def test_noise_that_keeps_reversing_the_count_buys_far_fewer_steps_for_a_little_cost() -> None:
    # Half the default band, so that a fixed band keeps reversing the count on this series: at the default band
    # the margins here are steady enough that it moves about once an hour without widening.
    demand, capacity = held_noise(), 10.0
    fixed = run(demand, capacity, recommender_policy(policy(0.0, band=0.5), capacity, START))
    adaptive = run(demand, capacity, recommender_policy(policy(0.5, band=0.5), capacity, START))
    a, b = score(demand, capacity, fixed), score(demand, capacity, adaptive)
    assert b.actions < 0.75 * a.actions
    assert b.cost < 1.03 * a.cost
    assert b.violation_rate <= a.violation_rate + 0.002


def test_a_count_moving_one_way_does_not_widen_the_band() -> None:
    minutes = np.arange(3600, dtype=np.float64)  # past two days, where the margins reach the noise floor
    demand = 20.0 + 0.1 * minutes  # a steady ramp: every step of the count is up
    capacity = 10.0
    seen: list[float] = []
    adaptive = recommender_policy(policy(0.5), capacity, START, on_decision=lambda t, d: seen.append(
        d.recommendation.state.churn))
    fixed = run(demand, capacity, recommender_policy(policy(0.0), capacity, START))
    assert run(demand, capacity, adaptive).desired.tolist() == fixed.desired.tolist()
    assert max(seen[60:]) == 0.0  # past the warm-up's first moves, every change is up


def test_a_reversal_raises_the_factor_and_calm_passes_lower_it_within_bounds() -> None:
    tuning = Tuning.of(policy(0.5))
    state = WorkloadState()
    learn_churn(tuning, state, +2, 60.0)  # the first change reverses nothing
    assert state.churn == 0.0 and state.direction == 1
    learn_churn(tuning, state, +1, 60.0)  # nor does a second one the same way
    assert state.churn == 0.0
    learn_churn(tuning, state, -2, 60.0)
    raised = state.churn
    assert raised == pytest.approx(CHURN_STEP * (1 - 0.5 / 60))
    for _ in range(30):
        learn_churn(tuning, state, 0, 60.0)  # half an hour without a change
    assert state.churn == pytest.approx(raised - 30 * CHURN_STEP * 0.5 / 60)
    for i in range(200):
        learn_churn(tuning, state, 1 if i % 2 else -1, 60.0)
    assert state.churn == MAX_CHURN
    for _ in range(10 * 60 * 60):
        learn_churn(tuning, state, 0, 60.0)
    assert state.churn == 0.0


@pytest.mark.parametrize("overrides", [{"predictive": {"reversals_per_hour": 0.0}}, {"algorithm": "reactive"}])
def test_without_a_reversal_allowance_or_a_forecast_the_band_never_widens(overrides: dict[str, object]) -> None:
    tuning = Tuning.of(spec(**overrides))
    state = WorkloadState()
    for i in range(50):
        learn_churn(tuning, state, 1 if i % 2 else -1, 60.0)
    assert state.churn == 0.0


def test_a_widened_band_never_holds_a_scale_up() -> None:
    tuning = Tuning.of(policy(0.5))
    bounds = Bounds(1, 200)
    state, current = WorkloadState(), 10
    rng = np.random.default_rng(3)
    for i in range(600):
        now = T0 + 60 * i
        value = 6.0 + float(rng.normal(0, 0.3)) + (30.0 if i >= 590 else 0.0)
        state.churn = MAX_CHURN  # as wide as churn ever makes it
        obs = Observation(now - 60, current, current, (MetricLoad("cpu", value * 0.7, 0.7, 1.0),))
        rec = recommend(tuning, bounds, obs, state, now)
        assert rec.estimate is not None
        if rec.estimate > current:
            assert rec.desired >= min(rec.estimate, bounds.max_replicas)
        current = rec.desired
    assert current > 36  # the jump was followed at once


def test_calm_passes_without_a_usable_metric_lower_the_factor_by_their_own_length() -> None:
    tuning = Tuning.of(policy(0.5))
    state = WorkloadState(decided_at=T0, churn=0.5)
    guards = Guards(max_step_up=20, max_step_down=5)
    for i in range(1, 4):  # a pass every five minutes, none of them with a reading
        now = T0 + 300 * i
        decision = decide_workload(tuning, Bounds(1, 50), guards, Observation(now - 300, 8, 8, ()), ("cpu",),
                                   state, now)
        assert decision.desired == 8
    assert state.churn == pytest.approx(0.5 - 3 * CHURN_STEP * 0.5 * 300 / 3600)


@given(st.floats(0.0, 10.0), st.floats(0.0, MAX_CHURN), st.integers(0, 1000))
def test_churn_widens_the_band_by_at_most_a_share_of_the_safe_count(band: float, churn: float, wanted: int) -> None:
    widened = churn_band(band, churn, wanted)
    assert band <= widened <= band * math.exp(churn) + 1e-9
    assert widened <= band + CHURN_SHARE * wanted + 1e-9
    if band * math.expm1(churn) <= CHURN_SHARE * wanted - 1e-9:  # a large count: the full widening
        assert widened == pytest.approx(band * math.exp(churn))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_few_replicas_of_poisson_demand_do_not_churn_into_a_wider_band(seed: int) -> None:
    """Two requests a minute against three per replica: a safe count of 2 or 3, where a band widened just past
    2 replicas set every step one replica higher and reversed as it narrowed again (3.2x the oracle on seed 1
    with the widening bounded only by `MAX_CHURN`). The same check as the forecast's low-count test, on more
    draws of the noise."""
    rng = np.random.default_rng(seed)
    demand = rng.poisson(2.0, 3000).astype(np.float64)
    capacity = 3.0
    result = run(demand, capacity, recommender_policy(spec(), capacity, START))
    figures = score(demand, capacity, result)
    assert figures.cost < 3.0 * oracle_cost(demand, capacity)
    assert figures.violation_rate < 0.02
