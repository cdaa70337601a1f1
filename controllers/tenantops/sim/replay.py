"""Driving the production decision (`decide.autoscaling.workload.decide_workload`) through the simulated cluster.

The trace is the workload's only signal, and it arrives as a live controller would measure it: the served
load over the capacity of one replica is a utilisation metric whose request is that capacity (never above
1.0 per ready replica: a saturated replica's CPU stops there), scaled at the policy's own utilisation
target (its first utilisation metric; 0.7 when it has none). The live count is the provisioned one, the
ready count is the ready one. Everything else (algorithm, margins, behaviour, windows, breakers, bounds)
comes from the named policies unchanged; nothing here decides. Every write of the replay is applied, so
each change the decision proposes settles as a scale event at once (`behavior.settle`), as the engine
settles it from an applied outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tenantops.config.kinds.scaling import BreakerSpec, ScalingSpec
from tenantops.decide.autoscaling.behavior import settle
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Tuning
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.decide.autoscaling.workload import Guards, WorkloadDecision, decide_workload
from tenantops.sim.environment import MAX_REPLICAS, MIN_REPLICAS, Policy

DEFAULT_TARGET = 0.7


def signal_metric(spec: ScalingSpec) -> tuple[float, float]:
    """(target, capacity) of the utilisation metric the trace stands for."""
    for metric in spec.metrics:
        if metric.type == "utilization":
            return metric.target, metric.capacity_or_default()
    return DEFAULT_TARGET, 1.0


def recommender_policy(
    spec: ScalingSpec,
    capacity: float,
    start: datetime,
    step_seconds: int = 60,
    min_replicas: int = MIN_REPLICAS,
    max_replicas: int = MAX_REPLICAS,
    breakers: BreakerSpec | None = None,
    on_decision: Callable[[int, WorkloadDecision], None] | None = None,
) -> Policy:
    """The project's per-workload decision as a policy callable for `environment.run` (one state, kept
    across steps). `breakers` defaults to the `BreakerPolicy` defaults."""
    tuning = Tuning.of(spec)
    guards = Guards.of(breakers if breakers is not None else BreakerSpec())
    target, unit_capacity = signal_metric(spec)
    bounds = Bounds(min_replicas, max_replicas)
    state = WorkloadState()
    origin = start.timestamp()

    def decide(t: int, served: float, ready: int, current: int) -> int:
        now = origin + t * step_seconds
        metric = MetricLoad("demand", served / capacity * unit_capacity, target, unit_capacity)
        obs = Observation(at=now - step_seconds, current=current, ready=ready, metrics=(metric,))
        nonlocal state
        result = decide_workload(tuning, bounds, guards, obs, (), state, now)
        if result.desired != current:  # every write of the replay is applied: its change is a scale event
            state = settle(state, now, result.desired - current)
        if on_decision is not None:
            on_decision(t, result)
        return result.desired

    return decide
