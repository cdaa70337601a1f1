"""Routing alerts to where each tenant's AlertPolicy says: email (via the durable outbox), a chat webhook,
Prometheus Alertmanager.

The decision core already decided *whether* to notify (deduplicated, escalated; `decide.alerts`); this
only delivers. One failing route never stops the others, and every outcome is returned for the record.
Email goes through the outbox so a down mail server delays an alert, never loses it; the outbox's key makes
a retried pass queue the same alert once. The webhook goes through the same outbox: each notification is a
job row (`outbox.WEBHOOK_NOTICE`, key `webhook:<notice key>`) posted by the delivery run (`notice_jobs`).
A pass's own notifications are committed with the pass's plan (`plan_mail`, the same transaction as the
alert episodes they notify), so a controller stopped after the pass can neither lose them nor, having
recorded the episode, send them again.

Alertmanager is told differently, as its protocol asks: a firing alert is posted after the pass and again
with every pass's active set (Alertmanager deduplicates on labels), so a post lost to a stop or an outage is
made good by the next pass, and nothing needs keeping. A resolve is said once, so it is kept like a webhook
notice (`outbox.ALERTMANAGER_RESOLVE`): posted until Alertmanager takes it, and dropped once the firing
alert's last `endsAt` has passed, when Alertmanager has ended the alert on its own and a late resolve
could only end a newer episode of the same alert early.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import MessageError
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

from tenantops.config.loader import Config
from tenantops.config.settings import Settings
from tenantops.notify.alertmanager import AlertmanagerSender, to_alertmanager
from tenantops.notify.outbox import ALERTMANAGER_RESOLVE, WEBHOOK_NOTICE, Job, Obsolete, Outbox, OutboxEntry
from tenantops.notify.webhook import NotifyError, WebhookSender, slack_payload
from tenantops.structs.plan import Alert

if TYPE_CHECKING:
    from tenantops.record.store import QueuedMessage

log = logging.getLogger(__name__)


ROUTES = ("email", "webhook", "alertmanager")


class EmailSink(Protocol):
    """What alert email needs from the outbox (`tenantops.notify.outbox.Outbox` satisfies it)."""

    def enqueue(self, kind: str, dedup_key: str, message: EmailMessage | bytes, *, now: datetime,
                tenant: str | None = None) -> bool: ...


class NoticeSink(Protocol):
    """Where notifications for the webhook and Alertmanager resolves are kept until delivered (the outbox's
    job rows; `tenantops.notify.outbox.Outbox` satisfies it)."""

    def enqueue_job(self, kind: str, dedup_key: str, payload: bytes, *, now: datetime,
                    recipients: Sequence[str] = (), tenant: str | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    alert_key: str
    route: str
    ok: bool
    detail: str = ""


def alert_email(alert: Alert, sender: str, recipients: Sequence[str], bcc: Sequence[str] = (),
                at: datetime | None = None) -> EmailMessage:
    """A plain-text alert mail: what, how much, what to do. `bcc` receive it without being shown (the
    outbox sends to them and drops the header). A resolve decided at `at` says when its episode fired and
    when it cleared: it is the one mail of an episode whose firing mail it superseded (`superseded`).

    The subject says which it is, `[FIRING]` (a fire or an escalation) or `[RESOLVED]`, as Alertmanager's
    default subjects do: the severity, tenant and cause are the same in both, and a reader of the inbox
    must tell an alert from its end without opening either."""
    msg = EmailMessage()
    who = alert.tenant or "all tenants"
    state = "RESOLVED" if resolved(alert) else "FIRING"
    msg["Subject"] = f"[tenantops] [{state}] {alert.severity.upper()} {who}: {alert.cause}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    lines = [alert.summary, ""]
    if alert.amount_usd is not None:
        lines.append(f"Amount: ${alert.amount_usd:,.2f}")
    lines += [f"Cause: {alert.cause}", f"Tenant: {who}"]
    if resolved(alert) and alert.episode and at is not None:
        lines.append(f"Fired at {alert.episode}, resolved at {at.isoformat()}")
    lines += ["", f"Suggested action: {alert.suggested_action}", "", f"Alert key: {alert.key}"]
    msg.set_content("\n".join(lines))
    return msg


class AlertRouter:
    """Delivers alerts per the tenants' AlertPolicy routes; senders left as None are not configured.

    With `notices` (the outbox), webhook notifications and Alertmanager resolves are queued there, to be
    posted by the delivery run (`notice_jobs`); without, they are posted at once."""

    def __init__(self, config: Config, *, email: EmailSink | None = None, mail_from: str = "tenantops@localhost",
                 ops_email: str | None = None, webhook: WebhookSender | None = None,
                 alertmanager: AlertmanagerSender | None = None, notices: NoticeSink | None = None) -> None:
        self.config = config
        self.email = email
        self.mail_from = mail_from
        self.ops_email = ops_email
        self.webhook = webhook
        self.alertmanager = alertmanager
        self.notices = notices

    def routes_for(self, alert: Alert) -> list[str]:
        if alert.tenant is None or alert.tenant not in self.config.by_id:
            return ["email", "webhook", "alertmanager"]
        return list(self.config.for_tenant(alert.tenant).alerts.routes)

    def recipients(self, alert: Alert) -> list[str]:
        """Everyone the alert's mail goes to (`addressees`: shown, then blind)."""
        shown, blind = self.addressees(alert)
        return shown + blind

    def addressees(self, alert: Alert) -> tuple[list[str], list[str]]:
        """Who the alert's mail is addressed to (To) and who gets it unseen (Bcc): the operators (the ops
        address and the AlertPolicy's extra_recipients) for every alert; a budget alert goes to the
        tenant's contacts too, and then the operators are blind copies, so a customer's mail does not show
        them the provider's internal addresses. An address is named once, whatever its case."""
        internal: list[str] = [self.ops_email] if self.ops_email else []
        contacts: list[str] = []
        if alert.tenant in self.config.by_id:
            tenant = self.config.tenant(alert.tenant)
            internal += [str(a) for a in self.config.for_tenant(tenant).alerts.extra_recipients]
            if alert.cause.startswith("budget"):
                contacts = [str(c) for c in tenant.contacts]  # customers hear about their own budget
        shown = _unique(contacts or internal)
        seen = {a.casefold() for a in shown}
        return shown, [a for a in _unique(internal) if a.casefold() not in seen] if contacts else []

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
            if self.webhook is None:
                outcomes.append(_unconfigured("webhook", alert))
            elif self.notices is not None:
                outcomes.append(self._queue("webhook", alert, now))
            else:
                outcomes.append(self._send("webhook", alert, lambda a=alert: self._webhook([a])))  # type: ignore[misc]
        if by_route["alertmanager"]:
            batch = by_route["alertmanager"]
            if self.alertmanager is None:
                outcomes += [_unconfigured("alertmanager", a) for a in batch]
            else:
                if self.notices is not None:
                    outcomes += [self._queue("alertmanager", a, now) for a in batch if resolved(a)]
                    batch = [a for a in batch if not resolved(a)]
                try:
                    if batch:
                        self.alertmanager.send(batch, now)
                    outcomes += [RouteOutcome(a.key, "alertmanager", True) for a in batch]
                except NotifyError as exc:
                    log.warning("alertmanager: %d alert(s) not delivered: %s", len(batch), exc)
                    outcomes += [RouteOutcome(a.key, "alertmanager", False, str(exc)) for a in batch]
        return outcomes

    def _queue(self, route: str, alert: Alert, now: datetime) -> RouteOutcome:
        """The notification of `alert` on `route` as an outbox job, once per episode and transition."""
        assert self.notices is not None
        payload: object
        if route == "webhook":
            kind, payload = WEBHOOK_NOTICE, slack_payload(alert)
        else:
            assert self.alertmanager is not None
            # Alertmanager holds the firing alert until the `endsAt` of its last post, at most this far off.
            kind, payload = ALERTMANAGER_RESOLVE, {
                "alert": to_alertmanager(alert, now, self.alertmanager.generator_url,
                                         ends_after=self.alertmanager.ends_after),
                "expires": (now + self.alertmanager.ends_after).isoformat()}
        queued = self.notices.enqueue_job(kind, f"{route}:{alert.notice_key}",
                                          json.dumps(payload, sort_keys=True).encode("utf-8"), now=now,
                                          recipients=(route,), tenant=alert.tenant)
        return RouteOutcome(alert.key, route, True, "queued" if queued else "already queued")

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
        shown, blind = self.addressees(alert)
        if self.email is None or not shown:
            return RouteOutcome(alert.key, "email", False, "no outbox or no recipients configured")
        key = f"alert:{alert.notice_key}"  # one mail per episode and transition, however many passes
        try:
            queued = self.email.enqueue("alert", key, alert_email(alert, self.mail_from, shown, blind, now), now=now,
                                        tenant=alert.tenant)
        except (ValueError, MessageError) as exc:
            # A mail no setting lets us compose (no sender, a header with a line break) fails this route
            # only: the alert's other routes go on, and the error says what to fix.
            detail = (f"not composed: {exc}; check TENANTOPS_MAIL_FROM (now {self.mail_from!r}), TENANTOPS_OPS_EMAIL"
                      " and the AlertPolicy's extra_recipients")
            log.error("email: alert %s %s", alert.key, detail)
            return RouteOutcome(alert.key, "email", False, detail)
        return RouteOutcome(alert.key, "email", True, "queued" if queued else "already queued")


