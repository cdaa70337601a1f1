"""Coarse sources: a series sampled every few decision intervals and interpolated in between."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.autoscaling import forecast, segments
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Tuning, recommend
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.sim.environment import run
from tenantops.sim.replay import recommender_policy

from .conftest import spec

START = datetime(2024, 1, 1, tzinfo=UTC)
T0 = 1_700_000_040.0
PARAMS = forecast.ForecastParams()


def coarse(samples: list[float] | np.ndarray, every: int) -> np.ndarray:
    """What docs/benchmarks.md's resampling makes of a source sampled every `every` steps: linear in between."""
    knots = np.arange(len(samples)) * every
    return np.interp(np.arange(knots[-1] + 1), knots, np.asarray(samples, dtype=np.float64))


def feed(values: np.ndarray, step: float = 60.0) -> WorkloadState:
    state = WorkloadState()
    for i, value in enumerate(values.tolist()):
        forecast.observe(state, value, T0 + step * i, PARAMS)
    return state


def random_walk(n: int, seed: int, level: float = 20.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.maximum(0.5, level + np.cumsum(rng.normal(0.0, 2.0, n)))


def test_learns_the_period_and_phase_of_an_interpolated_source() -> None:
    state = feed(coarse(random_walk(60, 1), 5))
    assert state.period == 300.0
    assert segments.active(state)
    assert state.knot_at is not None and (state.knot_at - T0) % 300.0 == 0.0


def test_a_series_that_changes_every_minute_has_no_period() -> None:
    state = feed(random_walk(400, 2))
    assert not segments.active(state)


def test_a_held_source_is_not_mistaken_for_an_interpolated_one() -> None:
    held = np.repeat(random_walk(60, 3), 5)  # steps, not ramps: slope changes twice per sample
    state = feed(held)
    assert not segments.active(state)


def test_forecast_inside_the_current_segment_is_exact() -> None:
    values = coarse(random_walk(41, 4), 5)
    for seen in (153, 154, 152):  # one, two and three observations into a segment
        state = feed(values[:seen + 1])
        assert segments.active(state)
        last = T0 + 60.0 * seen
        next_sample = (seen // 5 + 1) * 5
        for ahead in range(1, next_sample - seen + 1):
            value, bucket = segments.point(state, last + 60.0 * ahead)
            assert bucket == 0
            assert math.isclose(value, values[seen + ahead], rel_tol=1e-9, abs_tol=1e-9)
        _, beyond = segments.point(state, last + 60.0 * (next_sample - seen + 1))
        assert beyond == 1


def test_at_a_source_sample_the_next_slope_is_unknown() -> None:
    values = coarse(random_walk(41, 5), 5)
    state = feed(values[:151])  # the newest observation is a source sample
    _, bucket = segments.point(state, T0 + 60.0 * 151)
    assert bucket == 1


def test_learns_whether_slopes_carry_on_or_turn_back() -> None:
    trend = feed(coarse(np.linspace(5.0, 50.0, 80) + np.tile([0.0, 0.3], 40), 5))
    saw = feed(coarse(np.tile([10.0, 20.0], 40), 5))
    assert segments.continuation(trend) > 0.5
    assert segments.continuation(saw) < -0.9


def test_a_regular_sawtooth_is_served_exactly_once_learnt() -> None:
    demand = coarse(np.tile([10.0, 20.0], 120), 5)
    result = run(demand, 1.0, recommender_policy(spec(), 1.0, START))
    half = len(demand) // 2
    served = result.ready[half:] >= np.ceil(demand[half:] - 1e-9)
    assert served.all()
    # and it pays for little more than the most it will need before new replicas could be ready
    need = np.array([math.ceil(demand[t:t + 3].max() - 1e-9) for t in range(half, len(demand))])
    assert (result.provisioned[half:] <= need + 1).mean() > 0.95


def test_the_scale_down_window_does_not_hold_a_segment_forecast() -> None:
    tuning = Tuning.of(spec(scale_down={"stabilization_seconds": 300, "max_percent": 100, "period_seconds": 15}))
    values = coarse(np.concatenate([random_walk(40, 6, 40.0), np.linspace(40.0, 4.0, 10)]), 5)
    state, current = WorkloadState(), 40
    rules = []
    for i, value in enumerate(values.tolist()):
        now = T0 + 60.0 * (i + 1)
        obs = Observation(now - 60.0, current, current, (MetricLoad("cpu", value * 0.7, 0.7, 1.0),))
        result = recommend(tuning, Bounds(1, 200), obs, state, now)
        rules.append(result.reason)
        current = result.desired
    assert "source sampled every 300s" in rules[-1]
    # a falling ramp is followed down as it goes, not five minutes late
    assert current <= math.ceil(values[-1]) + 3


coarse_loads = st.tuples(
    st.lists(st.floats(min_value=0.0, max_value=300.0, allow_nan=False), min_size=8, max_size=40),
    st.integers(2, 8),
)


@settings(max_examples=25, deadline=None)
@given(load=coarse_loads, lo=st.integers(1, 5), span=st.integers(0, 60))
def test_replicas_stay_within_bounds_on_coarse_sources(load: tuple[list[float], int], lo: int, span: int) -> None:
    samples, every = load
    result = run(coarse(samples, every), 2.0, recommender_policy(spec(), 2.0, START, min_replicas=lo,
                                                                 max_replicas=lo + span))
    assert result.desired[1:].min() >= lo and result.desired.max() <= max(lo + span, result.desired[0])


@settings(max_examples=20, deadline=None)
@given(load=coarse_loads, cut=st.integers(10, 60))
def test_coarse_decisions_do_not_depend_on_the_future(load: tuple[list[float], int], cut: int) -> None:
    demand = coarse(*load)
    cut = min(cut, len(demand) - 1)
    full = run(demand, 5.0, recommender_policy(spec(), 5.0, START))
    prefix = run(demand[:cut], 5.0, recommender_policy(spec(), 5.0, START))
    assert prefix.desired.tolist() == full.desired[:cut].tolist()


@settings(max_examples=20, deadline=None)
@given(load=coarse_loads)
def test_stored_state_round_trip_on_coarse_sources(load: tuple[list[float], int]) -> None:
    tuning = Tuning.of(spec())
    bounds = Bounds(1, 300)
    live, stored = WorkloadState(), WorkloadState().to_json()
    current_live = current_stored = 1
    for i, value in enumerate(coarse(*load).tolist()):
        now = T0 + 60.0 * i
        metric = (MetricLoad("cpu", value, 0.7, 1.0),)
        a = recommend(tuning, bounds, Observation(now - 60, current_live, current_live, metric), live, now)
        restored = WorkloadState.from_json(json.loads(json.dumps(stored)))
        b = recommend(tuning, bounds, Observation(now - 60, current_stored, current_stored, metric), restored, now)
        stored = b.state.to_json()
        assert (a.desired, a.reason) == (b.desired, b.reason)
        current_live, current_stored = a.desired, b.desired
    assert live.to_json() == WorkloadState.from_json(stored).to_json()


def test_a_period_shorter_than_the_start_up_lead_is_left_to_the_general_forecasters() -> None:
    """Replicas asked for now serve 3 minutes after the newest observation: a 2-minute source leaves
    nearly every forecast past its next sample, where the segment model knows nothing extra."""
    tuning = Tuning.of(spec())
    reasons = {}
    for every in (2, 5):
        state, current = WorkloadState(), 10
        for i, value in enumerate(coarse(random_walk(120, 7), every).tolist()):
            now = T0 + 60.0 * (i + 1)
            obs = Observation(now - 60.0, current, current, (MetricLoad("cpu", value * 0.7, 0.7, 1.0),))
            result = recommend(tuning, Bounds(1, 200), obs, state, now)
            current = result.desired
        assert state.period == 60.0 * every
        reasons[every] = result.reason
    assert "source sampled" not in reasons[2]
    assert "source sampled every 300s" in reasons[5]


@settings(max_examples=40, deadline=None)
@given(samples=st.lists(st.tuples(st.sampled_from([0.0, 1.0, 30.0, 60.0, 60.0, 60.0, 300.0, 7200.0]),
                                  st.floats(min_value=0.0, max_value=1e9, allow_nan=False)), min_size=3, max_size=200),
       every=st.integers(2, 12))
def test_irregular_clocks_and_extreme_values_never_break_a_decision(
    samples: list[tuple[float, float]], every: int
) -> None:
    """Passes that repeat, stall for hours or come early; values from zero to a billion; a coarse source
    underneath part of the time. Every decision is a count within bounds and the state stays storable."""
    tuning = Tuning.of(spec())
    state, current, now = WorkloadState(), 1, T0
    ramp = coarse([v for _, v in samples[: max(2, len(samples) // every)]], every).tolist()
    for i, (gap, value) in enumerate(samples):
        now += gap
        load = ramp[i] if i < len(ramp) and i % 3 else value
        obs = Observation(now - 60.0, current, current, (MetricLoad("cpu", load, 0.7, 1.0),))
        result = recommend(tuning, Bounds(1, 1000), obs, state, now)
        assert 1 <= result.desired <= 1000
        current = result.desired
        assert WorkloadState.from_json(json.loads(json.dumps(state.to_json()))).to_json() == state.to_json()


def test_state_stored_before_coarse_sources_were_recognised_is_kept() -> None:
    state = feed(random_walk(50, 8))
    stored = state.to_json()
    old = {k: v for k, v in stored.items()
           if k not in ("stp", "knot", "gaps", "per", "smae", "sq", "sn", "spend", "scov", "svar")}
    old["v"] = 1
    restored = WorkloadState.from_json(old)
    assert restored.count == state.count and restored.recommendations == state.recommendations
    assert restored.level == state.level and restored.period == 0.0 and restored.knot_at is None
    assert WorkloadState.from_json({**old, "v": 99}).count == 0
