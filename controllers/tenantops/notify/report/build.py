"""Building `ReportData` from the cost engine's ledger, so every figure in the mail is the engine's own.

Nothing here re-derives a cost: spend comes from `Ledger.totals`/`Ledger.daily`, budgets and forecasts from
`Ledger.budget`, alerts from `Ledger.open_alerts`. This module only chooses the window, groups, sorts and
labels. The window is whole UTC days (the ledger's unit) ending before the day `now` falls in, so a report
never shows a half-finished day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tenantops.config import Config
from tenantops.config.catalog import Tenant
from tenantops.config.kinds.cost import BudgetSpec
from tenantops.decide.cost.budget import judged_forecast_percent
from tenantops.decide.cost.forecast import MonthForecast
from tenantops.decide.cost.ledger import Ledger
from tenantops.decide.cost.money import cents_adding_up, to_micro
from tenantops.notify.report.model import (
    AlertRow,
    BudgetLine,
    BudgetStatus,
    DailySpend,
    NetworkLine,
    ReportData,
    SavingRow,
    TenantRow,
    change_percent,
    period_words,
)
from tenantops.structs.jsonread import FindingsUnreadable
from tenantops.structs.rightsizing_findings import RightsizingFindings, WorkloadRecommendation

log = logging.getLogger("tenantops.notify.report")

BUCKET_LABELS = {"__idle__": "Idle capacity (unallocated)", "__shared__": "Shared services (unallocated)"}


def report_window(now: datetime, period_days: int) -> tuple[date, date, date]:
    """(previous_start, start, end): two back-to-back windows of whole UTC days, `end` exclusive = today."""
    if now.tzinfo is None:
        raise ValueError("report time must be timezone-aware")
    end = now.astimezone(UTC).date()
    start = end - timedelta(days=period_days)
    return start - timedelta(days=period_days), start, end


def budget_status(fc: MonthForecast, policy: BudgetSpec) -> BudgetStatus:
    """The tenant's budget standing, by the same thresholds its budget alerts use."""
    if fc.budget <= 0:
        return BudgetStatus.NO_BUDGET
    if fc.month_to_date <= 0 and fc.forecast <= 0:
        return BudgetStatus.NO_DATA
    actual = fc.percent_of_budget(fc.month_to_date) or 0.0
    forecast = judged_forecast_percent(fc)
    if actual >= 100:
        return BudgetStatus.OVER
    if policy.forecast_thresholds and forecast is not None and forecast >= min(policy.forecast_thresholds):
        return BudgetStatus.AT_RISK
    if policy.actual_thresholds and actual >= min(policy.actual_thresholds):
        return BudgetStatus.WATCH
    return BudgetStatus.OK


def savings_from(recommendations: Iterable[WorkloadRecommendation]) -> list[SavingRow]:
    """The savings right-sizing recommends, largest first.

    Per workload the saving of its requests and, for a silo tenant, of a smaller instance type: the
    larger of the two is the saving available, since they are alternatives for the same capacity and
    adding them would count it twice. Workloads without a positive saving are left out.
    """
    out: list[SavingRow] = []
    for rec in recommendations:
        requests = rec.saving_month or 0.0
        instance = rec.instance
        instance_saving = (instance.saving_month or 0.0) if instance is not None else 0.0
        best = max(requests, instance_saving)
        if best <= 0:
            continue
        if instance is not None and instance_saving > requests:
            detail = f"instance {instance.current} -> {instance.recommended}"
            risk = instance.risk_label
        else:
            detail = "requests " + ", ".join(
                f"{r} {_fmt_res(r, rec.resource(r).current)} -> {_fmt_res(r, rec.resource(r).recommended)}"
                for r in ("cpu", "memory"))
            risk = ""
        out.append(SavingRow(rec.tenant, rec.workload, round(best, 2), detail.strip(), risk))
    out.sort(key=lambda s: (-s.monthly_saving_usd, s.tenant, s.workload))
    return out


def savings_from_findings(findings: RightsizingFindings | None) -> list[SavingRow]:
    """Savings from a pass's right-sizing findings (none without them)."""
    return savings_from(findings.recommendations) if findings is not None else []


def savings_from_json(payload: Any) -> list[SavingRow]:
    """Savings from right-sizing findings as JSON (`tenantops rightsize --json`, or a pass's findings keyed
    by concern): each recommendation is read by its codec, and one that cannot be read is skipped with a
    log line naming the field."""
    body = payload.get("rightsizing", payload) if isinstance(payload, Mapping) else None
    rows = body.get("recommendations") if isinstance(body, Mapping) else None
    recommendations: list[WorkloadRecommendation] = []
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        try:
            recommendations.append(WorkloadRecommendation.from_json(row, f"recommendations[{i}]"))
        except FindingsUnreadable as exc:
            log.warning("skipping a malformed right-sizing recommendation: %s", exc)
    return savings_from(recommendations)


