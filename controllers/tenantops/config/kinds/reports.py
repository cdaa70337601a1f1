"""Cost report schedule and recipients (global)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from pydantic import EmailStr, Field, field_validator

from tenantops.config.kinds.common import Days
from tenantops.config.registry import Spec, policy_kind

_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_SOME_DAY = datetime(2026, 1, 1, tzinfo=UTC)


def cron_problem(value: str) -> str | None:
    """What is wrong with a report schedule, or None: five cron fields (or an alias such as @weekly)
    that match some date. croniter also takes a seconds and a year field, and accepts dates no month has
    (31 February); such a schedule would pass here and then fail every pass, so no report went out."""
    fields = value.split()
    if not croniter.is_valid(value) or not (len(fields) == 5 or (len(fields) == 1 and value.strip() in _ALIASES)):
        return f"{value!r} is not a cron expression (minute hour day-of-month month day-of-week)"
    try:
        croniter(value, _SOME_DAY).get_next(datetime)
        croniter(value, _SOME_DAY).get_prev(datetime)
    except CroniterBadDateError:
        return f"{value!r} matches no date (such as 31 February), so the report would never go out"
    return None


@policy_kind("ReportPolicy", scope="global")
class ReportSpec(Spec):
    """When the cost report goes out and to whom.

    Example:
        kind: ReportPolicy
        name: default
        spec:
          schedule: "0 8 * * 1"
          timezone: Europe/Berlin
          period_days: 7
          recipients: [ops@example.com]
          tenant_budget_mails: true
    """

    schedule: str = "0 8 * * 1"  # cron: minute hour day-of-month month day-of-week, in `timezone`
    timezone: str = "UTC"
    period_days: Days = 7
    recipients: list[EmailStr] = Field(min_length=1)
    tenant_budget_mails: bool = True

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value