_UNCONFIGURED_WARNED: set[str] = set()
ROUTE_SETTINGS = {"webhook": "TENANTOPS_WEBHOOK_URL", "alertmanager": "TENANTOPS_ALERTMANAGER_URL"}


def _unconfigured(route: str, alert: Alert) -> RouteOutcome:
    """The outcome of an alert for a route the AlertPolicy names and no setting configures: a warning once
    per process and route naming the setting (it was one warning per alert, every pass), the rest at debug."""
    detail = f"not configured: the AlertPolicy routes to {route} but {ROUTE_SETTINGS[route]} is not set"
    if route in _UNCONFIGURED_WARNED:
        log.debug("%s: alert %s not delivered: %s", route, alert.key, detail)
    else:
        _UNCONFIGURED_WARNED.add(route)
        log.warning("%s: alerts are not delivered there: %s (said once)", route, detail)
    return RouteOutcome(alert.key, route, False, detail)


def _unique(addresses: Sequence[str]) -> list[str]:
    """`addresses` in order, each once whatever its case (`Ops@x` and `ops@x` are one mailbox to people)."""
    seen: set[str] = set()
    out = []
    for address in addresses:
        if address.casefold() not in seen:
            seen.add(address.casefold())
            out.append(address)
    return out


def resolved(alert: Alert) -> bool:
    """The notification that an episode ended (`decide.alerts` marks it in the details)."""
    return bool(alert.details.get("resolved"))


