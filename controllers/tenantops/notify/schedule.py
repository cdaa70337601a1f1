"""When a report is due: a cron expression evaluated in the report policy's time zone (pure).

"Monday 08:00 in Europe/Berlin" must stay 08:00 across daylight-saving changes, so the expression is
evaluated in local time (zoneinfo) and compared in UTC. `due` answers whether a scheduled moment fell in
(last_run, now]; a controller that was down over the moment sends the report once when it comes back,
not once per missed week.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None


def validate(schedule: str, timezone: str) -> None:
    """Raise ValueError naming what is wrong with a cron expression or time zone."""
    _zone(timezone)
    if not croniter.is_valid(schedule):
        raise ValueError(f"{schedule!r} is not a cron expression (minute hour day-of-month month day-of-week)")


def last_scheduled(schedule: str, timezone: str, now: datetime) -> datetime:
    """The latest scheduled moment at or before `now` (timezone-aware, in the policy's zone)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    validate(schedule, timezone)
    local = now.astimezone(_zone(timezone))
    # get_prev is strictly before its start; starting one whole second later includes `now` itself.
    start = local.replace(microsecond=0) + timedelta(seconds=1)
    moment: datetime = croniter(schedule, start).get_prev(datetime)
    return moment


def next_scheduled(schedule: str, timezone: str, now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    validate(schedule, timezone)
    moment: datetime = croniter(schedule, now.astimezone(_zone(timezone))).get_next(datetime)
    return moment


def due(schedule: str, timezone: str, last_run: datetime | None, now: datetime) -> bool:
    """True when a scheduled moment lies in (last_run, now]; with no last run, when one is at or before now."""
    moment = last_scheduled(schedule, timezone, now)
    if last_run is None:
        return moment <= now
    return last_run < moment <= now


class Schedule:
    """A policy's schedule bound to its zone: `Schedule(cron, tz).due(last_run, now)`."""

    def __init__(self, cron: str, timezone: str = "UTC") -> None:
        validate(cron, timezone)
        self.cron = cron
        self.timezone = timezone

    def due(self, last_run: datetime | None, now: datetime) -> bool:
        return due(self.cron, self.timezone, last_run, now)

    def last(self, now: datetime) -> datetime:
        return last_scheduled(self.cron, self.timezone, now)

    def next(self, now: datetime) -> datetime:
        return next_scheduled(self.cron, self.timezone, now)
