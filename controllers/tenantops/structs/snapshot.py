"""What the controller saw in one pass: every tenant's metrics, stamped with the time they were read.

A value is never silently turned into zero: a reading carries its quality, so the decision core can tell
"no load" from "no data" and refuse to scale down on the latter.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from tenantops.structs.replicas import REPORTED


class Quality(StrEnum):
    """Why a reading can or cannot be trusted."""

    OK = "ok"
    MISSING = "missing"  # no series for this tenant/workload
    STALE = "stale"  # the newest sample is older than the policy's staleness limit (judged once, when read)
    NAN = "nan"
    INF = "inf"
    NEGATIVE = "negative"
    IMPLAUSIBLE = "implausible"  # finite but outside the sane range for its kind (1e300 CPU cores)


UNTRUSTED = frozenset({Quality.NAN, Quality.INF, Quality.NEGATIVE, Quality.IMPLAUSIBLE})
"""Qualities that mean a source reported something that cannot be true (as opposed to nothing at all)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One metric value for one workload, with its quality and the time of its newest sample."""

    value: float | None
    quality: Quality = Quality.OK
    sampled_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.quality is Quality.OK and self.value is not None

    @staticmethod
    def classify(value: float, sampled_at: datetime | None = None) -> Reading:
        """Build a reading from a raw float, marking NaN, infinities and negatives instead of trusting them."""
        if math.isnan(value):
            return Reading(None, Quality.NAN, sampled_at)
        if math.isinf(value):
            return Reading(None, Quality.INF, sampled_at)
        if value < 0:
            return Reading(None, Quality.NEGATIVE, sampled_at)
        return Reading(value, Quality.OK, sampled_at)


MISSING = Reading(None, Quality.MISSING)

WorkloadKey = tuple[str, str]
"""(tenant id, workload name): how series are identified everywhere (Prometheus labels `tenant`, `workload`)."""


@dataclass(frozen=True, slots=True)
class WorkloadMetrics:
    """All readings for one workload in one pass, keyed by metric name (names come from the metrics policy)."""

    tenant: str
    workload: str
    readings: Mapping[str, Reading] = field(default_factory=dict)

    def get(self, metric: str) -> Reading:
        return self.readings.get(metric, MISSING)

    def replicas_scraped(self) -> int | None:
        """How many replicas the scrape's sums over pods (requests, limits) are over: the replicas metric
        of the same scrape, kept as `structs.replicas.REPORTED` once the live count has taken `replicas`.
        None when that scrape counted no replica.

        A sum divided by any other count is no per-pod figure: the live count is read at the pass and
        runs ahead of the scrape right after a scale, and a mean over a history window lags it further.
        """
        reported = self.get(REPORTED)
        return round(reported.value) if reported.ok and reported.value is not None and reported.value >= 1 else None


@dataclass(frozen=True, slots=True)
class Hold:
    """Why the facts about a workload do not add up this pass, and whether that forbids scaling it.

    `cause` is one of `implausible` (a value outside its sane range) or `disagrees` (the replicas metric
    contradicts the live count), which hold the workload (`blocks` is True), or `no-metrics` (replicas
    run but no other series exists yet), which does not: the usual freeze on missing metrics applies, and
    only the alert is the facts decider's, so that a burst of new tenants is one alert.
    """

    cause: str
    detail: str
    blocks: bool = True


@dataclass(frozen=True, slots=True)
class SourceClock:
    """The metrics source's clock as one pass measured it: what every reading's freshness was judged by.

    A reading is fresh or STALE by the source's own evaluation time, never by the controller's clock, so
    a controller whose clock runs behind does not take old data as fresh and one that runs ahead does not
    see everything as stale. The skew itself is a fact of the pass, alerted on by the facts decider.
    """

    evaluated_at: datetime  # the instant the pass's queries were evaluated at, on the source's clock
    skew_seconds: float  # the controller's clock minus the source's (positive: the controller is ahead)
    measured: bool = True  # False: the source's time could not be read this pass; the last offset was used


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every workload's metrics at one instant. Built once per pass by a metrics source, never mutated."""

    at: datetime
    workloads: Mapping[WorkloadKey, WorkloadMetrics]
    errors: tuple[str, ...] = ()  # queries that failed this pass (metric name: reason)
    holds: Mapping[WorkloadKey, Hold] = field(default_factory=dict)  # workloads nothing may scale this pass
    clock: SourceClock | None = None  # the source's clock this pass (None: a source that has no clock of its own)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Snapshot.at must be timezone-aware (UTC)")
        if not isinstance(self.workloads, MappingProxyType):
            object.__setattr__(self, "workloads", MappingProxyType(dict(self.workloads)))
        if not isinstance(self.holds, MappingProxyType):
            object.__setattr__(self, "holds", MappingProxyType(dict(self.holds)))

    def get(self, tenant: str, workload: str) -> WorkloadMetrics:
        found = self.workloads.get((tenant, workload))
        return found if found is not None else WorkloadMetrics(tenant, workload)

    def reading(self, tenant: str, workload: str, metric: str) -> Reading:
        return self.get(tenant, workload).get(metric)

    def __iter__(self) -> Iterator[WorkloadMetrics]:
        return iter(self.workloads.values())

    def __len__(self) -> int:
        return len(self.workloads)
