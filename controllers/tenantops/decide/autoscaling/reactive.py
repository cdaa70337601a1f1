"""The Kubernetes HPA's replica calculation (`replica_calculator.go`), so a tier can ask for exactly the behaviour
it knows.

Per metric, by target type: `utilization` is usage over request averaged over ready replicas, as a whole
percent (`GetResourceUtilizationRatio`); `per_replica` is a total averaged over ready replicas
(`GetMetricReplicas`); `value` is one number held at the target, its ratio applied to the ready count
(`GetObjectMetricReplicas` / `GetExternalMetricReplicas`); `average_value` is a total over the current
count (`GetObjectPerPodMetricReplicas` / `GetExternalPerPodMetricReplicas`). Inside the tolerance band
[1 - down, 1 + up] the count stays (KEP-4951 separate tolerances). Several metrics: the largest
recommendation wins (autoscaling/v2).

Workload-level only: pods without a metric, unready pods counted at 0% on scale-up and the CPU
initialisation period need per-pod series, which the controller does not collect; the ready count it
reads stands for the pods that reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class MetricLoad:
    """One metric for one workload: `load` is the total in units of one replica's request (utilisation
    metrics) or in the metric's own unit (the others); `target` is per replica in the same unit (the value
    itself for `value` targets)."""

    metric: str
    load: float
    target: float
    capacity: float  # per replica, same unit: what one replica serves before the SLO breaks
    kind: str = "utilization"  # utilization | per_replica | value | average_value
    # Per replica, same unit: where the reading itself stops (None: at `capacity`). A pod whose CPU limit is
    # above its request serves past 100% of its request, so its utilisation stops at limit/request instead.
    ceiling: float | None = None


def within(ratio: float, tolerance_down: float, tolerance_up: float) -> bool:
    """`Tolerances.isWithin`: no change while the usage ratio is inside [1 - down, 1 + up]."""
    return 1.0 - tolerance_down <= ratio <= 1.0 + tolerance_up


def metric_recommendation(m: MetricLoad, ready: int, current: int, tolerance_down: float,
                          tolerance_up: float) -> int:
    """One metric's HPA recommendation."""
    if m.kind == "average_value":
        if current > 0 and within(m.load / (m.target * current), tolerance_down, tolerance_up):
            return current
        return math.ceil(m.load / m.target - EPS)
    if m.kind == "value":
        ratio = m.load / m.target
        if current <= 0:
            return math.ceil(ratio - EPS)  # scale from zero to what the ratio asks
        if within(ratio, tolerance_down, tolerance_up):
            return current
        return math.ceil(ratio * ready - EPS)
    if ready <= 0:
        # No ready replica to average over: the HPA cannot compute a ratio; ask for what the load needs.
        return max(current, math.ceil(m.load / m.target - EPS)) if m.load > 0 else current
    if m.kind == "utilization":
        percent = math.floor(100.0 * m.load / ready + EPS)  # the HPA's whole percent of requests
        ratio = percent / round(100.0 * m.target)
    else:
        ratio = m.load / (ready * m.target)
    if within(ratio, tolerance_down, tolerance_up):
        return current
    return math.ceil(ratio * ready - EPS)


def hpa_recommendation(metrics: Sequence[MetricLoad], ready: int, current: int, tolerance_down: float,
                       tolerance_up: float) -> tuple[int, str]:
    """The largest per-metric recommendation and the metric that gave it."""
    best, name = -1, ""
    for m in metrics:
        rec = metric_recommendation(m, ready, current, tolerance_down, tolerance_up)
        if rec > best:
            best, name = rec, m.metric
    return (best, name) if best >= 0 else (current, "")
