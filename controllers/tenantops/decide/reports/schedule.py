"""When a report is due: a cron expression evaluated in the report policy's time zone (pure).

"Monday 08:00 in Europe/Berlin" must stay 08:00 across daylight-saving changes, so the expression is
evaluated in local time (zoneinfo) and compared in UTC. `due` answers whether a scheduled moment fell in
(last_run, now]; a controller that was down over the moment sends the report once when it comes back,
not once per missed week.

The expression matches wall-clock times, and each matching wall time is one moment, as cron runs it:
a time the autumn change repeats is the first of its two instants (the report keyed by it is not queued
a second time an hour later), and a time the spring change skips is the instant the clock jumps. While
the repeated hour runs, the wall clock is behind times already passed, so the latest moment is looked
for up to the shift ahead of it; otherwise the moment would step back to the day before and then
forward to a second 02:30.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from tenantops.config.kinds.reports import cron_problem


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None


def validate(schedule: str, timezone: str) -> None:
    """Raise ValueError naming what is wrong with a cron expression or time zone."""
    _zone(timezone)
    problem = cron_problem(schedule)
    if problem is not None:
        raise ValueError(problem)


# No zone moves its clocks by more than this in one change (tzdb's largest are 2 hours).
_MAX_SHIFT = timedelta(hours=3)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The moment a naive wall-clock time of `zone` stands for: its first instant when the autumn change
    repeats it, the instant the clock jumps when the spring change skips it."""
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap: fold=1 reads it with the offset after the change (an instant before the jump), fold=0
    # with the one before (an instant after it); the jump lies between, found to the second.
    low, high = wall.replace(tzinfo=zone, fold=1).astimezone(UTC), first.astimezone(UTC)
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0).astimezone(zone)


def _behind(local: datetime, zone: ZoneInfo) -> timedelta:
    """How far the wall clock now is behind wall times already passed (an autumn change within reach)."""
    earlier = (local.astimezone(UTC) - _MAX_SHIFT).astimezone(zone).utcoffset()
    current = local.utcoffset()
    if earlier is None or current is None:
        return timedelta(0)
    return max(timedelta(0), earlier - current)


def last_scheduled(schedule: str, timezone: str, now: datetime) -> datetime:
    """The latest scheduled moment at or before `now` (timezone-aware, in the policy's zone)."""
    return Schedule(schedule, timezone).last(now)


def next_scheduled(schedule: str, timezone: str, now: datetime) -> datetime:
    """The first scheduled moment after `now` (timezone-aware, in the policy's zone)."""
    return Schedule(schedule, timezone).next(now)


def due(schedule: str, timezone: str, last_run: datetime | None, now: datetime) -> bool:
    """True when a scheduled moment lies in (last_run, now]; with no last run, when one is at or before now."""
    return Schedule(schedule, timezone).due(last_run, now)


def _aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


class Schedule:
    """A policy's schedule bound to its zone: `Schedule(cron, tz).due(last_run, now)`. Validated once, here."""

    def __init__(self, cron: str, timezone: str = "UTC") -> None:
        validate(cron, timezone)
        self.cron = cron
        self.timezone = timezone
        self.zone = _zone(timezone)

    def due(self, last_run: datetime | None, now: datetime) -> bool:
        moment = self.last(now)
        if last_run is None:
            return moment <= now
        return last_run < moment <= now

    def last(self, now: datetime) -> datetime:
        _aware(now)
        local = now.astimezone(self.zone)
        # get_prev is strictly before its start; starting one whole second later includes `now` itself.
        start = local.replace(tzinfo=None, microsecond=0) + timedelta(seconds=1) + _behind(local, self.zone)
        matches = croniter(self.cron, start)
        while True:  # wall times map to moments in order, so the first one not after `now` is the latest
            moment = _instant(matches.get_prev(datetime), self.zone)
            if moment <= now:
                return moment

    def next(self, now: datetime) -> datetime:
        _aware(now)
        local = now.astimezone(self.zone)
        matches = croniter(self.cron, local.replace(tzinfo=None) - _behind(local, self.zone))
        while True:
            moment = _instant(matches.get_next(datetime), self.zone)
            if moment > now:
                return moment