class _Collected:
    """An `EmailSink` and `NoticeSink` that keeps the prepared rows for `StateStore.commit(messages=)`
    instead of committing each on its own; the store's insert skips a key already queued, as
    `Outbox.enqueue` does."""

    def __init__(self) -> None:
        self.messages: list[QueuedMessage] = []

    def enqueue(self, kind: str, dedup_key: str, message: EmailMessage | bytes, *, now: datetime,
                tenant: str | None = None) -> bool:
        from tenantops.notify.outbox import prepare

        self.messages.append(prepare(kind, dedup_key, message, now=now, tenant=tenant))
        return True

    def enqueue_job(self, kind: str, dedup_key: str, payload: bytes, *, now: datetime,
                    recipients: Sequence[str] = (), tenant: str | None = None) -> bool:
        from tenantops.notify.outbox import prepare_job

        self.messages.append(prepare_job(kind, dedup_key, payload, now=now, recipients=recipients, tenant=tenant))
        return True


def plan_mail(config: Config, settings: Settings, alerts: Sequence[Alert], now: datetime) -> list[QueuedMessage]:
    """The outbox rows of a pass's notifications, for the pass to commit with its plan: alert mail, webhook
    notices and Alertmanager resolves. Alertmanager's firing alerts are posted after the pass
    (`after_pass`)."""
    sink = _Collected()
    router = router_from_settings(config, settings, outbox=sink)
    router.route(alerts, now, routes=("email", "webhook"))
    router.route([a for a in alerts if resolved(a)], now, routes=("alertmanager",))
    return sink.messages


