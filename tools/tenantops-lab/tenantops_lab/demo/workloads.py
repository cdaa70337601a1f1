"""Which trace window each catalogue workload replays, the history before it, and at what size.

Traces come in incomparable units (requests, passengers, CPU percent), so each window is rescaled to a
peak that needs about 60% of the workload's `max_replicas` at its tier's CPU target: large enough to
scale up visibly, far enough from both bounds that the bounds do not hide a decision. When the
workload's history is planned too, the scale is set by the larger of the live peak and the history's
95th percentile, so weeks of history stay inside the range as well.

History is the same recording in the minutes just before the live window, so the replay continues the
history the controller starts with. A recording shorter than the history asked for is looped (its end
joins its start) and the spec says so (`history_looped`); nothing is generated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tenantops.config import Config
from tenantops.config.kinds.common import parse_quantity
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


def cpu_target(config: Config, tenant_id: str) -> float:
    """The tier's CPU utilisation target, as the autoscaler will aim for it."""
    for metric in config.for_tenant(tenant_id).scaling.metrics:
        if metric.metric == "cpu" and metric.type == "utilization":
            return float(metric.target)
    return DEFAULT_TARGET


def history_before(demand: npt.NDArray[np.float64], offset: int, minutes: int) -> tuple[
        npt.NDArray[np.float64], bool]:
    """The `minutes` of a trace before `offset` (looping from the end when it starts too early) and
    whether it looped."""
    if minutes <= 0 or len(demand) == 0:
        return np.zeros(0), False
    index = np.arange(offset - minutes, offset) % len(demand)
    return demand[index].astype(np.float64), minutes > offset


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
        demand = scaled_window(trace.demand, offset, length, peak * cpu * target, reference=reference)
        scale = peak * cpu * target / reference if reference > 0 else 0.0
        start = needed_replicas(float(demand[0]), cpu, target, workload.min_replicas, workload.max_replicas)
        specs.append(WorkloadSpec(
            tenant=tenant.id, workload=workload.name, isolation=tenant.isolation, cpu_request=cpu,
            memory_request=parse_quantity(str(workload.memory_request)), min_replicas=workload.min_replicas,
            max_replicas=workload.max_replicas, target_utilization=target, demand=demand, trace=trace.name,
            offset=offset, initial_replicas=max(start, 1 if workload.min_replicas == 0 else start),
            history=np.clip(history * scale, 0.0, None), history_looped=looped,
        ))
    return specs
