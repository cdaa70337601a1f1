"""docs/benchmarks.md §1 for one trace: run the policy and the HPA curve side by side and compute every figure."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tenantops.config.kinds.scaling import BreakerSpec, ScalingSpec
from tenantops.sim.environment import Run, default_capacity, run
from tenantops.sim.hpa import TARGETS, hpa_policy
from tenantops.sim.replay import recommender_policy
from tenantops.sim.score import Figures, hpa_cost_at, oracle_cost, score
from tenantops.sim.trace import Trace

GOAL_VIOLATION_FLOOR = 0.005
GOAL_EXCESS_CLOSED = 0.5
GOAL_HPA_TARGET = 0.7
GOAL_ACTIONS_VS_HPA = 1.5


@dataclass(frozen=True)
class Result:
    trace: str
    policy: str
    capacity: float
    figures: Figures
    oracle_cost: float
    hpa: list[tuple[float, Figures]]
    run: Run = field(repr=False)
    step_seconds: int = 60
    source_seconds: float = 60.0  # how often the trace was recorded (`Trace.source_seconds`)

    @property
    def per_minute(self) -> bool:
        """Recorded every step or finer: no sample is held, the benchmark's first concern (§1)."""
        return self.source_seconds <= self.step_seconds

    @property
    def hpa_cost(self) -> float:
        return hpa_cost_at([(f.violation_rate, f.cost) for _, f in self.hpa], self.figures.violation_rate)

    @property
    def hpa_at_goal(self) -> Figures:
        return next(f for u, f in self.hpa if abs(u - GOAL_HPA_TARGET) < 1e-9)

    @property
    def hpa_violation_at_goal(self) -> float:
        return self.hpa_at_goal.violation_rate

    @property
    def actions_vs_hpa(self) -> float:
        """Actions over the HPA's at u = 0.7 (over one action when the HPA never moved)."""
        return self.figures.actions / max(1, self.hpa_at_goal.actions)

    @property
    def goal_actions(self) -> float:
        """max(1.5 x the HPA's actions at u = 0.7, one per hour of trace)."""
        hours = self.figures.steps * self.step_seconds / 3600.0
        return max(GOAL_ACTIONS_VS_HPA * self.hpa_at_goal.actions, hours)

    @property
    def excess_closed(self) -> float:
        waste = self.hpa_cost - self.oracle_cost
        return (self.hpa_cost - self.figures.cost) / waste if waste > 0 else 0.0

    @property
    def goal_violation_rate(self) -> float:
        return max(GOAL_VIOLATION_FLOOR, self.hpa_violation_at_goal)

    @property
    def goals(self) -> dict[str, bool]:
        return {
            "violations": self.figures.violation_rate <= self.goal_violation_rate + 1e-12,
            "excess_closed": self.excess_closed >= GOAL_EXCESS_CLOSED,
            "actions": self.figures.actions <= self.goal_actions + 1e-9,
        }

    @property
    def meets_goal(self) -> bool:
        return all(self.goals.values())

    def as_dict(self) -> dict[str, Any]:
        f = self.figures
        return {
            "trace": self.trace,
            "policy": self.policy,
            "steps": f.steps,
            "source_seconds": self.source_seconds,
            "per_minute": self.per_minute,
            "capacity": self.capacity,
            "cost": f.cost,
            "oracle_cost": self.oracle_cost,
            "hpa_cost": self.hpa_cost,
            "cost_vs_oracle": f.cost / self.oracle_cost,
            "cost_vs_hpa": f.cost / self.hpa_cost,
            "excess_closed": self.excess_closed,
            "violation_rate": f.violation_rate,
            "unserved": f.unserved,
            "actions": f.actions,
            "hpa_actions_u07": self.hpa_at_goal.actions,
            "actions_vs_hpa": self.actions_vs_hpa,
            "hpa_violation_rate_u07": self.hpa_violation_at_goal,
            "goal_violation_rate": self.goal_violation_rate,
            "goal_actions": self.goal_actions,
            "goals": self.goals,
            "meets_goal": self.meets_goal,
            "hpa_curve": [
                {"target": u, "violation_rate": h.violation_rate, "cost": h.cost,
                 "cost_vs_oracle": h.cost / self.oracle_cost, "unserved": h.unserved, "actions": h.actions,
                 "actions_vs_hpa": h.actions / max(1, self.hpa_at_goal.actions)}
                for u, h in self.hpa
            ],
        }


def simulate(trace: Trace, spec: ScalingSpec, policy_name: str, capacity: float | None = None,
             breakers: BreakerSpec | None = None) -> Result:
    demand = trace.demand
    cap = capacity if capacity is not None else default_capacity(demand)
    step = trace.step_seconds
    mine = run(demand, cap, recommender_policy(spec, cap, trace.start, step, breakers=breakers))
    curve = [(u, score(demand, cap, run(demand, cap, hpa_policy(u, cap, step)), step)) for u in TARGETS]
    return Result(trace.name, policy_name, cap, score(demand, cap, mine, step), oracle_cost(demand, cap, step), curve,
                  mine, step, trace.source_seconds)


def write_decisions(path: Path | str, trace: Trace, result: Result) -> None:
    """`step,timestamp,demand,desired,provisioned,ready`, one row per step."""
    target = Path(path)
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    start = trace.start.timestamp()
    stamps = np.datetime_as_string(
        (np.arange(len(trace.demand)) * trace.step_seconds + start).astype("datetime64[s]"), unit="s"
    )
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "timestamp", "demand", "desired", "provisioned", "ready"])
        r = result.run
        for i, (d, w, p, ready) in enumerate(
            zip(trace.demand.tolist(), r.desired.tolist(), r.provisioned.tolist(), r.ready.tolist(), strict=True)
        ):
            writer.writerow([i, f"{stamps[i]}Z", f"{d:.6g}", w, p, ready])