AFTER_PASS = ("alertmanager",)
"""The route of a pass's alerts that runs after the pass: a call to another server, made once it recorded."""


def after_pass(alerts: Sequence[Alert]) -> list[Alert]:
    """The alerts of a pass to post to Alertmanager after it: the firing ones (resolves were committed with
    the pass, `plan_mail`)."""
    return [a for a in alerts if not resolved(a)]


FAILED_ROUTE = {"alert": "email", WEBHOOK_NOTICE: "webhook", ALERTMANAGER_RESOLVE: "alertmanager"}
"""The route a failed outbox row of each kind was for: the failure alert is not sent by that route again (if
the route is what broke, telling it would queue one more failing row each time)."""


def notice_jobs(config: Config, settings: Settings, outbox: Outbox | None = None) -> dict[str, Job]:
    """The delivery run's handlers of queued notifications (`Outbox.deliver(jobs=...)`): each posts the
    payload the pass kept, and is done on a 2xx; a webhook notice no longer true is not posted
    (`stale_notice`; `outbox` is where it looks for a superseding resolve, default the state database's).
    A refusal that asking again will not change (a 4xx but 408, 425 and 429) fails the row at once; anything
    else is retried with the outbox's backoff. A resolve found after its `expires` is done without a post:
    Alertmanager ended the alert on its own meanwhile.
    Routes not configured have no handler, so their rows wait in the outbox."""
    from tenantops.notify.transport import PermanentDeliveryError, TemporaryDeliveryError

    webhook, alertmanager = senders_from_settings(config, settings)

    def post(send: Callable[[Any], None], entry: OutboxEntry) -> None:
        try:
            send(json.loads(entry.message))
        except NotifyError as exc:
            refused = PermanentDeliveryError if exc.permanent else TemporaryDeliveryError
            raise refused(str(exc), exc.code) from None

    jobs: dict[str, Job] = {}
    if webhook is not None:
        max_age = timedelta(hours=config.policies.controller.notice_max_age_hours)
        rows: list[Outbox] = [outbox] if outbox is not None else []

        def resolves(prefix: str) -> list[str]:
            if not rows:
                from tenantops.record.database import database_url

                rows.append(Outbox(database_url(settings)))
            return rows[0].keys_starting(prefix)

        def notify(entry: OutboxEntry, at: datetime) -> None:
            stale_notice(entry, at, max_age, resolves)
            post(webhook.post, entry)
            log.info("webhook: sent %s", entry.dedup_key)

        jobs[WEBHOOK_NOTICE] = notify
    if alertmanager is not None:
        def resolve(entry: OutboxEntry, at: datetime) -> None:
            payload = json.loads(entry.message)
            if at >= datetime.fromisoformat(payload["expires"]):
                log.info("alertmanager: %s not posted: the alert ended on its own at its endsAt", entry.dedup_key)
                return
            post(lambda body: alertmanager.post([body["alert"]]), entry)
            log.info("alertmanager: resolved %s", entry.dedup_key)

        jobs[ALERTMANAGER_RESOLVE] = resolve
    return jobs


