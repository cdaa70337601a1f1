"""Damping after estimation, as the HPA's `behavior`: stabilisation windows, then rate limits per period.

Stabilisation keeps the recommendations of the window; scaling down goes only as low as the highest
of them, scaling up only as high as the lowest, so one noisy pass cannot move replicas. Rate limits cap
how many replicas a period may add or remove: the most permissive of the pod and percent rules, counted
from the replica count at the start of the period (events of the period are remembered).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tenantops.decide.autoscaling.state import WorkloadState


@dataclass(frozen=True, slots=True)
class Limits:
    stabilization_seconds: float
    max_pods: int | None
    max_percent: float | None
    period_seconds: float


def stabilize(state: WorkloadState, recommendation: int, current: int, now: float, up: Limits, down: Limits) -> int:
    """HPA `stabilizeRecommendationWithBehaviors`; records `recommendation` in the state."""
    up_cutoff = now - up.stabilization_seconds
    down_cutoff = now - down.stabilization_seconds
    up_rec = down_rec = recommendation
    for at, rec in state.recommendations:
        if at > up_cutoff and rec < up_rec:
            up_rec = int(rec)
        if at > down_cutoff and rec > down_rec:
            down_rec = int(rec)
    keep_after = min(up_cutoff, down_cutoff)
    state.recommendations = [r for r in state.recommendations if r[0] > keep_after]
    state.recommendations.append([now, float(recommendation)])
    result = current
    if result < up_rec:
        result = up_rec
    if result > down_rec:
        result = down_rec
    return result


def rate_limit(state: WorkloadState, desired: int, current: int, now: float, up: Limits, down: Limits) -> int:
    """Cap the change by the scale-up/scale-down policies. The change is remembered only once it is final
    (`record_scale`): a change that bounds, caps or breakers stop later is not a scale event."""
    horizon = max(up.period_seconds, down.period_seconds)
    state.events = [e for e in state.events if e[0] > now - horizon]
    if desired > current:
        added = sum(e[1] for e in state.events if e[1] > 0 and e[0] > now - up.period_seconds)
        start = current - int(added)
        limits = []
        if up.max_pods is not None:
            limits.append(start + up.max_pods)
        if up.max_percent is not None:
            limits.append(math.ceil(start * (1.0 + up.max_percent / 100.0)))
        if limits:
            desired = min(desired, max(max(limits), current))
    elif desired < current:
        removed = -sum(e[1] for e in state.events if e[1] < 0 and e[0] > now - down.period_seconds)
        start = current + int(removed)
        limits = []
        if down.max_pods is not None:
            limits.append(start - down.max_pods)
        if down.max_percent is not None:
            limits.append(math.floor(start * (1.0 - down.max_percent / 100.0)))
        if limits:
            desired = max(desired, min(min(limits), current))
    return desired


def record_scale(state: WorkloadState, now: float, current: int, desired: int) -> None:
    """Remember a change actually asked for, for the rate limits of the periods that contain `now`."""
    if desired != current:
        state.events.append([now, float(desired - current)])
