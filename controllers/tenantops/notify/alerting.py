"""Routing alerts to where each tenant's AlertPolicy says: email (via the durable outbox), a chat webhook,
Prometheus Alertmanager.

The decision core already decided *whether* to notify (deduplicated, escalated; `decide.alerts`); this
only delivers. One failing route never stops the others, and every outcome is returned for the record.
Email goes through the outbox so a down mail server delays an alert, never loses it; the outbox's key makes
a retried pass queue the same alert once. A pass's own alert mail is committed with the pass's plan
(`plan_mail`, the same transaction as the alert episodes it notifies), so a controller stopped after the
pass can neither lose it nor, having recorded the episode, send it again; the other routes are calls to
other servers and run after the pass.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

from tenantops.config.loader import Config
from tenantops.config.settings import Settings
from tenantops.notify.alertmanager import AlertmanagerSender
from tenantops.notify.webhook import NotifyError, WebhookSender
from tenantops.structs.plan import Alert

if TYPE_CHECKING:
    from tenantops.record.store import QueuedMessage

log = logging.getLogger(__name__)


ROUTES = ("email", "webhook", "alertmanager")


class EmailSink(Protocol):
    """What alert email needs from the outbox (`tenantops.notify.outbox.Outbox` satisfies it)."""

    def enqueue(self, kind: str, dedup_key: str, message: EmailMessage | bytes, *, now: datetime,
                tenant: str | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    alert_key: str
    route: str
    ok: bool
    detail: str = ""


def alert_email(alert: Alert, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A plain-text alert mail: what, how much, what to do."""
    msg = EmailMessage()
    who = alert.tenant or "all tenants"
    msg["Subject"] = f"[tenantops] {alert.severity.upper()} {who}: {alert.cause}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    lines = [alert.summary, ""]
    if alert.amount_usd is not None:
        lines.append(f"Amount: ${alert.amount_usd:,.2f}")
    lines += [f"Cause: {alert.cause}", f"Tenant: {who}", "", f"Suggested action: {alert.suggested_action}", "",
              f"Alert key: {alert.key}"]
    msg.set_content("\n".join(lines))
    return msg


class AlertRouter:
    """Delivers alerts per the tenants' AlertPolicy routes; senders left as None are not configured."""

    def __init__(self, config: Config, *, email: EmailSink | None = None, mail_from: str = "tenantops@localhost",
                 ops_email: str | None = None, webhook: WebhookSender | None = None,
                 alertmanager: AlertmanagerSender | None = None) -> None:
        self.config = config
        self.email = email
        self.mail_from = mail_from
        self.ops_email = ops_email
        self.webhook = webhook
        self.alertmanager = alertmanager

    def routes_for(self, alert: Alert) -> list[str]:
        if alert.tenant is None or alert.tenant not in self.config.by_id:
            return ["email", "webhook", "alertmanager"]
        return list(self.config.for_tenant(alert.tenant).alerts.routes)

    def recipients(self, alert: Alert) -> list[str]:
        out: list[str] = [self.ops_email] if self.ops_email else []
        if alert.tenant in self.config.by_id:
            tenant = self.config.tenant(alert.tenant)
            out += [str(a) for a in self.config.for_tenant(tenant).alerts.extra_recipients]
            if alert.cause.startswith("budget"):
                out += [str(c) for c in tenant.contacts]  # customers hear about their own budget
        return list(dict.fromkeys(out))

    def route(self, alerts: Sequence[Alert], now: datetime, routes: Collection[str] = ROUTES) -> list[RouteOutcome]:
        """Each alert to each of its routes that is among `routes` (default: all of them)."""
        outcomes: list[RouteOutcome] = []
        by_route: dict[str, list[Alert]] = {route: [] for route in ROUTES}
        for alert in alerts:
            for route in self.routes_for(alert):
                if route in routes:
                    by_route[route].append(alert)
        for alert in by_route["email"]:
            outcomes.append(self._email(alert, now))
        for alert in by_route["webhook"]:
            outcomes.append(self._send("webhook", alert, lambda a=alert: self._webhook([a])))  # type: ignore[misc]
        if by_route["alertmanager"]:
            batch = by_route["alertmanager"]
            if self.alertmanager is None:
                outcomes += [RouteOutcome(a.key, "alertmanager", False, "not configured") for a in batch]
            else:
                try:
                    self.alertmanager.send(batch, now)
                    outcomes += [RouteOutcome(a.key, "alertmanager", True) for a in batch]
                except NotifyError as exc:
                    log.warning("alertmanager: %d alert(s) not delivered: %s", len(batch), exc)
                    outcomes += [RouteOutcome(a.key, "alertmanager", False, str(exc)) for a in batch]
        return outcomes

    def _webhook(self, alerts: list[Alert]) -> None:
        if self.webhook is None:
            raise NotifyError("not configured")
        self.webhook.send(alerts)

    @staticmethod
    def _send(route: str, alert: Alert, action: Callable[[], None]) -> RouteOutcome:
        try:
            action()
        except NotifyError as exc:
            log.warning("%s: alert %s not delivered: %s", route, alert.key, exc)
            return RouteOutcome(alert.key, route, False, str(exc))
        return RouteOutcome(alert.key, route, True)

    def _email(self, alert: Alert, now: datetime) -> RouteOutcome:
        recipients = self.recipients(alert)
        if self.email is None or not recipients:
            return RouteOutcome(alert.key, "email", False, "no outbox or no recipients configured")
        key = f"alert:{alert.notice_key}"  # one mail per episode and transition, however many passes
        queued = self.email.enqueue("alert", key, alert_email(alert, self.mail_from, recipients), now=now,
                                    tenant=alert.tenant)
        return RouteOutcome(alert.key, "email", True, "queued" if queued else "already queued")


