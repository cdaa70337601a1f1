"""`ReportData`: every figure the cost report shows, computed once, rendered many ways.

The HTML, the plain text, the CSV and the charts all read the same `ReportData`, so the four can never
disagree about a number. It is plain data (JSON via `to_json`) so `tenantops report --json` prints exactly
what the mail shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any


class BudgetStatus(StrEnum):
    """Where a tenant's month stands against its budget, worst first when sorted by `rank`."""

    OVER = "over budget"  # month-to-date already above the budget
    AT_RISK = "at risk"  # forecast crosses a forecast threshold
    WATCH = "watch"  # month-to-date crossed the lowest actual threshold
    OK = "ok"
    NO_DATA = "no data"  # no spend recorded this month: nothing to judge, not "on track"
    NO_BUDGET = "no budget"

    @property
    def rank(self) -> int:
        return list(BudgetStatus).index(self)


def change_percent(current: float, previous: float) -> float | None:
    """Percent change; None when spend appeared from nothing (shown as "new", not +inf); 0 when both are 0."""
    if previous <= 0:
        return 0.0 if current <= 0 else None
    return (current - previous) / previous * 100.0


@dataclass(frozen=True, slots=True)
class DailySpend:
    day: date
    usd: float | None  # None: no tenant had a known figure that day (the controller was down)


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One tenant's month against its budget, from the cost engine's forecast."""

    month_to_date_usd: float
    budget_usd: float
    forecast_usd: float
    forecast_low_usd: float
    forecast_high_usd: float
    burn_rate: float | None
    method: str
    status: BudgetStatus

    @property
    def month_to_date_percent(self) -> float | None:
        return self.month_to_date_usd / self.budget_usd * 100 if self.budget_usd > 0 else None

    @property
    def forecast_percent(self) -> float | None:
        return self.forecast_usd / self.budget_usd * 100 if self.budget_usd > 0 else None


@dataclass(frozen=True, slots=True)
class TenantRow:
    """One line of the report's table: a tenant, or an unallocated bucket (`is_bucket`)."""

    tenant: str
    name: str
    tier: str
    cost_usd: float
    previous_usd: float
    change_usd: float
    change_percent: float | None
    share_percent: float
    days_known: int
    budget: BudgetLine | None = None
    savings_usd_month: float = 0.0
    contacts: tuple[str, ...] = ()
    is_bucket: bool = False


@dataclass(frozen=True, slots=True)
class AlertRow:
    severity: str
    tenant: str | None
    cause: str
    summary: str
    amount_usd: float | None
    since: datetime
    active: bool = True  # still reported by the controller when the report was made
    cleared_at: datetime | None = None
    last_seen: datetime | None = None

    @property
    def kind(self) -> str:
        """`budget`, `anomaly` or `other`, from the alert's cause (`budget-*`, `cost-anomaly-*`)."""
        if self.cause.startswith("budget"):
            return "budget"
        return "anomaly" if "anomaly" in self.cause else "other"


@dataclass(frozen=True, slots=True)
class SavingRow:
    """A right-sizing recommendation's monthly saving, as the right-sizing engine priced it."""

    tenant: str
    workload: str
    monthly_saving_usd: float
    detail: str = ""
    risk: str = ""


@dataclass(frozen=True, slots=True)
class CapacitySummary:
    """The capacity plan in the report: the fleet's monthly forecast with its 80% interval, the cost to
    serve one customer as the fleet grows, and the commitments worth making (`tenantops plan` has it all)."""

    months: tuple[str, ...]
    point_usd: tuple[float, ...]
    low_usd: tuple[float, ...]
    high_usd: tuple[float, ...]
    unit_cost_summary: str
    curve: tuple[tuple[int, float], ...]  # (customers, USD per customer per month)
    curve_parts: tuple[tuple[str, tuple[float, ...]], ...]  # component -> USD per customer at each size
    commitments: tuple[str, ...]
    commitment_saving_usd_month: float


@dataclass(frozen=True, slots=True)
class NetworkLine:
    """Network transfer this month (the ledger's `network` component), or why it is not measured: a
    cluster without the network-costs daemonset has no network cost known, which is not $0."""

    month: str
    month_to_date_usd: float
    tenants_measured: int  # tenants in scope whose month has a measured network component
    not_measured: str = ""  # why the controller's last pass had no network transfer; "" when it had

    @property
    def sentence(self) -> str:
        if self.not_measured:
            earlier = (f" (${self.month_to_date_usd:,.2f} was measured earlier in {self.month})"
                       if self.tenants_measured else "")
            return (f"Network transfer: not measured ({self.not_measured}); the costs above include no data "
                    f"transfer{earlier}.")
        return (f"Network transfer in {self.month} so far: ${self.month_to_date_usd:,.2f} over "
                f"{self.tenants_measured} tenant(s) (internet, inter-region and inter-zone egress; same-zone "
                "traffic is free).")


