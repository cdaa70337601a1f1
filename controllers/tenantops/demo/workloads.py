"""Which trace window each catalogue workload replays, and at what size.

Traces come in incomparable units (requests, passengers, CPU percent), so each window is rescaled to a
peak that needs about 60% of the workload's `max_replicas` at its tier's CPU target: large enough to
scale up visibly, far enough from both bounds that the bounds do not hide a decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tenantops.config import Config
from tenantops.config.kinds.common import parse_quantity
from tenantops.sandbox.workload_sim import (
    WorkloadSpec,
    best_windows,
    needed_replicas,
    peak_replicas,
    scaled_window,
)
from tenantops.sim.trace import Trace

DEFAULT_TARGET = 0.7


def cpu_target(config: Config, tenant_id: str) -> float:
    """The tier's CPU utilisation target, as the autoscaler will aim for it."""
    for metric in config.for_tenant(tenant_id).scaling.metrics:
        if metric.metric == "cpu" and metric.type == "utilization":
            return float(metric.target)
    return DEFAULT_TARGET


def plan_workloads(config: Config, traces: Sequence[Trace], trace_minutes: float) -> list[WorkloadSpec]:
    """One `WorkloadSpec` per catalogue workload, cycling through the traces with distinct windows."""
    if not traces:
        raise ValueError("no traces to replay")
    keys = [(t, w) for t in config.tenants for w in t.workloads]
    length = max(10, math.ceil(trace_minutes) + 2)
    per_trace = math.ceil(len(keys) / len(traces))
    offsets = {trace.name: best_windows(trace.demand, length, per_trace) for trace in traces}
    specs: list[WorkloadSpec] = []
    for index, (tenant, workload) in enumerate(keys):
        trace = traces[index % len(traces)]
        offset = offsets[trace.name][index // len(traces)]
        target = cpu_target(config, tenant.id)
        cpu = parse_quantity(str(workload.cpu_request))
        peak = peak_replicas(workload.min_replicas, workload.max_replicas)
        demand = scaled_window(trace.demand, offset, length, peak * cpu * target)
        start = needed_replicas(float(demand[0]), cpu, target, workload.min_replicas, workload.max_replicas)
        specs.append(WorkloadSpec(
            tenant=tenant.id, workload=workload.name, isolation=tenant.isolation, cpu_request=cpu,
            memory_request=parse_quantity(str(workload.memory_request)), min_replicas=workload.min_replicas,
            max_replicas=workload.max_replicas, target_utilization=target, demand=demand, trace=trace.name,
            offset=offset, initial_replicas=max(start, 1 if workload.min_replicas == 0 else start),
        ))
    return specs
