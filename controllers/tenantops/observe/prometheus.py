"""The Prometheus metrics source: a fixed handful of batched queries per pass, whatever the tenant count.

Each query of a tenant's MetricsPolicy aggregates `by (tenant, workload)`, so one request answers for
every tenant. Tenants are grouped by their resolved policy and identical query texts are sent once, so
the number of requests is the number of distinct queries (7 with the default policy) plus one for
Prometheus' clock, never a multiple of the tenant count (the overload KEDA users hit at ~1,500 scaled
objects; `docs/benchmarks.md` §3 allows 10 per pass).

Clock. Freshness is judged by Prometheus' clock, not the controller's: each pass first asks for `time()`
(an instant query evaluated at Prometheus' now) and takes the offset between that and the controller's
clock, read around the request. The pass's queries are then evaluated at the pass time shifted by that
offset (whole seconds), so a controller whose clock runs two minutes behind does not read two-minute-old
data as current, and one ten minutes ahead does not ask for a future where nothing exists yet. The
offset, measured or (when the clock query fails) the last one measured, travels in `Snapshot.clock`; a
skew beyond the ControllerPolicy's tolerance is one alert (`decide.facts`). The controller's clock is
injected (`clock`), as the runner's is, so a skewed controller is tested without patching anything.

Resolution. Queries are stamped to the millisecond, Prometheus' own resolution, and answers compared at
the same resolution: the pass reads the data as of its own instant. (The client library rounds a range
query's `start_time`/`end_time` to whole seconds; the same parameters given in `params` take their place.)
Cut to the whole second, a pass would read data up to a second older than it could; under a compressed
clock (a replay at 60x, a pass every half wall second) that second is a trace minute: every other pass
re-read the data of the one before, and a rise was seen 30 trace seconds later on average.

Staleness is decided here, once, and nowhere else: each reading is OK or STALE when it leaves this
module, and the deciders read that verdict. An instant query cannot say how old the sample behind a
computed value is, so each query is sent as a two-point range query: at the evaluation time and
`stale_after_seconds` (MetricsPolicy) before it. A series with a point at the evaluation time is current
(Prometheus's own staleness markers and lookback already apply); one that only has the earlier point
stopped reporting and is marked STALE with its last value; one with neither is MISSING. This costs one
extra evaluation per query, not one extra request.

Deadline. All of a pass's queries share one budget, `QUERY_BUDGET` of the controller's interval: each
request gets what is left of it (halved, as the client retries once) as its timeout, and Prometheus the
same as its own evaluation `timeout`; once it is spent the remaining queries are skipped and listed in
`errors`. A frozen Prometheus (accepting connections, never answering) costs a pass a third of its
interval, not 7 queries x 2 tries x 30 s.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from prometheus_api_client import PrometheusConnect

from tenantops.collector import collector_paused
from tenantops.config.catalog import Tenant
from tenantops.config.kinds.metrics import split_of
from tenantops.config.loader import Config
from tenantops.endpoints import Unreachable, unreachable
from tenantops.observe.prom_client import (
    PrometheusAccess,
    api_time,
    api_timeout,
    connect,
    describe_failure,
    millis,
)
from tenantops.structs.snapshot import Quality, Reading, Snapshot, SourceClock, WorkloadKey, WorkloadMetrics

log = logging.getLogger(__name__)

QUERY_BUDGET = 1 / 3  # of the controller's interval, for all of one pass's queries together
CLOCK_QUERY = "time()"  # evaluated at Prometheus' now: its clock, in the same API the data comes from
CLOCK_LABEL = "clock"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    """One request of a pass: a PromQL text, the staleness limit it runs with, and who reads its answer.

    `readers` maps each metric name bound to this text to the tenants whose policy binds it (two
    policies may give the same query different names, or the same name to different queries).
    """

    promql: str
    stale_after_seconds: int
    readers: Mapping[str, frozenset[str]]

    @property
    def label(self) -> str:
        return ",".join(sorted(self.readers))


def plan_queries(config: Config, tenants: Sequence[Tenant]) -> list[PlannedQuery]:
    """Group tenants by their resolved metrics policy and merge identical (query, staleness) pairs.

    Pure and cheap (tenants without overrides share one resolved policy object), so it runs every pass
    and a hot-reloaded policy takes effect at the next pass.
    """
    by_text: dict[tuple[str, int], dict[str, set[str]]] = {}
    for tenant in tenants:
        metrics = config.for_tenant(tenant).metrics
        for name, promql in metrics.queries.items():
            readers = by_text.setdefault((promql.strip(), metrics.stale_after_seconds), {})
            readers.setdefault(name, set()).add(tenant.id)
    return [
        PlannedQuery(text, stale, {name: frozenset(ids) for name, ids in readers.items()})
        for (text, stale), readers in sorted(by_text.items())
    ]


class PrometheusSource:
    """A `MetricsSource` over prometheus-api-client's `PrometheusConnect` (one HTTP session, reused).

    `clock` is the controller's clock (the runner's): the offset to Prometheus' clock is measured against
    it, so a pass run for any instant (`observe(config, now)`, a replay of recorded history included) is
    evaluated at the same instant on Prometheus' clock.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, client: PrometheusConnect | None = None,
                 access: PrometheusAccess | None = None, clock: Clock = utc_now) -> None:
        self.url = url.rstrip("/")
        self.client = client if client is not None else connect(self.url, timeout, access)
        self.timeout = timeout
        self.clock = clock
        self.requests_sent = 0  # queries this source has sent, for the controller's own metrics and tests
        # Set by a pass in which Prometheus could not be reached at all (the CLI reports it in one line).
        self.unreachable: Unreachable | None = None
        self.offset_seconds: float | None = None  # Prometheus' clock minus the controller's, last measured

    def probe(self) -> None:
        """Ask the server the pass's own clock query (`_measure_offset`: `time()`, which every
        Prometheus-compatible API answers, through the same authentication and TLS); `Unreachable` (one
        line naming TENANTOPS_PROMETHEUS_URL) when it does not answer at all. For one-shot commands: a pass
        against a server that is down sees no metric, and its warnings (every query, the usage history)
        would bury the one line that says what to fix. An error status is not unreachable: the pass's own
        queries report it. The loop does not probe."""
        try:
            self._measure_offset(self.timeout)
        except Exception as exc:
            down = unreachable("TENANTOPS_PROMETHEUS_URL", self.url, exc)
            if down is not None:
                raise down from None

    @classmethod
    def from_settings(cls, settings: Any, clock: Clock = utc_now) -> Self:
        """At `TENANTOPS_PROMETHEUS_URL` with the authentication and TLS settings (`prom_client`)."""
        return cls(settings.prometheus_url, access=PrometheusAccess.from_settings(settings), clock=clock)

    def observe(self, config: Config, now: datetime, tenants: Sequence[Tenant] | None = None) -> Snapshot:
        """All selected tenants' metrics as of `now` (UTC, the controller's clock), evaluated at the same
        instant on Prometheus' clock; failed queries are in `errors`, never raised."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        selected = list(config.tenants if tenants is None else tenants)
        readings: dict[WorkloadKey, dict[str, Reading]] = {
            (t.id, w.name): {} for t in selected for w in t.workloads
        }
        errors: list[str] = []
        self.unreachable = None
        budget = max(1.0, config.policies.controller.interval_seconds * QUERY_BUDGET)
        deadline = time.monotonic() + budget
        with collector_paused():
            clock = self._source_clock(now, deadline, errors)
            at = clock.evaluated_at if clock is not None else now
            for planned in plan_queries(config, selected):
                if self.unreachable is not None:  # the server did not answer: the rest would wait the same
                    errors.append(f"{planned.label}: {self.unreachable.reason}")
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    errors.append(f"{planned.label}: skipped, the pass's query deadline ({budget:.1f}s) was reached")
                    continue
                try:
                    result = self._fetch(planned.promql, at, planned.stale_after_seconds, min(self.timeout, left / 2))
                except Exception as exc:  # any failure of one query: that metric is missing for all; go on
                    self._failed(planned.label, exc, errors)
                    continue
                absorb(result, planned, at, readings)
                del result
        workloads = {key: WorkloadMetrics(key[0], key[1], found) for key, found in readings.items()}
        return Snapshot(at=now, workloads=workloads, errors=tuple(errors), clock=clock)

    def _source_clock(self, now: datetime, deadline: float, errors: list[str]) -> SourceClock | None:
        """Prometheus' clock for this pass: measured, else the last offset measured, else None (the pass is
        evaluated at `now` as given, which is all that can be done before Prometheus ever answered)."""
        measured = False
        try:
            self.offset_seconds = self._measure_offset(min(self.timeout, max(deadline - time.monotonic(), 0.1) / 2))
            measured = True
        except Exception as exc:
            self._failed(CLOCK_LABEL, exc, errors, quiet_when_unreachable=True)
        if self.offset_seconds is None:
            return None
        # Whole seconds: the offset corrects a skewed clock and is measured with a request's latency in it; a
        # controller on Prometheus' own clock is evaluated at its own instant, not a few milliseconds off it.
        shift = timedelta(seconds=round(self.offset_seconds))
        return SourceClock(now + shift, round(-self.offset_seconds, 3), measured)

    def _measure_offset(self, timeout: float) -> float:
        """Prometheus' clock minus the controller's, in seconds: `time()` against the middle of the request."""
        self.requests_sent += 1
        before = self.clock().timestamp()
        result = self.client.custom_query(CLOCK_QUERY, params={"timeout": api_timeout(timeout)},
                                          timeout=timeout)
        after = self.clock().timestamp()
        try:
            evaluated = float(result[0])  # a scalar answer: [evaluation time, "value"]
        except (TypeError, ValueError, IndexError, KeyError):
            raise ValueError(f"unexpected answer to {CLOCK_QUERY}: {str(result)[:80]}") from None
        if not math.isfinite(evaluated):
            raise ValueError(f"unexpected answer to {CLOCK_QUERY}: {evaluated}")
        return evaluated - (before + after) / 2

    def _failed(self, label: str, exc: Exception, errors: list[str], *, quiet_when_unreachable: bool = False) -> None:
        """Record one failed request: an unreachable server stops the pass's remaining queries."""
        self.unreachable = unreachable("TENANTOPS_PROMETHEUS_URL", self.url, exc)
        if self.unreachable is not None:
            log.warning("Prometheus unreachable, every metric missing this pass: %s", self.unreachable,
                        extra={"endpoint": self.unreachable.url, "reason": self.unreachable.reason})
            if not quiet_when_unreachable:  # the queries that follow each say so
                errors.append(f"{label}: {self.unreachable.reason}")
            return
        reason = describe_failure(exc)
        log.warning("query %s failed: %s", label, reason)
        errors.append(f"{label}: {reason}")

    def _fetch(self, promql: str, at: datetime, stale_after: int,
               timeout: float | None = None) -> list[dict[str, Any]]:
        self.requests_sent += 1
        wait = self.timeout if timeout is None else timeout
        start = at - timedelta(seconds=stale_after)
        result = self.client.custom_query_range(
            promql, start_time=start, end_time=at, step=str(stale_after),
            params={"start": api_time(start), "end": api_time(at),  # see "Resolution" above
                    "timeout": api_timeout(wait)}, timeout=wait,
        )
        if not isinstance(result, list):
            raise ValueError(f"unexpected response shape: {type(result).__name__}")
        return result


