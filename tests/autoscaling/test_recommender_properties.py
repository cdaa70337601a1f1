"""Properties of the one decision path the controller and the simulator share."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config.kinds.scaling import BreakerSpec
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Tuning, recommend
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.sim.environment import run
from tenantops.sim.replay import recommender_policy

from .conftest import spec

START = datetime(2024, 1, 1, tzinfo=UTC)
loads = st.lists(st.floats(min_value=0.0, max_value=500.0, allow_nan=False), min_size=5, max_size=120)


@settings(max_examples=40, deadline=None)
@given(values=loads, lo=st.integers(0, 5), span=st.integers(0, 40),
       algorithm=st.sampled_from(["predictive", "reactive"]))
def test_replicas_always_within_bounds(values: list[float], lo: int, span: int, algorithm: str) -> None:
    tuning = Tuning.of(spec(algorithm=algorithm))
    bounds = Bounds(max(1, lo), max(1, lo) + span)
    state = WorkloadState()
    current = bounds.min_replicas
    for i, value in enumerate(values):
        now = 1_700_000_000.0 + 60 * i
        obs = Observation(now - 60, current, current, (MetricLoad("cpu", value, 0.7, 1.0),))
        current = recommend(tuning, bounds, obs, state, now).desired
        assert bounds.min_replicas <= current <= bounds.max_replicas


@settings(max_examples=25, deadline=None)
@given(level=st.floats(min_value=0.5, max_value=200.0), steps=st.integers(200, 600))
def test_constant_load_settles_without_flapping(level: float, steps: int) -> None:
    demand = np.full(steps, level)
    result = run(demand, 1.0, recommender_policy(spec(), 1.0, START))
    changes = int(np.count_nonzero(result.desired[1:] != result.provisioned[:-1]))
    # the start (load / 0.7) is walked down at most max_step_down (5) replicas a step: those steps are allowed
    descent = math.ceil(max(0.0, result.provisioned[0] - level) / BreakerSpec().max_step_down)
    assert changes <= 6 + descent
    # and once settled it covers the load without paying for much more than it needs
    assert result.ready[-1] >= math.ceil(level - 1e-9)
    assert result.provisioned[-1] <= math.ceil(level * 1.3) + 2


@settings(max_examples=20, deadline=None)
@given(values=st.lists(st.floats(min_value=0.0, max_value=300.0, allow_nan=False), min_size=20, max_size=150),
       cut=st.integers(2, 19))
def test_decisions_do_not_depend_on_the_future(values: list[float], cut: int) -> None:
    demand = np.asarray(values)
    full = run(demand, 5.0, recommender_policy(spec(), 5.0, START))
    prefix = run(demand[:cut], 5.0, recommender_policy(spec(), 5.0, START))
    assert prefix.desired.tolist() == full.desired[:cut].tolist()
    assert prefix.ready.tolist() == full.ready[:cut].tolist()


@settings(max_examples=20, deadline=None)
@given(values=loads)
def test_stored_state_round_trip_changes_nothing(values: list[float]) -> None:
    """The controller stores state as JSON between passes; the simulator keeps it in memory. Same decisions."""
    tuning = Tuning.of(spec())
    bounds = Bounds(1, 100)
    live, stored = WorkloadState(), WorkloadState().to_json()
    current_live = current_stored = 1
    for i, value in enumerate(values):
        now = 1_700_000_000.0 + 30 * i
        metric = (MetricLoad("cpu", value, 0.7, 1.0),)
        a = recommend(tuning, bounds, Observation(now, current_live, current_live, metric), live, now)
        restored = WorkloadState.from_json(json.loads(json.dumps(stored)))
        b = recommend(tuning, bounds, Observation(now, current_stored, current_stored, metric), restored, now)
        stored = b.state.to_json()
        assert (a.desired, a.rule) == (b.desired, b.rule)
        current_live, current_stored = a.desired, b.desired
