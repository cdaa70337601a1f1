"""The simulated cluster of docs/benchmarks.md §1: replicas that take `S` steps to start, billed from the request.

Every policy (ours and the HPA baseline) is driven through `run`, which hands it only the previous step's
observation, and only what a live controller measures: the load actually served, min(D, R x C) (a saturated
replica's CPU and request rate stop at its capacity; the rest queues or fails), and the ready and provisioned
counts. Demand beyond capacity is never shown: a policy must infer it. The policy keeps whatever memory it
needs itself, so no decision can see data after its step: the future of the trace is simply never passed in.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

STARTUP_STEPS = 2
MIN_REPLICAS = 1
MAX_REPLICAS = 1000

Policy = Callable[[int, float, int, int], int]
"""`policy(t, O[t-1], R[t-1], P[t-1]) -> W[t]` with served load O = min(D, R x C), called for t = 1 .. T-1 in order."""


@dataclass(frozen=True)
class Run:
    """What happened at each step: desired `W`, provisioned (billed) `P`, ready (serving) `R`."""

    desired: npt.NDArray[np.int64]
    provisioned: npt.NDArray[np.int64]
    ready: npt.NDArray[np.int64]


def default_capacity(demand: npt.NDArray[np.float64]) -> float:
    """Units one replica serves per step: p99 of demand over 30, i.e. a peak of about 30 replicas."""
    capacity = float(np.percentile(demand, 99)) / 30.0
    if capacity <= 0:
        capacity = float(demand.max()) / 30.0 if demand.max() > 0 else 1.0
    return capacity


def initial_replicas(first_demand: float, capacity: float) -> int:
    return max(1, math.ceil(first_demand / (0.7 * capacity)))


def run(
    demand: npt.NDArray[np.float64],
    capacity: float,
    policy: Policy,
    startup_steps: int = STARTUP_STEPS,
    min_replicas: int = MIN_REPLICAS,
    max_replicas: int = MAX_REPLICAS,
) -> Run:
    """Step the environment over the whole trace with `policy` deciding at every step t >= 1."""
    steps = len(demand)
    desired = np.zeros(steps, dtype=np.int64)
    provisioned = np.zeros(steps, dtype=np.int64)
    ready = np.zeros(steps, dtype=np.int64)
    start = initial_replicas(float(demand[0]), capacity)
    desired[0] = provisioned[0] = ready[0] = start
    serving = start
    starting: deque[list[int]] = deque()  # [ready_at_step, count], oldest first
    total = start
    values = demand.tolist()
    for t in range(1, steps):
        want = policy(t, min(values[t - 1], serving * capacity), serving, total)
        want = min(max_replicas, max(min_replicas, int(want)))
        desired[t] = want
        if want > total:
            starting.append([t + startup_steps, want - total])
        elif want < total:
            drop = total - want
            while drop and starting:  # the newest, furthest from ready, go first
                cohort = starting[-1]
                taken = min(drop, cohort[1])
                cohort[1] -= taken
                drop -= taken
                if cohort[1] == 0:
                    starting.pop()
            serving -= drop
        total = want
        while starting and starting[0][0] <= t:
            serving += starting.popleft()[1]
        provisioned[t] = total
        ready[t] = serving
    return Run(desired, provisioned, ready)