def absorb(
    result: Iterable[Mapping[str, Any]],
    planned: PlannedQuery,
    now: datetime,
    readings: dict[WorkloadKey, dict[str, Reading]],
) -> int:
    """Turn one query's matrix, evaluated at `now` (Prometheus' clock), into readings for the tenants that
    read it: OK (or NaN, ...) with a point at `now`, STALE with only the earlier one. Returns series ignored.

    A query named as a split (`cpu_{kind=request|limit}`, `config.kinds.metrics`) gives each series the
    reading its label names. Series without `tenant`/`workload` labels (or the split's label), for
    workloads not in the catalogue, or with a malformed value or time are ignored (and counted) rather than failing
    the whole query: one odd exporter must not blind the controller to every other tenant.
    """
    end = millis(now)
    stamps: dict[float, tuple[datetime, bool]] = {}  # a query has at most two distinct stamps
    readers = list(planned.readers.items())
    splits = [(name, split_of(name)) for name, _ in readers]
    single = readers[0] if len(readers) == 1 and splits[0][1] is None else None
    ignored = 0
    for series in result:
        try:
            labels = series["metric"]
            key = (str(labels["tenant"]), str(labels["workload"]))
            raw_stamp, raw = series["values"][-1]
            stamp, value = float(raw_stamp), float(raw)
            seen = stamps.get(stamp)
            if seen is None:  # a NaN, infinite or out-of-range time is a malformed series like any other
                seen = stamps[stamp] = (datetime.fromtimestamp(stamp, UTC), round(stamp * 1000) >= end)
        except (KeyError, IndexError, TypeError, ValueError, OverflowError, OSError):
            ignored += 1
            continue
        found = readings.get(key)
        if found is None:
            ignored += 1
            continue
        at, fresh = seen
        if fresh:
            # The common case inline (NaN fails `>= 0`); anything unusual gets classified and marked.
            reading = Reading(value, Quality.OK, at) if 0 <= value < math.inf else Reading.classify(value, at)
        else:
            reading = Reading(value if math.isfinite(value) and value >= 0 else None, Quality.STALE, at)
        if single is not None:
            if key[0] in single[1]:
                found[single[0]] = reading
            continue
        for (name, tenant_ids), (_, split) in zip(readers, splits, strict=True):
            if key[0] not in tenant_ids:
                continue
            if split is not None:  # one query, several readings: the series' label names which
                named = split.names.get(labels.get(split.label, ""))
                if named is None:
                    ignored += 1
                    continue
                name = named
            found[name] = reading
    if ignored:
        log.debug("query %s: %d series ignored (unlabelled, unknown workload or malformed)", planned.label, ignored)
    return ignored
