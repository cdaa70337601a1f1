"""`tenantops run` SIGKILLed after the pass that fired an alert committed, while the chat webhook was down,
then restarted with the webhook back: the webhook gets that transition exactly once.

The controller reads a real Prometheus scraping a live exporter for alpha/api; alpha/worker runs in the
Kubernetes API stand-in but exports nothing, so its metrics episode fires after the policy's failed passes.
Mail goes to a real SMTP server; the webhook is a real HTTP receiver behind a proxy whose listening socket
is closed while "down" (connection refused). Before, the webhook was called once, after the pass, and a
refused call or a kill before it lost the transition: the episode was recorded as notified, so no later
pass told the webhook again.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tenantops_lab.sandbox.alert_receivers import WebhookReceiver
from tenantops_lab.sandbox.ports import free_port

from .conftest import FaultLedger
from .helpers import set_interval, stop, tenantops_command, write_config
from .live_exporter import LiveExporter
from .proxy import FaultProxy
from .test_alert_episode_routes import TENANT
from .test_kill_restart import _kill_when

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASE = "process killed mid-pass (webhook outbox)"


def _rows(state: Path) -> list[tuple[str, str, int]]:
    if not state.exists():
        return []
    try:
        with sqlite3.connect(state) as conn:
            return list(conn.execute("SELECT dedup_key, status, attempts FROM outbox WHERE kind = 'alert-webhook'"))
    except sqlite3.OperationalError:  # the controller has not created its tables yet
        return []


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(tenantops_command("run", "--decider", "facts", "--decider", "autoscaling",
                                                  "--http-host", "127.0.0.1", "--http-port", str(free_port())),
                                env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_killed_with_the_webhook_down_the_restart_posts_the_transition_once(
        prometheus: Any, kube_api: Any, smtp_server: Any, tmp_path: Path, fault_ledger: FaultLedger) -> None:
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    kube_api.add_deployment("tenant-alpha", "worker", replicas=2)
    exporter = LiveExporter("alpha", "api", lambda: kube_api.replicas("tenant-alpha", "api") or 0, 20.0)
    receiver = WebhookReceiver()
    proxy = FaultProxy(receiver.url).start()
    proxy.set("down")
    state, log = tmp_path / "state.db", tmp_path / "controller.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        prom = prometheus([exporter.target], scrape_interval="1s")
        assert prom.wait_for_series('sum(rate(http_requests_total{tenant="alpha"}[2m]))', timeout=30)
        catalog, policies = write_config(tmp_path, TENANT)
        set_interval(policies, 1.0)
        env = {**os.environ, "TENANTOPS_CATALOG": str(catalog), "TENANTOPS_POLICIES": str(policies),
               "TENANTOPS_STATE": str(state), "TENANTOPS_PROMETHEUS_URL": prom.url,
               "TENANTOPS_KUBE_URL": kube_api.url, "TENANTOPS_SMTP_HOST": smtp_server.host,
               "TENANTOPS_SMTP_PORT": str(smtp_server.port), "TENANTOPS_MAIL_FROM": "tenantops@example.com",
               "TENANTOPS_OPS_EMAIL": "ops@example.com", "TENANTOPS_WEBHOOK_URL": proxy.url + "/hook"}
        proc = _start(env, log)
        # The episode fired and its pass committed: its mail reached the SMTP server, and the webhook was
        # tried (refused). Killed then, with nothing posted.
        killed = _kill_when(proc, None, check=lambda: any(r[2] >= 1 for r in _rows(state)), timeout=120)
        held = killed and receiver.posts == [] and [r[1] for r in _rows(state)] == ["pending"]
        assert fault_ledger.case(CASE, held, f"killed with the webhook down: outbox {_rows(state)}, "
                                             f"{len(receiver.posts)} posts"), log.read_text()[-3000:]

        proxy.set("ok")
        proc = _start(env, log)  # the row's next attempt is at most the outbox's first backoff (30 s) away
        posted = _wait(lambda: receiver.posts, timeout=90)
        time.sleep(5)  # five more passes: the restarted controller must not post it again
        stop(proc)
    finally:
        if proc is not None:
            stop(proc)
        exporter.close()
        proxy.stop()
        receiver.close()
    texts = [body["text"] for _, body in receiver.posts]
    rows = _rows(state)
    print(f"\nafter restart: {len(texts)} webhook post(s) {texts}; outbox {rows}")
    once = posted and len(texts) == 1 and "alpha" in texts[0] and [r[1] for r in rows] == ["done"]
    assert fault_ledger.case(CASE, once, f"{len(texts)} webhook posts after restart; outbox {rows}"), \
        log.read_text()[-3000:]
