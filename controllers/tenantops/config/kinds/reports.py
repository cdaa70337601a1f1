"""Cost report schedule and recipients (global)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import EmailStr, Field, field_validator

from tenantops.config.registry import Spec, policy_kind


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
    period_days: int = Field(default=7, gt=0)
    recipients: list[EmailStr] = Field(min_length=1)
    tenant_budget_mails: bool = True

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (minute hour day-of-month month day-of-week)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value
