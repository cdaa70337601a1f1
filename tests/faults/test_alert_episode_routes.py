"""Alert volume under a persistent fault, on every route: one workload's metrics missing for 20 passes of
`tenantops run`'s controller (composition root, runner loop at a 1 s interval) is one mail, one webhook post
and one alert in a real Alertmanager, however many passes it lasts.

The controller reads a real Prometheus scraping a live exporter for alpha/api; alpha/worker runs (two
replicas in the Kubernetes API stand-in, so it owes metrics) but exports nothing. Mail goes through the
outbox to a real SMTP server, the webhook to a real HTTP receiver, and the Alertmanager route to Debian's
`prometheus-alertmanager`. Alertmanager's contract is that a client re-sends a firing alert before its
`endsAt`: the controller does, every pass, and Alertmanager keeps it as one alert with one `startsAt`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tenantops.config.settings import Settings
from tenantops.engine.root import build_controller
from tenantops_lab.sandbox.alert_receivers import alertmanager_alerts

from .conftest import FaultLedger
from .helpers import run_passes, set_interval, write_config
from .live_exporter import LiveExporter

pytestmark = pytest.mark.integration

CLASS = "alert volume under persistent faults"
PASSES = 20
TENANT = [{"id": "alpha", "tier": "pro", "isolation": "pool", "region": "us-east-1", "budget_usd_month": 500,
           "contacts": ["ops@alpha.example"],
           "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 20},
                         {"name": "worker", "min_replicas": 1, "max_replicas": 20}]}]


def _active(url: str) -> list[dict[str, Any]]:
    return [a for a in alertmanager_alerts(url, "active=true&silenced=false&inhibited=false")
            if a["labels"].get("tenant") == "alpha"]


def test_twenty_passes_of_missing_metrics_are_one_notice_per_route(prometheus: Any, kube_api: Any, smtp_server: Any,
                                                                   alertmanager: str, webhook_receiver: Any,
                                                                   tmp_path: Path, fault_ledger: FaultLedger) -> None:
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    kube_api.add_deployment("tenant-alpha", "worker", replicas=2)
    exporter = LiveExporter("alpha", "api", lambda: kube_api.replicas("tenant-alpha", "api") or 0, 20.0)
    receiver = webhook_receiver
    seen: list[list[dict[str, Any]]] = []
    try:
        prom = prometheus([exporter.target], scrape_interval="1s")
        assert prom.wait_for_series('sum(rate(http_requests_total{tenant="alpha"}[2m]))', timeout=30)
        catalog, policies = write_config(tmp_path, TENANT)
        set_interval(policies, 1.0)
        settings = Settings(catalog=str(catalog), policies=str(policies), state=str(tmp_path / "state.db"),
                            prometheus_url=prom.url, kube_url=kube_api.url, smtp_host=smtp_server.host,
                            smtp_port=smtp_server.port, mail_from="tenantops@example.com",
                            ops_email="ops@example.com", webhook_url=receiver.url, alertmanager_url=alertmanager)
        controller = build_controller(settings, dry_run=False, decider_names=["facts", "autoscaling"])
        results: list[Any] = []

        def after(result: Any) -> None:
            results.append(result)
            seen.append(_active(alertmanager))

        run_passes(controller, catalog, policies, PASSES, [after])
    finally:
        exporter.close()
    mails = [m for m in smtp_server.messages if str(m["Subject"]).startswith("[tenantops]")]
    subjects = [str(m["Subject"]) for m in mails]
    posts = [body for _, body in receiver.posts]
    firing = [a for a in seen[-1] if "worker" in json.dumps(a["labels"])]
    starts = {a["startsAt"] for snapshot in seen for a in snapshot if "worker" in json.dumps(a["labels"])}
    print(f"\n{len(results)} passes with alpha/worker's metrics missing: {len(mails)} alert mails {subjects}, "
          f"{len(posts)} webhook posts, Alertmanager active {len(firing)} (startsAt {sorted(starts)})")
    held = (len(results) == PASSES and len(mails) == 1 and "alpha" in subjects[0] and len(posts) == 1
            and len(firing) == 1 and len(starts) == 1)
    fault_ledger.case(CLASS, held, f"alpha/worker without metrics for {len(results)} passes: {len(mails)} mails, "
                                   f"{len(posts)} webhook posts, {len(firing)} active in Alertmanager, "
                                   f"{len(starts)} startsAt")
    assert len(results) == PASSES
    assert len(mails) == 1, subjects
    assert len(posts) == 1, posts
    assert len(firing) == 1 and len(starts) == 1, seen[-1]
