"""Secrets never leave the process, and the controller's port serves health and metrics only.

`tenantops run` runs as a subprocess against real servers (Prometheus, the Kubernetes API stand-in,
moto, an SMTP server demanding AUTH) with an SMTP password and an AWS secret key set; then reports are
sent (accepted, refused for the wrong password, and with the mail server down). Every log line, the
audit log, the whole state database, /metrics and every error message are searched for the secrets.
"""

from __future__ import annotations

import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenantops_lab.sandbox.ports import free_port
from tenantops_lab.sandbox.smtp import SmtpServer

from .conftest import FaultLedger
from .helpers import workload_series, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMTP_SECRET = "smtp-Pa55w0rd!-7f3e9c"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYfaultSUITEkey"
SECRETS = {"SMTP password": SMTP_SECRET, "AWS secret key": AWS_SECRET}
HTTP = "HTTP endpoints"
LEAK = "secrets never logged"


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(username="ops", password=SMTP_SECRET, eml_dir=tmp_path / "mail").start()
    yield server
    server.stop()


def _request(port: int, method: str, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _wait_ready(port: int, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _request(port, "GET", "/readyz")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def test_secrets_stay_out_of_logs_audit_metrics_and_errors(prometheus, kube_api, moto_server, mail: SmtpServer,
                                                          tmp_path: Path, fault_ledger: FaultLedger) -> None:
    now = float(int(time.time()))
    prom = prometheus(series=workload_series("alpha", "api", 80, 2, now - 900, now)
                      + workload_series("beta", "api", 1, 6, now - 900, now))
    for t in ("alpha", "beta"):
        kube_api.add_deployment(f"tenant-{t}", "api", replicas=2 if t == "alpha" else 6)
    catalog, policies = write_config(tmp_path)
    state = tmp_path / "state.db"
    port = free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIAFAULTSUITE000001", "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "TENANTOPS_CATALOG": str(catalog), "TENANTOPS_POLICIES": str(policies), "TENANTOPS_STATE": str(state),
        "TENANTOPS_PROMETHEUS_URL": prom.url, "TENANTOPS_KUBE_URL": kube_api.url,
        "TENANTOPS_AWS_ENDPOINT_URL": moto_server.endpoint_url, "TENANTOPS_SMTP_HOST": "127.0.0.1",
        "TENANTOPS_SMTP_PORT": str(mail.port), "TENANTOPS_SMTP_USER": "ops", "TENANTOPS_SMTP_PASSWORD": SMTP_SECRET,
        "TENANTOPS_HTTP_PORT": str(port), "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "run.log"
    texts: dict[str, str] = {}
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "tenantops.cli.main", "-vv", "run", "--http-host", "127.0.0.1"],
                                env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            assert _wait_ready(port, proc, time.monotonic() + 90), log_path.read_text()[-3000:]
            # -- the HTTP surface
            for path in ("/healthz", "/readyz", "/metrics"):
                for method in ("GET", "HEAD"):
                    status, body = _request(port, method, path)
                    ok = status == 200 and (method == "GET") == bool(body)
                    assert fault_ledger.case(HTTP, ok, f"{method} {path}: {status}")
            for path in ("/", "/metrics/", "/healthz/../metrics", "/../../etc/passwd", "/.git/config", "/static/",
                         "/debug/pprof", "/api/v1/query", "/%2e%2e/", "/index.html", "//", "/METRICS", "/readyz.json"):
                status, body = _request(port, "GET", path)
                held = status == 404 and b"<a href" not in body and b"Index of" not in body
                assert fault_ledger.case(HTTP, held, f"GET {path}: {status} {body[:60]!r}")
            for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"):
                status, _ = _request(port, method, "/metrics")
                assert fault_ledger.case(HTTP, status in (405, 501), f"{method} /metrics: {status}")
            texts["/metrics"] = _request(port, "GET", "/metrics")[1].decode()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    texts["run log"] = log_path.read_text(errors="replace")
    # -- reports: delivered, refused (wrong password), mail server down
    cli = [sys.executable, "-m", "tenantops.cli.main", "-vv"]
    sent = subprocess.run([*cli, "report", "--send"], env=env, capture_output=True, text=True, timeout=120)
    texts["report --send"] = sent.stdout + sent.stderr
    delivered = sent.returncode == 0 and any(m.login == "ops" for m in mail.received)
    assert fault_ledger.case(LEAK, delivered, f"report delivered with AUTH: exit {sent.returncode}")
    wrong = {**env, "TENANTOPS_SMTP_PASSWORD": SMTP_SECRET + "-wrong"}
    refused = subprocess.run([*cli, "report", "--send", "--period", "14d"], env=wrong, capture_output=True, text=True,
                             timeout=120)
    texts["report --send, wrong password"] = refused.stdout + refused.stderr
    mail.stop()
    down = subprocess.run([*cli, "report", "--send", "--period", "21d"], env=env, capture_output=True, text=True,
                          timeout=120)
    texts["report --send, server down"] = down.stdout + down.stderr
    audit_out = subprocess.run([*cli, "audit", "--json"], env=env, capture_output=True, text=True, timeout=60)
    texts["audit --json"] = audit_out.stdout + audit_out.stderr
    with sqlite3.connect(state) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        texts["state database"] = "\n".join(str(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))
    assert "pass at" in texts["run log"] or "pass " in texts["run log"]  # the logs are really there
    assert "authentication failed" in texts["report --send, wrong password"]
    assert "connection refused" in texts["report --send, server down"].lower()
    assert texts["audit --json"].strip().startswith(("[", "{"))
    leaks = []
    for where, text in texts.items():
        for what, secret in SECRETS.items():
            held = secret not in text and secret[:12] not in text
            if not fault_ledger.case(LEAK, held, f"{what} in {where}: {'leaked' if not held else 'absent'}"):
                leaks.append((what, where))
    assert not leaks, leaks
