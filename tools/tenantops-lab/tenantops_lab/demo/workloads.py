"""Which trace window each catalogue workload replays, the history before it, and at what size.

Traces come in incomparable units (requests, passengers, CPU percent), so each window is rescaled to a
peak that needs about 60% of the workload's `max_replicas` at its tier's CPU target: large enough to
scale up visibly, far enough from both bounds that the bounds do not hide a decision. In a small range
the peak is raised until the window needs more than one replica count (`visible_peak`). When the
workload's history is planned too, the scale is set by the larger of the live peak and the history's
95th percentile, so weeks of history stay inside the range as well.

History is the same recording in the minutes just before the live window, so the replay continues the
history the controller starts with. A recording shorter than the history asked for is looped (its end
joins its start) and the spec says so (`history_looped`); nothing is generated.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tenantops.config import Config
from tenantops.config.kinds.common import parse_quantity
from tenantops.decide.autoscaling.recommender import Tuning
from tenantops.sim.trace import Trace
from tenantops_lab.sandbox.workload_sim import (
    WorkloadSpec,
    best_windows,
    needed_replicas,
    peak_replicas,
    scaled_window,
    smooth,
)

DEFAULT_TARGET = 0.7
# Minutes in a row a replica count must be needed for to be a level the window swings to: longer than the
# default scale-down stabilisation window (5 minutes) plus a pod's start-up.
SUSTAINED_MINUTES = 10
RISE_MINUTES = 5  # minutes in a row a rise must outgrow the base at full capacity: past a pod's start-up


def cpu_target(config: Config, tenant_id: str) -> float:
    """The tier's CPU utilisation target, as the autoscaler will aim for it."""
    for metric in config.for_tenant(tenant_id).scaling.metrics:
        if metric.metric == "cpu" and metric.type == "utilization":
            return float(metric.target)
    return DEFAULT_TARGET


def requests_per_replica(config: Config, tenant_id: str) -> float | None:
    """What one replica serves in requests per second by the tier's `requests` metric (its capacity: what a
    replica serves before the SLO breaks), or None when the tier scales on no per-replica request rate.

    The simulator serves that many per replica's worth of CPU, so the request rate and the CPU signal give
    the autoscaler the same demand in replica units; at zero replicas the refused requests are all it sees.
    """
    for metric in config.for_tenant(tenant_id).scaling.metrics:
        if metric.metric == "requests" and metric.type == "per_replica":
            return float(metric.capacity_or_default())
    return None


def history_before(demand: npt.NDArray[np.float64], offset: int, minutes: int) -> tuple[
        npt.NDArray[np.float64], bool]:
    """The `minutes` of a trace before `offset` (looping from the end when it starts too early) and
    whether it looped."""
    if minutes <= 0 or len(demand) == 0:
        return np.zeros(0), False
    index = np.arange(offset - minutes, offset) % len(demand)
    return demand[index].astype(np.float64), minutes > offset


def visible_peak(shape: npt.NDArray[np.float64], peak: int, cpu: float, target: float, min_replicas: int,
                 max_replicas: int) -> int:
    """The replicas the window's peak is sized to need: `peak`, or more (up to `max_replicas`) while no
    minute of the window would need more replicas than its base: the lowest count it needs for a run of
    `SUSTAINED_MINUTES` (or, with no such run, the lowest count it needs), or while its rises do not also
    outgrow the base at full capacity for `RISE_MINUTES` in a row. `shape` is the window over its peak, a
    value per minute.

    A small range rounds a swing away: a window whose trough is 65% of its peak, sized to a peak of 2
    replicas, needs 2 replicas in every minute, so it can show no scaling at all (soylent/api, 0-3
    replicas). Short dips are no swing either: cyberdyne/api's window needed 1 replica in dips of a few
    minutes and 2 in every other minute, and no autoscaler drops a replica for a dip shorter than its
    scale-down stabilisation window, so the replay stayed at 2 throughout. A short rise above the base is a
    swing (it is scaled up for, then down). The recording's shape is kept; only its size, which is chosen
    here anyway, changes.
    """

    def levels(demand: npt.NDArray[np.float64], utilisation: float, rise: int) -> tuple[int, int]:
        """(base, the highest count needed for `rise` minutes in a row) at `utilisation` of the request."""
        needs = [needed_replicas(float(d), cpu, utilisation, min_replicas, max_replicas) for d in demand]
        runs = [(count, sum(1 for _ in run)) for count, run in itertools.groupby(needs)]
        base = min((c for c, n in runs if n >= SUSTAINED_MINUTES), default=min(needs, default=0))
        return base, max((c for c, n in runs if n >= rise), default=0)

    def swings(p: int) -> bool:
        demand = shape * (p * cpu * target)
        base, top = levels(demand, target, 1)
        # The rise must also outgrow the base for a while at full capacity: a predictive policy fills its
        # replicas past the target where the forecast allows, and a rise shorter than a pod's start-up is over
        # before a replica asked for it serves (tyrell/api: 1 replica throughout a window whose rise needed
        # a second one at the target for a few minutes at a time).
        full_base, full_top = levels(demand, 1.0, RISE_MINUTES if len(shape) >= SUSTAINED_MINUTES else 1)
        return top > base and full_top > full_base

    while peak < max_replicas and not swings(peak):
        peak += 1
    return peak


