"""What the live part's under-provisioned minutes are measured against, per workload.

The live part replays about three trace hours of each workload, from windows chosen for their swings
(`workload_sim.best_windows`): the hours of each recording that move most. A tier's miss goal is a rate
over long runs, and three such hours say little of it alone: 0.2% of 180 minutes is 0.36 minutes, and one
rise faster than a pod's two-minute start-up costs two minutes or more, whatever the controller does. So the
summary sets two figures from the benchmark's environment (`tenantops.sim`, docs/benchmarks.md §1) beside
the live ones:

- the same production decision (`sim.replay.recommender_policy`, breakers included) replayed over the
  recorded days just before the live window, where the goal is a rate that the minutes can test;
- the Kubernetes HPA at its default 70% target on the live window's own load, which tells a load no
  controller follows in time from a policy that fell short of what the HPA does.

Both run at one decision per trace minute with the benchmark's two-minute start-up, one replica serving its
CPU request, and the workload's replica bounds. A tier that scales to zero is not replayed over its history:
the benchmark's environment observes served load only, and at zero replicas nothing is served, so it cannot
wake (live, the refused requests wake it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tenantops.config import Config
from tenantops.sim.environment import run
from tenantops.sim.hpa import hpa_policy
from tenantops.sim.replay import recommender_policy
from tenantops.sim.score import score
from tenantops_lab.sandbox.workload_sim import Key, WorkloadSpec

REPLAY_DAYS = 7.0  # of recorded history replayed: a week holds the daily and weekly cycle once
HPA_TARGET = 0.7  # the HPA's default CPU utilisation target
STEP_SECONDS = 60


@dataclass(frozen=True)
class Yardstick:
    replayed_days: float  # days of history the decision was replayed over (0: not replayed)
    replayed_rate: float | None  # share of those minutes under-provisioned; None when not replayed
    hpa_minutes: float  # minutes the HPA at 70% leaves under-provisioned on the live window's load


def yardstick(config: Config, spec: WorkloadSpec, first: int, minutes: int, history_end: datetime,
              replay_days: float = REPLAY_DAYS) -> Yardstick:
    """One workload's two figures. The live part is `minutes` of its planned demand from minute `first`;
    its history ends at `history_end` (trace time), where the planned demand starts."""
    policies = config.for_tenant(spec.tenant)
    floor, ceiling, capacity = max(1, spec.min_replicas), spec.max_replicas, spec.cpu_request
    live = spec.demand[first:first + minutes]
    hpa = run(live, capacity, hpa_policy(HPA_TARGET, capacity, STEP_SECONDS, min_replicas=floor,
                                         max_replicas=ceiling))
    hpa_minutes = float(round(score(live, capacity, hpa, STEP_SECONDS).violation_rate * len(live)))
    history = spec.history[-int(replay_days * 1440):] if replay_days > 0 else spec.history[:0]
    if (policies.scaling.scale_to_zero.enabled and spec.min_replicas == 0) or len(history) == 0:
        return Yardstick(0.0, None, hpa_minutes)
    start = datetime.fromtimestamp(history_end.timestamp() - len(history) * STEP_SECONDS, UTC)
    mine = run(history, capacity, recommender_policy(policies.scaling, capacity, start, STEP_SECONDS, floor, ceiling,
                                                     breakers=policies.breakers))
    return Yardstick(round(len(history) / 1440, 1), score(history, capacity, mine, STEP_SECONDS).violation_rate,
                     hpa_minutes)


def yardsticks(config: Config, specs: Sequence[WorkloadSpec], first: float, minutes: float,
               history_end: datetime) -> dict[Key, Yardstick]:
    """Every workload's figures (see `yardstick`); `first` and `minutes` in trace minutes."""
    start, length = max(0, round(first)), max(1, round(minutes))
    return {s.key: yardstick(config, s, start, length, history_end) for s in specs}
