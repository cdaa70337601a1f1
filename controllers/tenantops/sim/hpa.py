"""The baseline: the Kubernetes HPA algorithm (autoscaling/v2 defaults) on the simulated environment.

Kept independent of `tenantops.decide.autoscaling` on purpose: a baseline that shares code with the
policy it judges could share its mistakes. It follows the controller's order of operations
(`replica_calculator.go` then `horizontal.go`): ratio over ready replicas with a tolerance, scale-down
stabilisation as the maximum of the window's recommendations, then the default scale-up rate limits
(the larger of +4 pods and +100% per 15 s period; one decision per 60 s step, so each step starts a
fresh period).
"""

from __future__ import annotations

import math
from collections import deque

from tenantops.sim.environment import MAX_REPLICAS, MIN_REPLICAS, Policy

TARGETS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TOLERANCE = 0.1
DOWN_WINDOW_SECONDS = 300


def hpa_policy(
    target: float,
    capacity: float,
    step_seconds: int = 60,
    tolerance: float = TOLERANCE,
    down_window_seconds: int = DOWN_WINDOW_SECONDS,
    min_replicas: int = MIN_REPLICAS,
    max_replicas: int = MAX_REPLICAS,
) -> Policy:
    """An HPA at utilisation target `target`, as a policy callable for `environment.run`."""
    window = max(1, math.ceil(down_window_seconds / step_seconds))  # recommendations newer than now - 300 s
    history: deque[int] = deque(maxlen=window - 1) if window > 1 else deque(maxlen=0)

    def decide(t: int, served: float, ready: int, current: int) -> int:
        utilisation = served / (ready * capacity) if ready > 0 else math.inf
        ratio = utilisation / target
        if ready > 0 and abs(ratio - 1.0) <= tolerance:
            recommendation = current
        elif ready > 0:
            recommendation = math.ceil(ratio * ready)
        else:
            recommendation = current
        recommendation = min(max_replicas, max(min_replicas, recommendation))
        stabilised = max(recommendation, max(history, default=recommendation))
        history.append(recommendation)
        desired = recommendation if recommendation > current else min(current, stabilised)
        if desired > current:
            desired = min(desired, max(current + 4, 2 * current), max_replicas)
        return max(min_replicas, desired)

    return decide