def held_replicas(config: Config, tenant_id: str, history: npt.NDArray[np.float64], first: float, cpu: float,
                  target: float, min_replicas: int, max_replicas: int) -> int:
    """The replicas the replay starts at: what its first minute (`first`, cores) needs, or more while a
    minute of the history (cores per minute, the last one just before the replay) inside the tier's
    scale-down stabilisation window needed more. The replay continues the history, so it starts at the count
    a controller holds where the history ends, and no autoscaler (the HPA included) drops below the highest
    count its window recommended. Sized on the first minute alone, a workload whose recording dips right at
    the join (cyberdyne/api: 2 replicas for hours, then one quiet minute) started a replica short of what
    the next minutes needed, before the controller's first pass."""
    window = Tuning.of(config.for_tenant(tenant_id).scaling).down.stabilization_seconds
    minutes = math.ceil(window / 60.0)
    recent = history[len(history) - minutes:] if minutes > 0 else history[:0]
    return max(needed_replicas(float(d), cpu, target, min_replicas, max_replicas) for d in [*recent, first])


def plan_workloads(config: Config, traces: Sequence[Trace], trace_minutes: float,
                   history_minutes: int = 0) -> list[WorkloadSpec]:
    """One `WorkloadSpec` per catalogue workload, cycling through the traces with distinct windows
    (and `history_minutes` of the same trace before each window)."""
    if not traces:
        raise ValueError("no traces to replay")
    keys = [(t, w) for t in config.tenants for w in t.workloads]
    length = max(10, math.ceil(trace_minutes) + 2)
    per_trace = math.ceil(len(keys) / len(traces))
    offsets = {trace.name: best_windows(trace.demand, length, per_trace, busy=history_minutes > 0)
               for trace in traces}
    specs: list[WorkloadSpec] = []
    for index, (tenant, workload) in enumerate(keys):
        trace = traces[index % len(traces)]
        offset = offsets[trace.name][index // len(traces)]
        target = cpu_target(config, tenant.id)
        cpu = parse_quantity(str(workload.cpu_request))
        peak = peak_replicas(workload.min_replicas, workload.max_replicas)
        raw_history, looped = history_before(trace.demand, offset, history_minutes)
        history = smooth(raw_history)
        reference = max(float(smooth(trace.demand[offset:offset + length]).max(initial=0.0)),
                        float(np.percentile(history, 95)) if len(history) else 0.0)
        shape = scaled_window(trace.demand, offset, length, 1.0, reference=reference)
        peak = visible_peak(shape, peak, cpu, target, workload.min_replicas, workload.max_replicas)
        demand = shape * (peak * cpu * target)
        scale = peak * cpu * target / reference if reference > 0 else 0.0
        scaled_history = np.clip(history * scale, 0.0, None)
        start = held_replicas(config, tenant.id, scaled_history, float(demand[0]), cpu, target,
                              workload.min_replicas, workload.max_replicas)
        specs.append(WorkloadSpec(
            tenant=tenant.id, workload=workload.name, isolation=tenant.isolation, cpu_request=cpu,
            memory_request=parse_quantity(str(workload.memory_request)), min_replicas=workload.min_replicas,
            max_replicas=workload.max_replicas, target_utilization=target, demand=demand, trace=trace.name,
            offset=offset, initial_replicas=max(start, 1 if workload.min_replicas == 0 else start),
            history=scaled_history, history_looped=looped,
            requests_per_replica=requests_per_replica(config, tenant.id),
        ))
    return specs