class _Collected:
    """An `EmailSink` that keeps the prepared messages for `StateStore.commit(messages=)` instead of
    committing each on its own; the store's insert skips a key already queued, as `Outbox.enqueue` does."""

    def __init__(self) -> None:
        self.messages: list[QueuedMessage] = []

    def enqueue(self, kind: str, dedup_key: str, message: EmailMessage | bytes, *, now: datetime,
                tenant: str | None = None) -> bool:
        from tenantops.notify.outbox import prepare

        self.messages.append(prepare(kind, dedup_key, message, now=now, tenant=tenant))
        return True


def plan_mail(config: Config, settings: Settings, alerts: Sequence[Alert], now: datetime) -> list[QueuedMessage]:
    """The alert mail of a pass's notifications, for the pass to commit with its plan (the email route;
    webhook and Alertmanager are called after the pass, `route(..., routes=AFTER_PASS)`)."""
    sink = _Collected()
    AlertRouter(config, email=sink, mail_from=settings.mail_from, ops_email=settings.ops_email).route(
        alerts, now, routes=("email",))
    return sink.messages


AFTER_PASS = ("webhook", "alertmanager")
"""The routes of a pass's alerts that run after the pass: calls to other servers, made once it recorded."""


def generator_url(settings: Settings) -> str:
    """Where an alert came from: the controller's own HTTP port (its /metrics), on this host."""
    return f"http://{socket.gethostname()}:{settings.http_port}/metrics"


def router_from_settings(config: Config, settings: Settings) -> AlertRouter:
    """The router the controller uses: the outbox in the state database, webhook and Alertmanager when their
    URLs are set (TENANTOPS_WEBHOOK_URL, TENANTOPS_ALERTMANAGER_URL)."""
    from tenantops.notify.outbox import Outbox
    from tenantops.record.database import database_url

    ctl = config.policies.controller

    return AlertRouter(
        config, email=Outbox(database_url(settings)), mail_from=settings.mail_from, ops_email=settings.ops_email,
        webhook=WebhookSender(settings.webhook_url) if settings.webhook_url else None,
        alertmanager=AlertmanagerSender(
            str(settings.alertmanager_url), generator_url=generator_url(settings),
            # re-sent every pass: four intervals ahead survive a slow pass or two, and end on their own soon
            # after the controller stops sending
            ends_after=timedelta(seconds=4 * (ctl.interval_seconds + ctl.jitter_seconds)),
        ) if settings.alertmanager_url else None,
    )
