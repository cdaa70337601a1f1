"""Usage history for right-sizing: batched Prometheus range queries, one per resource, for every tenant.

Each query aggregates `by (tenant, workload)` (per-pod CPU cores and memory bytes, OOM kills, replicas),
so the number of requests depends on how many distinct query texts the policies use, never on how many
tenants there are. The default usage queries also keep `container`: each container's mean over the
pods is kept, and their sum is the per-pod series (one query still answers both). Ranges longer than
Prometheus's 11,000 points per series are fetched in chunks. A query that fails leaves its resource
empty and is listed in `errors`; the other resources still arrive.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

import numpy as np
from prometheus_api_client import PrometheusConnect

from tenantops.config.catalog import Tenant
from tenantops.config.loader import Config
from tenantops.endpoints import Unreachable, unreachable
from tenantops.observe.facts import SaneLimits
from tenantops.observe.prom_client import PrometheusAccess, connect, describe_failure
from tenantops.structs.usage import HistoryKey, OomKill, Series, UsageHistory

log = logging.getLogger(__name__)

SANE = SaneLimits()
MAX_POINTS = 11_000  # Prometheus refuses range queries that would return more points per series
PER_CONTAINER = ("cpu", "memory", "oom", "memory_at_oom")  # the kinds whose `container` label is kept


@dataclass(frozen=True, slots=True)
class RangeQuery:
    kind: str  # "cpu", "memory", "oom", "memory_at_oom" or "replicas"
    promql: str
    lookback: timedelta
    step_seconds: int
    tenants: frozenset[str]


def plan_range_queries(config: Config, tenants: Sequence[Tenant]) -> list[RangeQuery]:
    """Distinct (kind, text, range, step) combinations over the tenants' resolved policies."""
    grouped: dict[tuple[str, str, float, int], set[str]] = {}
    for tenant in tenants:
        policies = config.for_tenant(tenant)
        spec = policies.rightsizing
        lookback = float(spec.lookback_days) * 86400.0
        texts = {"cpu": spec.cpu_query, "memory": spec.memory_query, "oom": spec.oom_query,
                 "memory_at_oom": spec.memory_at_oom_query}
        if "replicas" in policies.metrics.queries:
            texts["replicas"] = policies.metrics.queries["replicas"]
        for kind, text in texts.items():
            grouped.setdefault((kind, text.strip(), lookback, spec.step_seconds), set()).add(tenant.id)
    return [
        RangeQuery(kind, text, timedelta(seconds=lookback), step, frozenset(ids))
        for (kind, text, lookback, step), ids in sorted(grouped.items())
    ]


def _chunks(start: datetime, end: datetime, step: int) -> Iterable[tuple[datetime, datetime]]:
    span = timedelta(seconds=step * (MAX_POINTS - 1))
    cursor = start
    while cursor < end:
        upper = min(end, cursor + span)
        yield cursor, upper
        cursor = upper + timedelta(seconds=step)