def _fmt_res(resource: str, value: Any) -> str:
    if not isinstance(value, int | float):
        return "?"
    if resource == "memory":
        return f"{value / 2**20:.0f}Mi"
    return f"{value * 1000:.0f}m"


def _budget_line(ledger: Ledger, tenant: Tenant, policy: BudgetSpec, now: datetime) -> BudgetLine:
    fc = ledger.budget(tenant.id, tenant.budget_usd_month, now)
    return BudgetLine(
        month_to_date_usd=round(fc.month_to_date, 2),
        budget_usd=fc.budget,
        forecast_usd=round(fc.forecast, 2),
        forecast_low_usd=round(fc.low, 2),
        forecast_high_usd=round(fc.high, 2),
        burn_rate=None if fc.burn_rate is None else round(fc.burn_rate, 3),
        method=fc.method,
        status=budget_status(fc, policy),
    )


def _daily_totals(per_tenant: Mapping[str, Mapping[date, float]], start: date, end: date) -> tuple[DailySpend, ...]:
    out = []
    day = start
    while day < end:
        known = [days[day] for days in per_tenant.values() if day in days]
        out.append(DailySpend(day, round(sum(known), 6) if known else None))
        day += timedelta(days=1)
    return tuple(out)


def build_report_data(
    config: Config,
    ledger: Ledger,
    now: datetime,
    *,
    period_days: int | None = None,
    savings: Iterable[SavingRow] = (),
    tenants: Sequence[str] | None = None,
    period_to: datetime | None = None,
) -> ReportData:
    """The report for the `period_days` whole UTC days before `period_to` (default `now`; the period
    length defaults to the ReportPolicy's), with budgets and alerts as of `now`.

    `tenants` restricts the report to those ids (a tenant-level budget mail); buckets are then left out.
    A scheduled report passes its scheduled moment as `period_to`, so one built late (the controller was
    down at the moment) covers the same days as one built on time, not days later ones. Both moments may
    carry any offset; the report is of the same UTC moment whichever.
    """
    if now.tzinfo is None:
        raise ValueError("report time must be timezone-aware")
    # The ledger's days and months are UTC ones: budgets, the capacity plan and alerts are read as of the
    # UTC moment. Read in the calendar of `now`'s offset, a report at 00:30+01:00 on the 1st (23:30 UTC on
    # the last day) took the month for the new one, with nothing spent in it yet.
    now = now.astimezone(UTC)
    spec = config.policies.reports
    days = period_days or spec.period_days
    if days <= 0:
        raise ValueError("period_days must be positive")
    previous_start, start, end = report_window(period_to or now, days)
    include_buckets = tenants is None
    current = ledger.daily(start, end, include_buckets=include_buckets)
    previous = ledger.daily(previous_start, start, include_buckets=include_buckets)
    catalog = {t.id: t for t in config.tenants}
    wanted = set(tenants) if tenants is not None else None
    if wanted is not None:  # a tenant's mail: its own spend only, in the table and in the daily series alike
        current = {n: days for n, days in current.items() if n in wanted}
        previous = {n: days for n, days in previous.items() if n in wanted}
    names = set(current) | set(previous) | (set(catalog) if wanted is None else set())
    if wanted is not None:
        names = (names | wanted) & wanted
    saving_rows = [s for s in savings if wanted is None or s.tenant in wanted]
    savings_by_tenant: dict[str, float] = {}
    for s in saving_rows:
        savings_by_tenant[s.tenant] = savings_by_tenant.get(s.tenant, 0.0) + s.monthly_saving_usd

    # Whole cents that add up: the TOTAL row is the sum of the lines a reader sees, in every rendering.
    costs = {n: c / 100 for n, c in cents_adding_up(
        {n: to_micro(sum(current.get(n, {}).values())) for n in names}).items()}
    previous_costs = {n: c / 100 for n, c in cents_adding_up(
        {n: to_micro(sum(previous.get(n, {}).values())) for n in names}).items()}
    total = round(sum(costs.values()), 2)
    rows: list[TenantRow] = []
    no_data: list[str] = []
    for name in names:
        cost = costs[name]
        prev = previous_costs[name]
        bucket = name in ledger.buckets
        if bucket and cost == 0 and prev == 0:
            continue
        tenant = catalog.get(name)
        budget = None
        if tenant is not None:
            budget = _budget_line(ledger, tenant, config.for_tenant(tenant).budget, now)
            if not current.get(name):
                no_data.append(name)
        rows.append(TenantRow(
            tenant=name,
            name=BUCKET_LABELS.get(name, tenant.display_name if tenant else name),
            tier=tenant.tier if tenant else ("—" if bucket else "(not in catalogue)"),
            cost_usd=cost,
            previous_usd=prev,
            change_usd=round(cost - prev, 2),
            change_percent=change_percent(cost, prev),
            share_percent=cost / total * 100 if total > 0 else 0.0,
            days_known=len(current.get(name, {})),
            budget=budget,
            savings_usd_month=round(savings_by_tenant.get(name, 0.0), 2),
            contacts=tuple(str(c) for c in tenant.contacts) if tenant else (),
            is_bucket=bucket,
        ))
    rows.sort(key=lambda r: (r.is_bucket, -r.cost_usd, r.tenant))

    notes: list[str] = []
    if not any(current.values()):
        notes.append(f"No cost data for {period_words(start, end)}: the controller recorded no spend in the "
                     "period, so there is nothing to compare or judge.")
    elif no_data:
        notes.append(f"No cost data in the period for {len(no_data)} tenant(s): {', '.join(sorted(no_data))}.")
    daily = _daily_totals(current, start, end)
    missing = [d.day.isoformat() for d in daily if d.usd is None]
    if missing:
        notes.append(f"Days without any observation (controller not running): {', '.join(missing)}.")
    partial = [r.tenant for r in rows if not r.is_bucket and 0 < r.days_known < days]
    if partial:
        notes.append(f"Spend known for only part of the period for: {', '.join(sorted(partial))}.")

    alerts = period_alerts(ledger, start, end, wanted, now=now)
    capacity = None
    if wanted is None and any(current.values()):  # the ops report: where the fleet is heading
        from tenantops.decide.capacity.plan import plan_for
        from tenantops.notify.report.capacity import summarise

        capacity = summarise(plan_for(config, ledger, now, per_tenant=False))
    return ReportData(
        generated_at=now,
        period_start=start,
        period_end=end,
        previous_start=previous_start,
        timezone=spec.timezone,
        total_usd=total,
        previous_total_usd=round(sum(previous_costs.values()), 2),
        rows=tuple(rows),
        daily=daily,
        previous_daily=_daily_totals(previous, previous_start, start),
        alerts=alerts,
        savings=tuple(saving_rows),
        notes=tuple(notes),
        currency=config.policies.pricing.currency,
        capacity=capacity,
        scope=tuple(sorted(wanted)) if wanted is not None else (),
        network=network_line(ledger, now, wanted),
    )


