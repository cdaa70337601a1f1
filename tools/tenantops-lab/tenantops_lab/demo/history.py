"""The weeks before the replay: recorded history backfilled into Prometheus, then read by the controller.

A controller that starts on an empty Prometheus has nothing to right-size from, no cost trend, no
baseline to call a day anomalous against and a first rate window that is only partly filled. In
production it starts on months of scraped history; the demo gives it the same by writing the weeks of
the recorded trace before each live window into Prometheus' TSDB with Prometheus' own backfill
(`promtool tsdb create-blocks-from openmetrics`, via `PrometheusServer.backfill`), in the shapes the
standard exporters write (cAdvisor per pod, kube-state-metrics, the application's request counter), so
the production queries read it unchanged.

The replica count in the history is what the workload's tier aims at (demand over request times the CPU
target, within the catalogue's bounds): the history is the recorded demand, served the way the
controller serves it. Two resolutions keep the backfill small:

- the last `dense_days` every `step` seconds (2 minutes), so right-sizing's 5-minute rate windows always
  hold two samples over its 14-day lookback;
- before that, two samples an hour (on the hour and one step before), enough for the hourly passes that
  build the cost ledger (`seed_cost`) to evaluate the metrics policy's 2-minute rates.

`seed_cost` then runs the controller's own cost decider over that history, one pass per trace hour, into
the same state database the live controller opens: the ledger, daily forecasts, budget verdicts and
anomaly baselines are the controller's, built from what Prometheus answers to the production queries
(`HistorySource`: one range query per query over the whole history rather than seven per pass).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from tenantops.config.catalog import Tenant
from tenantops.config.loader import Config
from tenantops.engine.reconcile import Reconciler
from tenantops.observe.prometheus import absorb, plan_queries
from tenantops.structs.snapshot import Reading, Snapshot, WorkloadKey, WorkloadMetrics
from tenantops_lab.sandbox.prometheus import Series
from tenantops_lab.sandbox.workload_sim import (
    BURST,
    WorkloadSpec,
    needed_replicas,
    pod_name,
    working_set,
)

log = logging.getLogger(__name__)

HOUR = 3600


@dataclass(frozen=True)
class HistoryGrid:
    """The sample times of the backfill (epoch seconds, increasing) over [start, end]."""

    start: float
    end: float
    times: npt.NDArray[np.float64]

    @classmethod
    def build(cls, end: float, days: float, dense_days: float, step: int = 120) -> HistoryGrid:
        """Every `step` over the last `dense_days`, on the hour and one step before it earlier on."""
        last = math.floor(end / step) * step
        start = math.ceil((end - days * 86400) / HOUR) * HOUR
        dense_from = max(start, math.ceil((end - dense_days * 86400) / step) * step)
        hours = np.arange(start, dense_from, HOUR, dtype=np.float64)
        sparse = np.sort(np.concatenate([hours - step, hours]))
        sparse = sparse[sparse >= start - step]
        dense = np.arange(dense_from, last + 1, step, dtype=np.float64)
        return cls(float(start), float(last), np.unique(np.concatenate([sparse, dense])))

    def hours(self) -> list[float]:
        """Whole trace hours inside the grid, for the cost passes."""
        first = math.ceil(self.start / HOUR) * HOUR
        return [float(h) for h in range(int(first), int(self.end) + 1, HOUR)]


def demand_at(spec: WorkloadSpec, times: npt.NDArray[np.float64], end: float) -> npt.NDArray[np.float64]:
    """The history's demand (cores) at `times`: minute `len - 1` is the minute just before `end`."""
    history = spec.history
    if len(history) == 0:
        return np.zeros(len(times))
    index = len(history) - 1 - np.floor((end - times) / 60.0).astype(np.int64)
    return np.asarray(history[np.clip(index, 0, len(history) - 1)], dtype=np.float64)


