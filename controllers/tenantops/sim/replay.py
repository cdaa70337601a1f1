"""Driving the real autoscaling recommender through the simulated environment.

The trace is the workload's only signal: demand over the capacity of one replica is a utilisation metric
whose request is that capacity, scaled at the policy's own utilisation target (its first utilisation
metric; 0.7 when it has none) and capacity. Everything else (algorithm, margins, behaviour, windows)
comes from the named policy unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tenantops.config.kinds.scaling import ScalingSpec
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Recommendation, Tuning, recommend
from tenantops.decide.autoscaling.state import WorkloadState
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
    on_decision: Callable[[int, Recommendation], None] | None = None,
) -> Policy:
    """The project's recommender as a policy callable for `environment.run` (one state, kept across steps)."""
    tuning = Tuning.of(spec)
    target, unit_capacity = signal_metric(spec)
    bounds = Bounds(min_replicas, max_replicas)
    state = WorkloadState()
    origin = start.timestamp()

    def decide(t: int, demand: float, ready: int, current: int) -> int:
        now = origin + t * step_seconds
        metric = MetricLoad("demand", demand / capacity, target, unit_capacity)
        obs = Observation(at=now - step_seconds, current=current, ready=ready, metrics=(metric,))
        result = recommend(tuning, bounds, obs, state, now)
        if on_decision is not None:
            on_decision(t, result)
        return result.desired

    return decide