def network_line(ledger: Ledger, now: datetime, tenants: set[str] | None = None) -> NetworkLine:
    """Network transfer in `now`'s UTC month from the ledger's `network` component, for the tenants in
    scope, with the reason the last pass gave when it could not measure it."""
    month = f"{now.year:04d}-{now.month:02d}"
    measured = [m.components["network"] for t, m in ledger.month_to_date().items()
                if m.month == month and "network" in m.components and (tenants is None or t in tenants)]
    return NetworkLine(month, round(sum(measured), 2), len(measured), ledger.network_not_measured)


def period_alerts(ledger: Ledger, start: date, end: date, tenants: set[str] | None = None, *,
                  now: datetime | None = None, fresh: timedelta = timedelta(days=1)) -> tuple[AlertRow, ...]:
    """Cost alerts still firing at `now`, and those that fired during [start, end), newest first.

    A weekly or monthly report is read after the fact: an anomaly that fired and resolved on day 3 is
    part of the period's story even though nothing is open when the mail goes out. An alert is shown as
    open only while the controller still reports it (seen within `fresh` of `now`): a budget alert of an
    earlier month that nothing clears any more is not "open now".
    """
    begin = datetime.combine(start, datetime.min.time(), UTC)
    finish = datetime.combine(end, datetime.min.time(), UTC)
    moment = now or finish
    rows = []
    for record in ledger.alert_records():
        if tenants is not None and record.tenant not in tenants:
            continue
        firing = record.active and record.last_seen >= moment - fresh
        if not firing and not begin <= record.first_fired < finish:
            continue
        rows.append(AlertRow(str(record.severity), record.tenant, record.cause, record.summary, record.amount_usd,
                             record.first_fired, firing, record.cleared_at if not record.active else None,
                             record.last_seen))
    rows.sort(key=lambda a: (not a.active, -a.since.timestamp(), a.tenant or ""))
    return tuple(rows)


def load_ledger(state_path: str | Path) -> Ledger:
    """The cost ledger as the controller last committed it (read-only use of its state database)."""
    from tenantops.record.database import may_exist
    from tenantops.record.ledger import committed_ledger
    from tenantops.record.store import StateStore

    if not may_exist(state_path):
        return Ledger({})
    with StateStore(state_path, read_only=True) as store:
        return committed_ledger(store.state)
