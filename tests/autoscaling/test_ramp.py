"""A steady ramp is followed smoothly, however long it lasts: the count stays within a replica or two of what
the ramp needs and never reads as saturated (docs/benchmarks.md §1 scores the same decision path).

A smooth series shrinks every margin towards the noise floor, and the decision's calibration shrinks it
further until some pass falls short. Two things then went wrong on a ramp, after a day or two: the
lagging "no change" forecaster tied with the trend-following one at the floor and decided, and the count
was planned at the bare ceiling of its cover, so the ready replicas ran at 99.9% or more of capacity. That
reading cannot be told from a capped one: demand was inferred at 1/u (32 replicas sent to 45), and the
max-step breaker walked it back down five a pass.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config.kinds.scaling import ScalingSpec
from tenantops.decide.autoscaling import forecast
from tenantops.decide.autoscaling.state import LEADS, WorkloadState
from tenantops.decide.autoscaling.workload import WorkloadDecision
from tenantops.sim.environment import run
from tenantops.sim.replay import recommender_policy

from .test_saturation import balanced

START = datetime(2024, 1, 1, tzinfo=UTC)
CAPACITY = 10.0
Counts = npt.NDArray[np.float64] | npt.NDArray[np.int64]
Decisions = list[WorkloadDecision]
WARM = 120  # minutes: the forecasters' warm-up and the first margins' settling


def follow(spec: ScalingSpec, level: float, slope: float, minutes: int) -> tuple[Counts, Counts, Decisions]:
    """The replayed counts of a ramp `level + slope * minute` (demand units, `CAPACITY` a replica), what it
    needs each minute, and every decision."""
    demand = level + slope * np.arange(minutes, dtype=np.float64)
    decisions: list[WorkloadDecision] = []
    policy = recommender_policy(spec, CAPACITY, START, on_decision=lambda t, d: decisions.append(d))
    result = run(demand, CAPACITY, policy)
    return result.desired, np.ceil(demand / CAPACITY - 1e-9), decisions


def test_a_steady_ramp_past_two_days_never_jumps_and_is_never_walked_back() -> None:
    desired, needed, decisions = follow(balanced(), 200.0, 1.0, 3600)  # 20 replicas, 0.1 more each minute
    over = desired[WARM:] - needed[WARM:]
    assert over.max() <= 2, int(np.argmax(over)) + WARM
    assert not [d.rule for d in decisions[WARM:] if d.trips], "a breaker tripped on a steady ramp"
    assert not [d.reason for d in decisions if "saturated" in d.reason]


@settings(max_examples=12, deadline=None)
@given(level=st.floats(50.0, 500.0), slope=st.floats(0.2, 2.5))
def test_any_steady_ramp_is_followed_within_its_lead_of_its_need(level: float, slope: float) -> None:
    desired, needed, decisions = follow(balanced(), level, slope, 3200)
    lead = math.ceil(3 * slope / CAPACITY)  # what the ramp adds over the provisioning lead, in replicas
    over = desired[WARM:] - needed[WARM:]
    assert over.max() <= 2 + lead, (int(np.argmax(over)) + WARM, int(over.max()))
    assert (desired[WARM:] >= needed[WARM:]).all()  # and never short of it
    assert not [d.reason for d in decisions if "saturated" in d.reason]

def test_margins_that_tie_at_the_noise_floor_go_to_the_forecaster_with_the_smaller_error() -> None:
    state = WorkloadState()
    far = LEADS - 1
    state.err[forecast.NAIVE * LEADS + far] = 0.01  # both below the floor, so their margins are equal
    state.err[forecast.FAST * LEADS + far] = 0.001
    units = forecast.margins(state, forecast.ForecastParams())
    assert units[forecast.NAIVE * LEADS + far] == units[forecast.FAST * LEADS + far]
    assert forecast.best(state, units) == forecast.FAST

