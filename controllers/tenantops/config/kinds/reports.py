"""Cost report schedule and recipients (global)."""

from __future__ import annotations

from pydantic import EmailStr, Field

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

    schedule: str = "0 8 * * 1"
    timezone: str = "UTC"
    period_days: int = Field(default=7, gt=0)
    recipients: list[EmailStr] = Field(min_length=1)
    tenant_budget_mails: bool = True