def period_words(start: date, end: date) -> str:
    """The UTC days [start, end) as a report names them wherever it does (its title and mail subject, the
    text's period line, the no-data note): one date for a one-day period, else its first and last day."""
    last = end - timedelta(days=1)
    return start.isoformat() if last <= start else f"{start.isoformat()} to {last.isoformat()}"


def days_words(count: int) -> str:
    """A run of days as the report's phrases name it: "day" for one ("the day before", "vs previous day"),
    "7 days" for seven ("the 7 days before")."""
    return "day" if count == 1 else f"{count} days"


@dataclass(frozen=True)
class ReportData:
    """The cost report for [period_start, period_end) (UTC days; end exclusive) against the period before."""

    generated_at: datetime
    period_start: date
    period_end: date
    previous_start: date
    timezone: str
    total_usd: float
    previous_total_usd: float
    rows: tuple[TenantRow, ...]
    daily: tuple[DailySpend, ...]
    previous_daily: tuple[DailySpend, ...]
    alerts: tuple[AlertRow, ...] = ()  # open now, or fired during the period
    savings: tuple[SavingRow, ...] = ()
    notes: tuple[str, ...] = ()
    currency: str = "USD"
    top_mover_count: int = 5
    extra: dict[str, Any] = field(default_factory=dict)
    capacity: CapacitySummary | None = None
    scope: tuple[str, ...] = ()  # the tenants a tenant's own report (its budget mail) is for; () the fleet's
    network: NetworkLine | None = None

    @property
    def period_days(self) -> int:
        return (self.period_end - self.period_start).days

    @property
    def period(self) -> str:
        """The period as every rendering names it (`period_words`)."""
        return period_words(self.period_start, self.period_end)

    @property
    def has_data(self) -> bool:
        """Whether any spend was recorded in the period: without it no figure of the report means anything."""
        return any(d.usd is not None for d in self.daily) or self.total_usd > 0

    @property
    def open_alerts(self) -> tuple[AlertRow, ...]:
        return tuple(a for a in self.alerts if a.active)

    def alert_count(self, kind: str) -> int:
        return sum(1 for a in self.alerts if a.kind == kind)

    @property
    def change_usd(self) -> float:
        return round(self.total_usd - self.previous_total_usd, 6)

    @property
    def change_percent(self) -> float | None:
        return change_percent(self.total_usd, self.previous_total_usd)

    @property
    def tenant_rows(self) -> tuple[TenantRow, ...]:
        return tuple(r for r in self.rows if not r.is_bucket)

    @property
    def bucket_rows(self) -> tuple[TenantRow, ...]:
        return tuple(r for r in self.rows if r.is_bucket)

    @property
    def top_movers(self) -> tuple[TenantRow, ...]:
        """Tenants whose spend moved most in dollars, either way; unchanged tenants are not movers."""
        moved = [r for r in self.tenant_rows if abs(r.change_usd) >= 0.005]
        moved.sort(key=lambda r: (-abs(r.change_usd), r.tenant))
        return tuple(moved[: self.top_mover_count])

    @property
    def budget_rows(self) -> tuple[TenantRow, ...]:
        """Tenants with a budget, worst status first, then highest forecast share of budget."""
        rows = [(r, r.budget) for r in self.tenant_rows
                if r.budget is not None and r.budget.status not in (BudgetStatus.NO_BUDGET, BudgetStatus.NO_DATA)]
        rows.sort(key=lambda rb: (rb[1].status.rank, -(rb[1].forecast_percent or 0.0), rb[0].tenant))
        return tuple(r for r, _ in rows)

    @property
    def budget_counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in BudgetStatus}
        for r in self.tenant_rows:
            if r.budget is not None:
                counts[str(r.budget.status)] += 1
        return counts

    @property
    def total_savings_usd_month(self) -> float:
        return round(sum(s.monthly_saving_usd for s in self.savings), 6)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["change_usd"] = self.change_usd
        out["change_percent"] = self.change_percent
        out["top_movers"] = [r.tenant for r in self.top_movers]
        out["budget_counts"] = self.budget_counts
        out["total_savings_usd_month"] = self.total_savings_usd_month
        out["has_data"] = self.has_data
        return out