def workload_series(spec: WorkloadSpec, grid: HistoryGrid, end: float) -> list[Series]:
    """One workload's backfill: per-pod CPU counters, working sets, requests, limits; Deployment replicas; its
    request counter. Pod k exists while the replica count is above k."""
    times = grid.times
    demand = demand_at(spec, times, end)
    replicas = np.array([needed_replicas(float(d), spec.cpu_request, spec.target_utilization,
                                         spec.min_replicas, spec.max_replicas) for d in demand])
    per_pod = np.where(replicas > 0, np.minimum(demand / np.maximum(replicas, 1), BURST * spec.cpu_request), 0.0)
    dt = np.diff(times, prepend=times[0])
    ns = f"tenant-{spec.tenant}"
    out: list[Series] = []
    stamps = times.tolist()
    for k in range(int(replicas.max(initial=0))):
        alive = replicas > k
        cpu = np.cumsum(np.where(alive, per_pod * dt, 0.0))
        pod = pod_name(spec, f"history-{k}")
        labels = {"namespace": ns, "pod": pod, "container": spec.workload}
        keep = np.flatnonzero(alive)
        out.append(Series("container_cpu_usage_seconds_total", labels,
                          [(stamps[i], float(cpu[i])) for i in keep]))
        memory = working_set(spec, per_pod / spec.cpu_request)
        out.append(Series("container_memory_working_set_bytes", labels, [(stamps[i], float(memory[i])) for i in keep]))
        node = f"node-{spec.tenant}" if spec.isolation == "silo" else "pool-node"
        for resource, unit, value in (("cpu", "core", spec.cpu_request), ("memory", "byte", spec.memory_request)):
            out.append(Series("kube_pod_container_resource_requests",
                              {**labels, "node": node, "resource": resource, "unit": unit},
                              [(stamps[i], float(value)) for i in keep]))
        limits = (("cpu", "core", BURST * spec.cpu_request), ("memory", "byte", spec.memory_request))
        for resource, unit, value in limits:  # as the live simulator's pods have them
            out.append(Series("kube_pod_container_resource_limits",
                              {**labels, "node": node, "resource": resource, "unit": unit},
                              [(stamps[i], float(value)) for i in keep]))
    deployment = {"namespace": ns, "deployment": spec.workload}
    counts = [(t, float(r)) for t, r in zip(stamps, replicas.tolist(), strict=True)]
    out.append(Series("kube_deployment_spec_replicas", deployment, counts))
    out.append(Series("kube_deployment_status_replicas_ready", deployment, counts))
    served = np.cumsum(per_pod * replicas * spec.requests_per_core * dt)
    out.append(Series("http_requests_total", {"tenant": spec.tenant, "workload": spec.workload, "code": "200"},
                      [(t, float(v)) for t, v in zip(stamps, served.tolist(), strict=True)]))
    return out


def history_series(specs: Sequence[WorkloadSpec], grid: HistoryGrid, end: float) -> list[Series]:
    return [s for spec in specs for s in workload_series(spec, grid, end)]


class HistorySource:
    """The metrics source of the history passes: each distinct query of the metrics policy is evaluated by
    Prometheus once, as a range query over the whole history with one step per pass, and each pass reads
    its instant from that answer (`absorb`, as the live source does), instead of sending seven queries for
    each of hundreds of passes. The queries and their parsing are the production ones."""

    def __init__(self, url: str, config: Config, hours: Sequence[float], *, timeout: float = 120.0) -> None:
        from prometheus_api_client import PrometheusConnect

        self.client = PrometheusConnect(url=url.rstrip("/"), disable_ssl=False, timeout=timeout)
        self.errors: list[str] = []
        self._answers: dict[tuple[str, int], dict[float, list[dict[str, Any]]]] = {}
        if not hours:
            return
        step = int(hours[1] - hours[0]) if len(hours) > 1 else HOUR
        start, end = datetime.fromtimestamp(hours[0], UTC), datetime.fromtimestamp(hours[-1], UTC)
        for planned in plan_queries(config, config.tenants):
            by_stamp: dict[float, list[dict[str, Any]]] = {}
            try:
                result = self.client.custom_query_range(planned.promql, start_time=start, end_time=end,
                                                        step=str(step))
            except Exception as exc:  # that metric is missing from every pass, as a failed live query would be
                self.errors.append(f"{planned.label}: {type(exc).__name__}: {exc}"[:300])
                log.warning("history query %s failed: %s", planned.label, exc)
                result = []
            for series in result:
                for stamp, value in series.get("values", []):
                    by_stamp.setdefault(float(stamp), []).append({"metric": series["metric"],
                                                                  "values": [[stamp, value]]})
            self._answers[(planned.promql, planned.stale_after_seconds)] = by_stamp

    def observe(self, config: Config, now: datetime, tenants: Sequence[Tenant] | None = None) -> Snapshot:
        selected = list(config.tenants if tenants is None else tenants)
        readings: dict[WorkloadKey, dict[str, Reading]] = {(t.id, w.name): {} for t in selected for w in t.workloads}
        stamp = float(int(now.timestamp()))
        for planned in plan_queries(config, selected):
            answer = self._answers.get((planned.promql, planned.stale_after_seconds), {})
            absorb(answer.get(stamp, []), planned, now, readings)
        workloads = {key: WorkloadMetrics(key[0], key[1], found) for key, found in readings.items()}
        return Snapshot(now, workloads, tuple(self.errors))


@dataclass(frozen=True)
class SeedResult:
    passes: int
    failed: int
    first: datetime | None
    last: datetime | None
    seconds: float


def seed_cost(reconciler: Reconciler, config: Config, hours: Sequence[float],
              progress: Callable[[int, int], None] | None = None) -> SeedResult:
    """Run the controller's passes (its cost decider) once per trace hour over the backfilled history."""
    started = time.monotonic()
    failed = 0
    for index, hour in enumerate(hours):
        result = reconciler.run_pass(config, datetime.fromtimestamp(hour, UTC))
        if not result.ok:
            failed += 1
        if progress is not None:
            progress(index + 1, len(hours))
    first = datetime.fromtimestamp(hours[0], UTC) if hours else None
    last = datetime.fromtimestamp(hours[-1], UTC) if hours else None
    return SeedResult(len(hours), failed, first, last, round(time.monotonic() - started, 1))
