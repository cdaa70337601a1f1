"""The Kubernetes HPA's replica calculation, so that a tier can ask for exactly the behaviour it knows.

Per metric the ratio is the observed value over the target (utilisation of the request, or value per
replica) measured over ready replicas; inside the tolerance the count stays, outside it becomes
ceil(ratio x ready). Several metrics: the largest recommendation wins (autoscaling/v2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricLoad:
    """One metric for one workload: `load` is the total in units of one replica's request (utilisation
    metrics) or in the metric's own unit (per-replica metrics); `target` is per replica in the same unit."""

    metric: str
    load: float
    target: float
    capacity: float  # per replica, same unit: what one replica serves before the SLO breaks


def metric_recommendation(load: float, target: float, ready: int, current: int, tolerance: float) -> int:
    """One metric's HPA recommendation."""
    if ready <= 0:
        # No ready replica to average over: the HPA cannot compute a ratio; ask for what the load needs.
        return max(current, math.ceil(load / target - 1e-9)) if load > 0 else current
    ratio = load / (ready * target)
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(ratio * ready - 1e-9)


def hpa_recommendation(metrics: Sequence[MetricLoad], ready: int, current: int, tolerance: float) -> tuple[int, str]:
    """The largest per-metric recommendation and the metric that gave it."""
    best, name = -1, ""
    for m in metrics:
        rec = metric_recommendation(m.load, m.target, ready, current, tolerance)
        if rec > best:
            best, name = rec, m.metric
    return (best, name) if best >= 0 else (current, "")
