"""Establish what the pass may stand behind: live counts over metric counts, sane values, and holds.

Every metric source reports what it was told; this step decides, once per pass and before any decider
looks, which of it is a fact:

- **Live count.** Each workload's `replicas`/`ready_replicas` become the live count (`replicas.py`); what
  Prometheus reported is kept as `replicas_reported`. A target whose reader failed is unknown (MISSING),
  never the metric's value.
- **Sane ranges.** A finite value no workload can have (1e300 CPU cores, 10^15 replicas, a billion
  dollars of spend in a reading) is marked IMPLAUSIBLE, as NaN, infinities and negatives already are, so
  no decider bills, scales or alerts on it (`SaneLimits`).
- **Holds.** A workload is held (nothing scales it this pass) when any of its readings is untrusted,
  when the replicas metric contradicts the live count by more than the tolerance (allowing for the
  metric's lag: it may match one of the last counts seen), or when replicas run but no other series
  exists yet (a tenant whose exporters are not scraped yet; this one does not block scaling, the usual
  freeze on missing metrics applies). The holds travel in `Snapshot.holds`; the
  facts decider turns them into alerts, one per cause (summarised when many), and the autoscaling
  decider skips held workloads.
- **After a gap.** The first `rate()` samples after a metrics gap under-read (the window is part empty), so
  for one rate window (the longest `[...]` range in the tenant's queries) after metrics return the
  workload is `recovering`: scale-down stays frozen, scale-up is allowed.
- **Nothing runs, nothing reports.** A workload at zero live replicas has no pods and so no per-pod
  series: its missing readings are zero, as a fact, not a missing-metrics alert every pass it sleeps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tenantops.config.catalog import Tenant
from tenantops.config.kinds.metrics import reading_names
from tenantops.config.loader import Config
from tenantops.observe.replicas import READY, REPLICAS, LiveRead, LiveReplicas
from tenantops.structs.plan import ScaleTarget
from tenantops.structs.replicas import REPORTED, ReplicaCount
from tenantops.structs.snapshot import (
    MISSING,
    UNTRUSTED,
    Hold,
    Quality,
    Reading,
    Snapshot,
    WorkloadKey,
    WorkloadMetrics,
)
from tenantops.structs.targets import target_for

_RANGE = re.compile(r"\[(\d+)([smhd])\]")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_window(queries: Mapping[str, str]) -> float:
    """The longest range selector (`[2m]`) in a tenant's queries, in seconds: how long rates under-read."""
    return float(max((int(n) * _UNIT[u] for q in queries.values() for n, u in _RANGE.findall(q)), default=0))
RECENT = 3  # live counts remembered per workload: a replicas metric may lag that many passes


@dataclass(frozen=True, slots=True)
class SaneLimits:
    """The largest value a reading of each kind can truthfully have, for one workload.

    Generous on purpose (a workload of 100,000 replicas, 100,000 cores, a pebibyte of memory, a billion
    dollars): they exist to stop values that are impossible, not unusual. The kind is told by the metric
    name, as the MetricsPolicy names them: `*replicas*`, `cpu*`, `memory*`, `*usd*`; anything else is
    held to `other`.
    """

    replicas: float = 100_000
    cpu_cores: float = 100_000
    memory_bytes: float = 2.0**50
    usd: float = 1e9
    other: float = 1e12
    egress_bytes_per_second: float = 1.25e11  # a terabit a second out of one tenant (`observe.network`)
    replicas_tolerance: float = 0.1  # fraction of the live count a replicas metric may differ by
    replicas_slack: float = 1.0  # and at least this many replicas

    def limit(self, metric: str) -> float:
        if "usd" in metric:
            return self.usd
        if "replicas" in metric:
            return self.replicas
        if metric.startswith("cpu"):
            return self.cpu_cores
        if metric.startswith("memory"):
            return self.memory_bytes
        return self.other

    def agrees(self, reported: float, live: float) -> bool:
        return abs(reported - live) <= max(self.replicas_slack, self.replicas_tolerance * live)


def sane(reading: Reading, limit: float) -> Reading:
    """The reading, or the same reading marked IMPLAUSIBLE when its value exceeds `limit`."""
    if reading.value is not None and reading.quality in (Quality.OK, Quality.STALE) and \
            (not math.isfinite(reading.value) or reading.value > limit):
        return Reading(None, Quality.IMPLAUSIBLE, reading.sampled_at)
    return reading


