"""Alerts posted to a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) and read back."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tenantops.notify.alertmanager import AlertmanagerSender
from tenantops.structs.plan import Alert, Severity
from tenantops_lab.sandbox.alert_receivers import alertmanager_alerts


@pytest.mark.integration
def test_alertmanager_accepts_and_resolves_cost_alerts(alertmanager: str) -> None:
    now = datetime.now(UTC)
    alert = Alert("cost:anomaly:daily:acme", "acme", Severity.WARNING, "cost-anomaly-daily",
                  "Acme spend up", "Check acme", 120.5)
    sender = AlertmanagerSender(alertmanager)
    sender.send([alert], now)
    active = alertmanager_alerts(alertmanager)
    assert len(active) == 1
    got = active[0]
    assert got["labels"]["tenant"] == "acme" and got["labels"]["key"] == "cost:anomaly:daily:acme"
    assert got["annotations"]["amount_usd"] == "120.50" and got["status"]["state"] == "active"
    resolved = Alert(alert.key, "acme", Severity.WARNING, alert.cause, "Resolved: Acme spend up", "none", None,
                     {"resolved": True})
    sender.send([resolved], datetime.now(UTC))
    still = [a for a in alertmanager_alerts(alertmanager, "active=true") if a["status"]["state"] == "active"]
    assert still == []


@pytest.mark.integration
def test_a_firing_alert_stays_active_past_its_first_ends_at_while_resent_then_resolves(alertmanager: str) -> None:
    """The client contract: re-sent every pass with endsAt ahead, the alert outlives any single endsAt;
    when tenantops resolves it (endsAt now) it is no longer active. Compressed: endsAt 2 s ahead, a pass
    every 0.5 s, for three times the first endsAt."""
    from datetime import timedelta

    from tenantops.notify.alertmanager import alertname

    def active() -> list[dict[str, object]]:
        return [a for a in alertmanager_alerts(alertmanager, "active=true") if a["status"]["state"] == "active"]

    alert = Alert("metrics-implausible:acme/api", "acme", Severity.WARNING, "metrics-implausible",
                  "acme/api: untrusted readings: cpu nan", "Check the exporter")
    sender = AlertmanagerSender(alertmanager, generator_url="http://controller:8080/metrics",
                                ends_after=timedelta(seconds=2))
    first = datetime.now(UTC)
    first_ends = first + timedelta(seconds=2)
    while datetime.now(UTC) < first + timedelta(seconds=6):
        sender.send([alert], datetime.now(UTC))
        time.sleep(0.5)
    (got,) = active()
    assert datetime.now(UTC) > first_ends + timedelta(seconds=3)  # well past the first endsAt
    assert got["labels"]["alertname"] == alertname("metrics-implausible") == "TenantopsMetricsImplausible"
    annotations = got["annotations"]
    assert annotations["runbook_url"].endswith("#metrics-implausible")
    assert annotations["summary"] and "Check the exporter" in annotations["description"]
    assert got["generatorURL"] == "http://controller:8080/metrics"
    sender.send([Alert(alert.key, "acme", Severity.WARNING, alert.cause, "Resolved", "none", None,
                       {"resolved": True})], datetime.now(UTC))
    assert active() == []