class UsageHistorySource:
    """Fetches a `UsageHistory` for the right-sizing decider over prometheus-api-client."""

    def __init__(self, url: str, *, timeout: float = 60.0, client: PrometheusConnect | None = None,
                 access: PrometheusAccess | None = None) -> None:
        self.url = url.rstrip("/")
        self.client = client if client is not None else connect(self.url, timeout, access)
        self.requests_sent = 0
        self.unreachable: Unreachable | None = None  # set when Prometheus did not answer at all

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """At `TENANTOPS_PROMETHEUS_URL` with the authentication and TLS settings (`prom_client`)."""
        return cls(settings.prometheus_url, access=PrometheusAccess.from_settings(settings))

    def fetch(self, config: Config, now: datetime, tenants: Sequence[Tenant] | None = None) -> UsageHistory:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        selected = list(config.tenants if tenants is None else tenants)
        known = {(t.id, w.name) for t in selected for w in t.workloads}
        samples: dict[tuple[str, str, str, str], list[tuple[float, float]]] = {}
        errors: list[str] = []
        earliest = now
        end = now.replace(microsecond=0)
        self.unreachable = None
        for planned in plan_range_queries(config, selected):
            start = end - planned.lookback
            earliest = min(earliest, start)
            if self.unreachable is not None:
                errors.append(f"{planned.kind}: {self.unreachable.reason}")
                continue
            try:
                for lo, hi in _chunks(start, end, planned.step_seconds):
                    self.requests_sent += 1
                    result = self.client.custom_query_range(
                        planned.promql, start_time=lo, end_time=hi, step=str(planned.step_seconds)
                    )
                    if not isinstance(result, list):
                        raise ValueError(f"unexpected response shape: {type(result).__name__}")
                    ignored = absorb_matrix(result, planned, known, samples)
                    if ignored:
                        log.debug("%s history: %d series ignored (unlabelled or not in the catalogue)",
                                  planned.kind, ignored)
            except Exception as exc:  # one failed resource must not hide the others
                self.unreachable = unreachable("TENANTOPS_PROMETHEUS_URL", self.url, exc)
                if self.unreachable is not None:
                    log.info("usage history unavailable: %s", self.unreachable)  # callers summarise at WARNING
                    errors.append(f"{planned.kind}: {self.unreachable.reason}")
                    continue
                reason = describe_failure(exc)
                log.warning("usage history query %s failed: %s", planned.kind, reason)
                errors.append(f"{planned.kind}: {reason}")
        return build_history(samples, earliest, now, errors)


def absorb_matrix(
    result: Iterable[Mapping[str, Any]],
    planned: RangeQuery,
    known: set[tuple[str, str]],
    samples: dict[tuple[str, str, str, str], list[tuple[float, float]]],
    limits: SaneLimits = SANE,
) -> int:
    """Add one matrix answer's points to `samples` (keyed by tenant, workload, kind and container, "" when
    the query has no `container` label); returns how many series were ignored.

    A point is kept only if it is a value the live pass would trust: finite, not negative, and within the
    sane range for its kind (`observe.facts.SaneLimits`, the one rule for both). A finite but impossible
    value (1e300 cores from a broken exporter) would otherwise become a day's percentile and a request
    patch; each series with such points is logged once."""
    ignored = 0
    limit = limits.limit(planned.kind)
    for series in result:
        labels = series.get("metric") or {}
        key = (str(labels.get("tenant", "")), str(labels.get("workload", "")))
        if key not in known or key[0] not in planned.tenants:
            ignored += 1
            continue
        container = str(labels.get("container", "")) if planned.kind in PER_CONTAINER else ""
        bucket = samples.setdefault((key[0], key[1], planned.kind, container), [])
        implausible = 0
        for point in series.get("values") or ():
            try:
                when, value = float(point[0]), float(point[1])
            except (TypeError, ValueError, IndexError):
                continue
            if not (math.isfinite(when) and math.isfinite(value) and value >= 0):
                continue
            if value > limit:
                implausible += 1
                continue
            bucket.append((when, value))
        if implausible:
            log.warning("%s/%s: %d %s history point(s) above the sane limit of %g ignored", key[0], key[1],
                        implausible, planned.kind, limit,
                        extra={"event": "history.implausible", "tenant": key[0], "workload": key[1]})
    return ignored