class FactChecker:
    """Runs after the metrics source, before any decider. Holds the last few live counts per workload."""

    def __init__(self, live: LiveReplicas | None = None, limits: SaneLimits | None = None) -> None:
        self.live = live
        self.limits = limits or SaneLimits()
        # A tuple per workload, not a deque: at 30,000 workloads a deque's fixed 600 bytes is most of the
        # memory the controller keeps between passes.
        self._recent: dict[WorkloadKey, tuple[int, ...]] = {}
        self._absent: set[WorkloadKey] = set()  # workloads whose metrics were missing last pass
        self._recovering: dict[WorkloadKey, float] = {}  # until when (epoch seconds) rates under-read
        self._limit_of: dict[str, float] = {}  # `limits.limit` by metric name: a handful of names, 230,000 readings

    def establish(self, snapshot: Snapshot, config: Config, tenants: Sequence[Tenant], now: datetime) -> Snapshot:
        env = config.catalog.environment
        targets: dict[WorkloadKey, ScaleTarget] = {
            (t.id, w.name): target_for(env, t, w.name) for t in tenants for w in t.workloads
        }
        live = self.live.read(list(targets.values())) if self.live is not None else LiveRead({})
        workloads = dict(snapshot.workloads)
        holds: dict[WorkloadKey, Hold] = dict(snapshot.holds)
        by_id = {t.id: t for t in tenants}
        names: dict[int, _Expected] = {}  # this pass's queries' reading names, once per resolved policy
        for key, target in targets.items():
            readings = {name: sane(r, self._limit(name)) for name, r in snapshot.get(*key).readings.items()}
            count = self._live_count(key, target, live, readings, now)
            queries = config.for_tenant(by_id[key[0]]).metrics.queries
            expected = names.get(id(queries))
            if expected is None:
                expected = names[id(queries)] = _Expected.of(queries)
            recovering = self._after_gap(key, readings, expected, now)  # tracked every pass, gap or not
            hold = self._hold(key, readings, count, expected, now) or recovering
            if hold is not None:
                holds[key] = hold
            workloads[key] = WorkloadMetrics(key[0], key[1], readings)
        for gone in set(self._recent) - set(targets):
            del self._recent[gone]
        self._absent &= set(targets)
        return Snapshot(snapshot.at, workloads, (*snapshot.errors, *live.errors), holds, snapshot.clock)

    def _limit(self, metric: str) -> float:
        found = self._limit_of.get(metric)
        if found is None:
            found = self._limit_of[metric] = self.limits.limit(metric)
        return found

    def _live_count(self, key: WorkloadKey, target: ScaleTarget, live: LiveRead, readings: dict[str, Reading],
                    now: datetime) -> ReplicaCount | None:
        """Put the live count in `replicas`/`ready_replicas` (the metric's value moves to `replicas_reported`)."""
        if target.kind not in live.covered:
            reading = readings.get(REPLICAS)
            if reading is not None and reading.ok and reading.value is not None:
                return ReplicaCount(round(reading.value), round(reading.value))
            return None
        if REPLICAS in readings:
            readings[REPORTED] = readings[REPLICAS]
        count = live.counts.get(target)
        if count is None:  # unknown (reader failed) or absent (no such object): no count to stand on
            readings[REPLICAS] = readings[READY] = Reading(None, Quality.MISSING)
            self._recent.pop(key, None)
            return None
        readings[REPLICAS] = Reading(float(count.desired), Quality.OK, now)
        readings[READY] = Reading(float(count.ready), Quality.OK, now)
        return count

    def _after_gap(self, key: WorkloadKey, readings: Mapping[str, Reading], expected: _Expected,
                   now: datetime) -> Hold | None:
        """`recovering` for one rate window after the workload's metrics come back from a gap."""
        present = any(readings.get(name, MISSING).ok for name in expected.others)
        at = now.timestamp()
        if not present:
            self._absent.add(key)
            self._recovering.pop(key, None)
            return None
        if key in self._absent:
            self._absent.discard(key)
            self._recovering[key] = at + rate_window(expected.queries)
        until = self._recovering.get(key)
        if until is None:
            return None
        if at >= until:
            del self._recovering[key]
            return None
        return Hold("recovering", f"metrics back after a gap; rate windows full in {until - at:.0f}s", blocks=False)

    def _hold(self, key: WorkloadKey, readings: dict[str, Reading], count: ReplicaCount | None,
              expected: _Expected, now: datetime) -> Hold | None:
        recent = self._recent.get(key, ())
        if count is not None:
            recent = self._recent[key] = (*recent[1 - RECENT:], count.desired) if RECENT > 1 else (count.desired,)
        if count is not None and count.desired == 0:
            for name in expected.others:  # nothing runs, so nothing reports: zero is the fact
                if readings.get(name, MISSING).quality is Quality.MISSING:
                    readings[name] = Reading(0.0, Quality.OK, now)
        if any(r.quality in UNTRUSTED for r in readings.values()):
            untrusted = sorted(f"{name} {r.quality}" for name, r in readings.items() if r.quality in UNTRUSTED)
            return Hold("implausible", f"untrusted readings: {', '.join(untrusted)}")
        reported = readings.get(REPORTED)
        if count is not None and reported is not None and reported.ok and reported.value is not None and \
                not any(self.limits.agrees(reported.value, float(v)) for v in recent):
            return Hold("disagrees", f"replicas metric says {reported.value:g}, the live count is {count.desired}"
                        f" (recent: {', '.join(str(v) for v in recent)})")
        if count is not None and count.desired > 0:
            others = expected.others
            if others and all(readings.get(name, MISSING).quality is Quality.MISSING for name in others):
                return Hold("no-metrics", f"{count.desired} replicas run but no series exists for"
                            f" {', '.join(sorted(others))}", blocks=False)
        return None


@dataclass(frozen=True, slots=True)
class _Expected:
    """A tenant's metrics queries and the readings they give besides the replica counts (`others`), in
    query order: worked out once a pass per resolved policy, not once per workload."""

    queries: Mapping[str, str]
    others: tuple[str, ...]

    @classmethod
    def of(cls, queries: Mapping[str, str]) -> _Expected:
        return cls(queries, tuple(name for query in queries for name in reading_names(query)
                                  if name not in (REPLICAS, READY)))
