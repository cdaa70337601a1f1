"""Trace time: the one clock the demo's controller, cost ledger, audit log and figures run on.

The demo replays `factor` seconds of recorded time per wall second (60 at `--speed 1`). The controller
runs on trace time, exactly as it would in production on real time: its stabilisation windows, start-up
delays, cost per hour and alert timers keep their policy values and simply pass 60x faster, so a pass
one wall second after another is a minute later for everything it decides, charges and records.

Prometheus stores what it scrapes at wall time, so the metrics source is the one place where the two
clocks meet: `TraceTimeSource` queries Prometheus at the wall instant a trace time maps to and stamps the
snapshot (and each reading's sample time) back in trace time. History that was backfilled before the
replay started is stored at its trace times, which are wall times there: the mapping is the identity
before `origin`.

    trace(w) = origin_trace + (w - origin_wall) * factor        for w >= origin_wall

Where the history ends (`replay_origin`) is at a fixed phase of the UTC week, not "now": which recorded
minute falls on which UTC hour, day and weekday decides the daily and hourly cost the anomaly detector
judges (its baselines are the same weekday, and weekdays apart from weekends), so a history laid before
the wall clock found two anomalies at one hour and none at the next. Laid at a fixed phase, every run
replays the same month; the trace clock then runs behind the wall clock by up to a week.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tenantops.config.catalog import Tenant
from tenantops.config.loader import Config
from tenantops.observe.source import MetricsSource
from tenantops.structs.snapshot import Reading, Snapshot, WorkloadMetrics

WEEK = 7 * 86400.0
_MONDAY = 4 * 86400.0  # 1970-01-05, the first Monday of the epoch (1970-01-01 was a Thursday)
REPLAY_WEEKDAY = 1  # Tuesday (Monday = 0)
REPLAY_TIME = 12 * 3600.0 + 24 * 60.0  # 12:24 UTC


def replay_origin(latest: float, weekday: int = REPLAY_WEEKDAY, time_of_day: float = REPLAY_TIME) -> float:
    """The last instant at or before `latest` (epoch seconds) on `weekday` at `time_of_day` UTC: where the
    demo's history ends and its replay begins, the same phase of the week whenever the demo runs."""
    phase = _MONDAY + weekday * 86400.0 + time_of_day
    return latest - (latest - phase) % WEEK


@dataclass
class TraceClock:
    """Maps wall time to trace time from `origin_wall` on; before it, trace time is wall time."""

    origin_trace: float  # epoch seconds of trace time at the origin
    factor: float  # trace seconds per wall second
    origin_wall: float = field(default_factory=time.time)
    wall: Callable[[], float] = time.time

    def trace_at(self, wall: float) -> float:
        if wall < self.origin_wall:
            return wall
        return self.origin_trace + (wall - self.origin_wall) * self.factor

    def wall_at(self, trace: float) -> float:
        if trace < self.origin_trace:
            return trace
        return self.origin_wall + (trace - self.origin_trace) / self.factor

    def now(self) -> datetime:
        """The current trace time (the controller's `Runner` clock)."""
        return datetime.fromtimestamp(self.trace_at(self.wall()), UTC)

    def to_wall(self, moment: datetime) -> datetime:
        return datetime.fromtimestamp(self.wall_at(moment.timestamp()), UTC)

    def to_trace(self, moment: datetime) -> datetime:
        return datetime.fromtimestamp(self.trace_at(moment.timestamp()), UTC)

    def trace_seconds(self, wall_seconds: float) -> float:
        """A wall-clock duration of the replay in trace seconds."""
        return wall_seconds * self.factor

    def reset(self, origin_trace: float, origin_wall: float | None = None) -> None:
        """Start the replay's mapping now (or at `origin_wall`): the live part begins where history ends."""
        self.origin_trace = origin_trace
        self.origin_wall = self.wall() if origin_wall is None else origin_wall


class TraceTimeSource:
    """A metrics source read at the wall instant of a trace time, returning a snapshot in trace time."""

    def __init__(self, inner: MetricsSource, clock: TraceClock) -> None:
        self.inner = inner
        self.clock = clock

    def observe(self, config: Config, now: datetime, tenants: Sequence[Tenant] | None = None) -> Snapshot:
        snapshot = self.inner.observe(config, self.clock.to_wall(now), tenants)
        workloads = {
            key: WorkloadMetrics(w.tenant, w.workload, {name: self._reading(r) for name, r in w.readings.items()})
            for key, w in snapshot.workloads.items()
        }
        return Snapshot(now, workloads, snapshot.errors)

    def _reading(self, reading: Reading) -> Reading:
        if reading.sampled_at is None:
            return reading
        return Reading(reading.value, reading.quality, self.clock.to_trace(reading.sampled_at))