def build_history(
    samples: Mapping[tuple[str, str, str, str], list[tuple[float, float]]],
    start: datetime,
    end: datetime,
    errors: Sequence[str] = (),
) -> UsageHistory:
    """Arrange raw points into per-resource series (per pod, and per container where the query kept the
    label), OOM kills (with the memory in use) and mean replicas.

    A kill with no memory sample at or before it (a pod killed at start-up, before its first scrape: a crash
    loop) takes the memory its container was killed at (`memory_at_oom`: its limit, else its request), a
    pod's kill the sum over its containers killed then; `OomKill.basis` says so. It was dropped, and
    nothing raised the memory of a pod that never lived long enough to be scraped."""
    series: dict[HistoryKey, Series] = {}
    containers: dict[HistoryKey, dict[str, Series]] = {}
    ooms: dict[tuple[str, str], tuple[OomKill, ...]] = {}
    replicas: dict[tuple[str, str], float] = {}
    pod_points: dict[HistoryKey, dict[float, list[float]]] = {}
    for (tenant, workload, kind, container), points in samples.items():
        if kind in ("cpu", "memory"):
            key: HistoryKey = (tenant, workload, "cpu" if kind == "cpu" else "memory")
            deduped = _dedupe(points)
            if container:
                containers.setdefault(key, {})[container] = Series.of(deduped)
            total = pod_points.setdefault(key, {})
            for when, value in deduped:  # the pod uses what its containers use, at the same step
                total.setdefault(when, []).append(value)
        elif kind == "replicas" and points:
            replicas[(tenant, workload)] = float(np.mean([v for _, v in points]))
    for key, by_time in pod_points.items():
        # Only the steps every container reported: a partial sum would understate the pod's use.
        parts = max(1, len(containers.get(key, {})))
        series[key] = Series.of(sorted((when, sum(values)) for when, values in by_time.items()
                                       if len(values) >= parts))
    killed: dict[tuple[str, str], set[float]] = {}
    container_ooms: dict[tuple[str, str], dict[str, tuple[OomKill, ...]]] = {}
    killed_at: dict[tuple[str, str], dict[str, Series]] = {}
    for (tenant, workload, kind, container), points in samples.items():
        if kind == "memory_at_oom" and points:
            killed_at.setdefault((tenant, workload), {})[container] = Series.of(_dedupe(points))
    for (tenant, workload, kind, container), points in samples.items():
        if kind != "oom":
            continue
        times = {when for when, value in _dedupe(points) if value > 0}
        killed.setdefault((tenant, workload), set()).update(times)
        own = containers.get((tenant, workload, "memory"), {}).get(container) if container else None
        at_kill = killed_at.get((tenant, workload), {}).get(container) if container else None
        kills = [kill for when in sorted(times) if (kill := _kill(when, own, [at_kill])) is not None]
        if kills:
            container_ooms.setdefault((tenant, workload), {})[container] = tuple(kills)
    for (tenant, workload), times in killed.items():  # the pod's kills, whichever container was killed
        memory = series.get((tenant, workload, "memory"))
        limits = list(killed_at.get((tenant, workload), {}).values())
        kills = [kill for when in sorted(times) if (kill := _kill(when, memory, limits)) is not None]
        if kills:
            ooms[(tenant, workload)] = tuple(kills)
    return UsageHistory(start, end, series, ooms, replicas, tuple(errors), containers, container_ooms)


def _dedupe(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Chunk edges can repeat a timestamp; keep one point per time."""
    return sorted(dict(points).items())


def _kill(when: float, memory: Series | None, killed_at: Sequence[Series | None]) -> OomKill | None:
    """A kill at `when` with the memory in use just before it, or else the memory its containers were killed
    at (their limits, or requests), summed: None when neither is known."""
    used = _memory_near(memory, when)
    if used is not None:
        return OomKill(when, used)
    at = [value for series in killed_at if (value := _memory_near(series, when, window=900.0, latest=False))]
    return OomKill(when, float(sum(at)), basis="limit") if at else None


def _memory_near(memory: Series | None, when: float, window: float = 900.0, *, latest: bool = True) -> float | None:
    """The highest memory sample within `window` seconds before the kill (what the container was using)."""
    if memory is None or memory.times.size == 0:
        return None
    mask = (memory.times <= when) & (memory.times >= when - window)
    if mask.any():
        return float(memory.values[mask].max())
    before = memory.times <= when
    return float(memory.values[before][-1]) if before.any() and latest else None
