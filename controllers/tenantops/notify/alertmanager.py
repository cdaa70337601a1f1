"""Alerts to Prometheus Alertmanager (`POST /api/v2/alerts`), so they join the team's existing routing,
silences and inhibition.

Alertmanager groups and deduplicates by labels, so the alert key is a label; a resolved alert is sent with
`endsAt` set, which closes it there too.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tenantops.notify.webhook import post_json
from tenantops.structs.plan import Alert

log = logging.getLogger(__name__)


def to_alertmanager(alert: Alert, now: datetime, generator_url: str = "") -> dict[str, Any]:
    """One alert in Alertmanager's v2 `postableAlert` shape."""
    labels = {"alertname": "TenantopsCost" if alert.cause.startswith(("cost", "budget")) else "Tenantops",
              "cause": alert.cause, "severity": str(alert.severity), "key": alert.key}
    if alert.tenant:
        labels["tenant"] = alert.tenant
    annotations = {"summary": alert.summary, "suggested_action": alert.suggested_action}
    if alert.amount_usd is not None:
        annotations["amount_usd"] = f"{alert.amount_usd:.2f}"
    out: dict[str, Any] = {"labels": labels, "annotations": annotations, "startsAt": now.isoformat()}
    if alert.details.get("resolved"):
        out["endsAt"] = now.isoformat()
    if generator_url:
        out["generatorURL"] = generator_url
    return out


class AlertmanagerSender:
    """Posts a batch of alerts in one request."""

    name = "alertmanager"

    def __init__(self, url: str, timeout: float = 5.0, generator_url: str = "") -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.timeout = timeout
        self.generator_url = generator_url

    def send(self, alerts: list[Alert], now: datetime) -> None:
        if alerts:
            post_json(self.url, [to_alertmanager(a, now, self.generator_url) for a in alerts], self.timeout)
            log.info("alertmanager: sent %d alert(s)", len(alerts))