def superseded(entry: OutboxEntry, keys_starting: Callable[[str], Sequence[str]]) -> None:
    """Raise `Obsolete` when `entry`, the firing or escalation of an alert episode on any route (mail, the
    webhook), is superseded: its episode's resolve is queued on the same route (`keys_starting` finds the
    row). The resolve says the last word, and a firing delivered after it was decided, as one retried with
    backoff while its server was down is, would say the condition holds when it has ended, and might reach
    the reader after the resolve. The firing is done undelivered with an audit row (the outbox's
    `Obsolete`); the resolve's mail says when the episode fired and when it cleared (`alert_email`).

    The key is `<route>:<alert key>:<episode>:<transition>:<severity>` (`AlertRouter._email`, `_queue`), so
    the episode's rows on a route share everything before the transition."""
    episode, _, rest = entry.dedup_key.rpartition(":")[0].rpartition(":")
    if episode and rest in ("fire", "escalate"):
        superseding = [k for k in keys_starting(f"{episode}:resolve:") if k != entry.dedup_key]
        if superseding:
            raise Obsolete("dropped:notice-superseded", f"superseded by its episode's resolve {superseding[0]}",
                           superseded_by=superseding[0])


def mail_checks(outbox: Outbox) -> dict[str, Job]:
    """The checks a delivery run makes before sending a mail of each kind (`Outbox.deliver(checks=...)`): an
    alert mail whose episode's resolve is queued is not sent (`superseded`)."""
    return {"alert": lambda entry, _at: superseded(entry, outbox.keys_starting)}


def stale_notice(entry: OutboxEntry, at: datetime, max_age: timedelta,
                 keys_starting: Callable[[str], Sequence[str]]) -> None:
    """Raise `Obsolete` when the webhook notice `entry` is no longer true at `at`, so it is done unposted
    with an audit row (the outbox's `Obsolete`), instead of reaching a channel that reads it as news:

    - a firing or escalation whose episode's resolve is queued (`superseded`, the rule mail follows too);
    - any notice queued longer than `max_age` ago (the ControllerPolicy's `notice_max_age_hours`): a
      webhook down for a day, or configured only days later, does not receive a budget warning of last
      month. Its mail and the audit still tell the episode."""
    superseded(entry, keys_starting)
    age = at - entry.created_at
    if age > max_age:
        hours = round(age.total_seconds() / 3600, 1)
        raise Obsolete("dropped:notice-too-old",
                       f"queued {hours:g} h ago, past notice_max_age_hours ({max_age.total_seconds() / 3600:g} h)",
                       age_hours=hours, max_age_hours=max_age.total_seconds() / 3600)


def generator_url(settings: Settings) -> str:
    """Where an alert came from: the controller's own HTTP port (its /metrics), on this host."""
    return f"http://{socket.gethostname()}:{settings.http_port}/metrics"


def senders_from_settings(config: Config, settings: Settings) -> tuple[WebhookSender | None,
                                                                        AlertmanagerSender | None]:
    """The webhook and Alertmanager senders when their URLs are set (TENANTOPS_WEBHOOK_URL,
    TENANTOPS_ALERTMANAGER_URL): what the router calls, and what the delivery run posts queued rows with."""
    ctl = config.policies.controller
    webhook = WebhookSender(settings.webhook_url) if settings.webhook_url else None
    alertmanager = AlertmanagerSender(
        str(settings.alertmanager_url), generator_url=generator_url(settings),
        # re-sent every pass: four intervals ahead survive a slow pass or two, and end on their own soon
        # after the controller stops sending
        ends_after=timedelta(seconds=4 * (ctl.interval_seconds + ctl.jitter_seconds)),
    ) if settings.alertmanager_url else None
    return webhook, alertmanager


def router_from_settings(config: Config, settings: Settings, *, outbox: _Collected | None = None) -> AlertRouter:
    """The router the controller uses: the outbox in the state database (or the rows `outbox` collects for
    a pass's commit) for mail, webhook notices and resolves, and the senders of `senders_from_settings`."""
    if outbox is None:
        from tenantops.record.database import database_url

        sink: _Collected | Outbox = Outbox(database_url(settings))
    else:
        sink = outbox
    webhook, alertmanager = senders_from_settings(config, settings)
    return AlertRouter(config, email=sink, notices=sink, mail_from=settings.mail_from, ops_email=settings.ops_email,
                       webhook=webhook, alertmanager=alertmanager)
