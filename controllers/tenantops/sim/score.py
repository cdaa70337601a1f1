"""The figures of docs/benchmarks.md §1 for one run, and the HPA baseline curve they are compared with."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from tenantops.sim.environment import Run


@dataclass(frozen=True)
class Figures:
    steps: int
    cost: float  # replica-hours billed
    violation_rate: float
    unserved: float
    actions: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def score(demand: npt.NDArray[np.float64], capacity: float, result: Run, step_seconds: int = 60) -> Figures:
    hours = step_seconds / 3600.0
    served = result.ready.astype(np.float64) * capacity
    violations = int(np.count_nonzero(demand > served))
    total = float(demand.sum())
    unserved = float(np.maximum(0.0, demand - served).sum()) / total if total > 0 else 0.0
    changes = int(np.count_nonzero(result.desired[1:] != result.provisioned[:-1]))
    return Figures(
        steps=len(demand),
        cost=float(result.provisioned.sum()) * hours,
        violation_rate=violations / len(demand),
        unserved=unserved,
        actions=changes,
    )


def oracle_cost(demand: npt.NDArray[np.float64], capacity: float, step_seconds: int = 60) -> float:
    """A clairvoyant scaler with instant start: one replica at least, and exactly enough otherwise."""
    need = np.maximum(1.0, np.ceil(demand / capacity - 1e-9))
    return float(need.sum()) * step_seconds / 3600.0


def hpa_cost_at(curve: list[tuple[float, float]], violation_rate: float) -> float:
    """The HPA's cost at the policy's violation rate, read off its (violation_rate, cost) curve.

    Only the curve's efficient points count (a target that is both riskier and dearer than another is
    never the HPA's best), which keeps the comparison on the HPA's side. Between points the cost is
    interpolated linearly; a policy safer than every HPA run is compared with the safest run, and one
    riskier than every run with the cheapest.
    """
    front: list[tuple[float, float]] = []
    for rate, cost in sorted(curve):
        if not front or cost < front[-1][1]:
            if front and math.isclose(front[-1][0], rate):
                front[-1] = (rate, cost)
            else:
                front.append((rate, cost))
    rates = [r for r, _ in front]
    costs = [c for _, c in front]
    return float(np.interp(violation_rate, rates, costs))
