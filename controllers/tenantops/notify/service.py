"""Mail out of the outbox, and the scheduled report's requests rendered into mail on the way.

A pass that finds a report moment due records a request in the outbox (`request_report`, through the
report actuator); the delivery run after it renders the request (`render_requests`) and sends what that
queued. Every step is keyed by the scheduled moment (`cost-report:<moment>`, its request
`cost-report:<moment>:request`), so the report for Monday 08:00 is requested, rendered and queued once
however many passes, restarts or replicas see it due, and its figures are frozen once it is rendered: a
retry days later sends the same report, not a different one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from tenantops.config import Config
from tenantops.config.settings import Settings
from tenantops.decide.cost.ledger import Ledger
from tenantops.notify.outbox import MAIL, REPORT_REQUEST, DeliveryReport, Job, Outbox, OutboxEntry
from tenantops.notify.transport import Transport
from tenantops.structs.reports import REPORT_KEY_PREFIX, ReportRequest
from tenantops.structs.rightsizing_findings import RightsizingFindings

log = logging.getLogger("tenantops.notify")

REPORT_KIND = REPORT_KEY_PREFIX  # the ops report's outbox kind, and its keys' prefix
TENANT_KIND = "budget-mail"


def _recipients(config: Config, settings: Settings | None, policy: Sequence[str] | None = None) -> list[str]:
    """The ops report's recipients: the ReportPolicy's (or `policy`, as a request recorded them), and the
    deployment's ops address."""
    out = [str(r) for r in (config.policies.reports.recipients if policy is None else policy)]
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
    recipients: Sequence[str] | None = None,
) -> list[str]:
    """Build, compose and queue the ops report (and tenant budget mails) under `key`; returns the keys
    queued, the ops report's first. `recipients` are the policy's (default: the configuration's)."""
    from tenantops.notify.report.build import build_report_data, load_ledger, savings_from_findings
    from tenantops.notify.report.message import compose, render_report
    from tenantops.notify.report.model import BudgetStatus

    ledger = ledger if ledger is not None else load_ledger(store_path)
    sender = settings.mail_from if settings is not None else "tenantops@localhost"
    outbox = Outbox(store_path)
    savings = savings_from_findings(rightsizing)
    data = build_report_data(config, ledger, now, period_days=period_days, savings=savings, period_to=period_to)
    queued: list[str] = []
    # The tenants' mails first, the ops report last, and the request is done only after both: a delivery
    # run stopped halfway through the tenants renders the request again and queues the rest (each mail is
    # skipped or ignored by its own key), so none is lost and none is queued twice.
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
    message = compose(rendered, sender=sender, recipients=_recipients(config, settings, recipients))
    if outbox.enqueue(REPORT_KIND, key, message, now=now):
        queued.insert(0, key)
    return queued


def render_requests(
    config: Config,
    settings: Settings,
    *,
    ledger: Ledger | None = None,
    rightsizing: RightsizingFindings | None = None,
) -> dict[str, Job]:
    """The delivery run's handler of report requests (`Outbox.deliver(jobs=...)`): each request row a pass
    recorded (`engine.report_effects`) is rendered here, off the pass, and queued as mail under its key.

    `ledger` is the cost state as the controller last committed it (default: read from the state
    database); `rightsizing` the last pass's right-sizing findings (for the savings). The period ends at
    the request's scheduled moment and budgets are as of the pass that asked, so a request rendered late
    (a restart, a retry) covers the same days as one rendered at once.
    """

    def render(entry: OutboxEntry, at: datetime) -> None:
        request = ReportRequest.from_json(json.loads(entry.message))
        queued = render_request(config, settings, request, ledger=ledger, rightsizing=rightsizing)
        log.info("report %s rendered: %d mail(s) queued%s", request.key, len(queued),
                 f" ({', '.join(queued)})" if queued else " (all were queued before)")

    return {REPORT_REQUEST: render}


def render_request(config: Config, settings: Settings, request: ReportRequest, *, ledger: Ledger | None = None,
                   rightsizing: RightsizingFindings | None = None) -> list[str]:
    """Render one report request and queue its mail (the tenants' budget mails, then the ops report, each
    under its own key); returns the keys newly queued, the ops report's first."""
    from tenantops.record.database import database_url

    return enqueue_report(config, database_url(settings), request.requested_at, key=request.key, ledger=ledger,
                          settings=settings, rightsizing=rightsizing, period_days=request.period_days,
                          period_to=request.moment, recipients=request.recipients)


class OutboxReports:
    """The report actuator's client (`engine.report_effects.ReportQueue`): requests as job rows of the
    outbox, each one insert idempotent on its key."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def request(self, request: ReportRequest) -> bool:
        """Record `request` (True when newly recorded; False when its key was there already)."""
        payload = json.dumps(request.to_json(), sort_keys=True).encode("utf-8")
        return self.outbox.enqueue_job(REPORT_REQUEST, request_key(request.key), payload,
                                       now=request.requested_at, recipients=request.recipients)

    def recorded(self, key: str) -> bool:
        """True when the report of `key` is in the outbox already: its request, or the report mail itself
        (as the controller queued it directly before reports were requested)."""
        return self.outbox.get(request_key(key)) is not None or self.outbox.get(key) is not None


def request_key(key: str) -> str:
    """The outbox key of the request of the report keyed `key`."""
    return f"{key}:request"


def deliver_pending(settings: Settings, now: datetime, transport: Transport | None = None, *,
                    jobs: dict[str, Job] | None = None, channel: str | None = None,
                    outbox: Outbox | None = None) -> DeliveryReport:
    """Try every due message in the outbox of the state database once, through the configured transport,
    and run the due job rows `jobs` has a handler for (`render_requests`: the report requests). With a
    `channel` (`outbox.CHANNELS`), only that channel's rows: the controller delivers each on its own
    thread, so a slow mail server never holds a webhook post. `outbox`: the one a caller that delivers
    after every pass keeps (opening one checks the schema); without, the state database's is opened."""
    from tenantops.notify.alerting import mail_checks
    from tenantops.notify.mail import transport_from_settings
    from tenantops.record.database import database_url

    if transport is None and channel in (None, MAIL):
        transport = transport_from_settings(settings)
    if outbox is None:
        outbox = Outbox(database_url(settings))
    # An alert mail whose episode has resolved since it was queued is not sent: the resolve says it all.
    return outbox.deliver(transport, now, jobs=jobs, channel=channel, checks=mail_checks(outbox))
