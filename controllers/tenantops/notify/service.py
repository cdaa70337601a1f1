"""The two calls the controller's runner makes each pass: queue a due report, deliver what is queued.

Queueing is keyed by the scheduled moment (`cost-report:<moment>`), so the report for Monday 08:00 is
queued once however many passes, restarts or replicas see it due, and its figures are frozen at the
moment it was queued: a retry days later sends the same report, not a different one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from tenantops.config import Config
from tenantops.config.settings import Settings
from tenantops.decide.cost.ledger import Ledger
from tenantops.notify.outbox import DeliveryReport, Outbox
from tenantops.notify.schedule import Schedule
from tenantops.notify.transport import Transport
from tenantops.structs.rightsizing_findings import RightsizingFindings

log = logging.getLogger("tenantops.notify")

REPORT_KIND = "cost-report"
TENANT_KIND = "budget-mail"


def _recipients(config: Config, settings: Settings | None) -> list[str]:
    out = [str(r) for r in config.policies.reports.recipients]
    if settings is not None and settings.ops_email and settings.ops_email not in out:
        out.append(settings.ops_email)
    return out


def enqueue_report(
    config: Config,
    store_path: str | Path,
    now: datetime,
    *,
    key: str,
    ledger: Ledger | None = None,
    settings: Settings | None = None,
    rightsizing: RightsizingFindings | None = None,
    period_days: int | None = None,
    period_to: datetime | None = None,
) -> list[str]:
    """Build, compose and queue the ops report (and tenant budget mails) under `key`; returns the keys
    queued, the ops report's first."""
    from tenantops.notify.report.build import build_report_data, load_ledger, savings_from_findings
    from tenantops.notify.report.message import compose, render_report
    from tenantops.notify.report.model import BudgetStatus

    ledger = ledger if ledger is not None else load_ledger(store_path)
    sender = settings.mail_from if settings is not None else "tenantops@localhost"
    outbox = Outbox(store_path)
    savings = savings_from_findings(rightsizing)
    data = build_report_data(config, ledger, now, period_days=period_days, savings=savings, period_to=period_to)
    queued: list[str] = []
    # The tenants' mails first, the ops report last: the report's key is what says "this moment is done"
    # (`enqueue_due_reports` looks for it), so a controller stopped halfway through the tenants queues
    # the rest at its next pass instead of never.
    if config.policies.reports.tenant_budget_mails:
        catalog = {t.id: t for t in config.tenants}
        for row in data.tenant_rows:
            tenant = catalog.get(row.tenant)
            if tenant is None or row.budget is None:
                continue
            if row.budget.status not in (BudgetStatus.OVER, BudgetStatus.AT_RISK):
                continue
            tenant_key = f"{key}:tenant:{row.tenant}"
            if outbox.get(tenant_key) is not None:
                continue
            tenant_data = build_report_data(config, ledger, now, period_days=period_days, savings=savings,
                                            tenants=[row.tenant], period_to=period_to)
            prefix = f"{tenant.display_name}: budget {row.budget.status}, cost report"
            tenant_report = render_report(tenant_data, subject_prefix=prefix)
            message = compose(tenant_report, sender=sender, recipients=[str(c) for c in tenant.contacts])
            if outbox.enqueue(TENANT_KIND, tenant_key, message, now=now, tenant=row.tenant):
                queued.append(tenant_key)
    rendered = render_report(data)
    if outbox.enqueue(REPORT_KIND, key, compose(rendered, sender=sender, recipients=_recipients(config, settings)),
                      now=now):
        queued.insert(0, key)
    return queued


def enqueue_due_reports(
    config: Config,
    store_path: str | Path,
    now: datetime,
    *,
    ledger: Ledger | None = None,
    settings: Settings | None = None,
    rightsizing: RightsizingFindings | None = None,
) -> list[str]:
    """Queue the cost report if its schedule's latest moment has not been queued yet. Cheap when not due.

    `ledger` defaults to the cost state committed in `store_path`; the runner passes its own view to avoid
    reopening the database. `rightsizing` are the last pass's right-sizing findings (for the savings).
    """
    spec = config.policies.reports
    moment = Schedule(spec.schedule, spec.timezone).last(now)
    key = f"{REPORT_KIND}:{moment.isoformat()}"
    if Outbox(store_path).get(key) is not None:
        return []
    log.info("cost report due (scheduled %s); building it", moment.isoformat())
    # The period ends at the scheduled moment, however late the report is built: a controller that was
    # down on Monday sends Monday's week on Wednesday, and next Monday's report does not repeat two days.
    return enqueue_report(config, store_path, now, key=key, ledger=ledger, settings=settings,
                          rightsizing=rightsizing, period_to=moment)


def deliver_pending(settings: Settings, now: datetime, transport: Transport | None = None) -> DeliveryReport:
    """Try every due message in the outbox of the state database once, through the configured transport."""
    from tenantops.notify.mail import transport_from_settings
    from tenantops.record.database import database_url

    return Outbox(database_url(settings)).deliver(transport or transport_from_settings(settings), now)
