"""Alerts to Prometheus Alertmanager (`POST /api/v2/alerts`), so they join the team's existing routing,
silences and inhibition.

Alertmanager's client contract, as Prometheus keeps it: an alert without `endsAt` expires after the
server's `resolve_timeout` (5 minutes), so a client re-sends every firing alert regularly with `endsAt`
a little ahead and resolves by sending `endsAt` in the past. tenantops re-sends the active set every
pass (the controller's hooks) with `endsAt` = now + `ends_after` (a few pass intervals), so an alert
stays active exactly while tenantops keeps sending it and ends on its own if the controller dies; a
resolved alert carries `endsAt` = now. `alertname` is one per cause (`TenantopsMetricsImplausible`,
`TenantopsBudgetForecast`), so routes and inhibitions can tell causes apart; the alert key is a label,
so Alertmanager's grouping and tenantops' episodes agree. Annotations are the usual `summary`,
`description` and `runbook_url` (a section of docs/alerts.md per cause).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tenantops.notify.webhook import post_json
from tenantops.structs.plan import Alert

log = logging.getLogger(__name__)

RUNBOOKS = "docs/alerts.md"  # in the repository; a deployment may serve it and pass its URL instead
DEFAULT_ENDS_AFTER = timedelta(minutes=2)


def alertname(cause: str) -> str:
    """`metrics-implausible` -> `TenantopsMetricsImplausible`: one Alertmanager alert name per cause."""
    return "Tenantops" + "".join(part.capitalize() for part in cause.replace("_", "-").split("-") if part)


def to_alertmanager(alert: Alert, now: datetime, generator_url: str = "", *,
                    ends_after: timedelta = DEFAULT_ENDS_AFTER, runbooks: str = RUNBOOKS) -> dict[str, Any]:
    """One alert in Alertmanager's v2 `postableAlert` shape."""
    labels = {"alertname": alertname(alert.cause), "cause": alert.cause, "severity": str(alert.severity),
              "key": alert.key}
    if alert.tenant:
        labels["tenant"] = alert.tenant
    description = f"{alert.summary}\n\nSuggested action: {alert.suggested_action}"
    annotations = {"summary": alert.summary, "description": description,
                   "suggested_action": alert.suggested_action, "runbook_url": f"{runbooks}#{alert.cause}"}
    if alert.amount_usd is not None:
        annotations["amount_usd"] = f"{alert.amount_usd:.2f}"
    resolved = bool(alert.details.get("resolved"))
    out: dict[str, Any] = {"labels": labels, "annotations": annotations, "startsAt": now.isoformat(),
                           "endsAt": (now if resolved else now + ends_after).isoformat()}
    if generator_url:
        out["generatorURL"] = generator_url
    return out


class AlertmanagerSender:
    """Posts a batch of alerts in one request."""

    name = "alertmanager"
    setting = "TENANTOPS_ALERTMANAGER_URL"

    def __init__(self, url: str, timeout: float = 5.0, generator_url: str = "",
                 ends_after: timedelta = DEFAULT_ENDS_AFTER) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.timeout = timeout
        self.generator_url = generator_url
        self.ends_after = ends_after

    def send(self, alerts: list[Alert], now: datetime) -> None:
        if alerts:
            self.post([to_alertmanager(a, now, self.generator_url, ends_after=self.ends_after) for a in alerts])
            log.info("alertmanager: sent %d alert(s)", len(alerts))

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """Alerts already in the `postableAlert` shape (as the outbox kept a resolve); raises `NotifyError`."""
        post_json(self.url, alerts, self.timeout, setting=self.setting)
