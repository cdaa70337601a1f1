"""The process SIGKILLed mid-pass (while a query is held, while a Kubernetes write hangs) and mid-delivery
(while the mail server has not answered), then restarted.

`tenantops reconcile --once` and `tenantops report --send` run as subprocesses against real servers.
What must hold: the killed pass leaves no partial audit rows and an intact state database; the next
pass records in full and resumes the decider state; a write cut off mid-flight is made exactly once;
a report queued before the kill is delivered exactly once after restart.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenantops.record.store import StateStore
from tenantops_lab.sandbox.smtp import SmtpServer

from .conftest import FaultLedger
from .helpers import tenantops_command, workload_series, write_config
from .proxy import FaultProxy
from .smtp_faults import SilentServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILL = "process killed mid-pass"
OUTBOX = "process killed mid-pass (outbox)"


def _audit(state: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(state) as conn:
        return list(conn.execute("SELECT at, tenant, workload, kind, rule, reason FROM audit ORDER BY id"))


def _state(state: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(state) as conn:
        return {(d, k): v for d, k, v in conn.execute("SELECT decider, key, value FROM state")}


def _intact(state: Path) -> bool:
    with sqlite3.connect(state) as conn:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def _kill_when(proc: subprocess.Popen[bytes], ready: threading.Event | None, check: object = None,
               timeout: float = 60) -> bool:
    """SIGKILL `proc` once `ready` is set (or `check()` is true); False if it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if (ready is not None and ready.is_set()) or (callable(check) and check()):
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return True
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    return False


@pytest.fixture
def setup(prometheus, kube_api, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, FaultProxy, object]]:
    now = float(int(time.time()))
    prom = prometheus(series=workload_series("alpha", "api", 80, 2, now - 900, now + 0)
                      + workload_series("beta", "api", 1, 6, now - 900, now))
    proxy = FaultProxy(prom.url).start()
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    kube_api.add_deployment("tenant-beta", "api", replicas=6)
    catalog, policies = write_config(tmp_path)
    state = tmp_path / "state.db"
    env = {**os.environ, "TENANTOPS_CATALOG": str(catalog), "TENANTOPS_POLICIES": str(policies),
           "TENANTOPS_STATE": str(state), "TENANTOPS_PROMETHEUS_URL": proxy.url, "TENANTOPS_KUBE_URL": kube_api.url}
    yield env, state, proxy, kube_api
    proxy.stop()


def _once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tenantops_command("reconcile", "--once", "--decider", "autoscaling"), env=env,
                          capture_output=True, text=True, timeout=120)


def test_killed_while_observing_loses_and_duplicates_nothing(setup, fault_ledger: FaultLedger) -> None:
    env, state, proxy, _ = setup
    first = _once(env)
    assert first.returncode in (0, 1), first.stderr[-2000:]
    rows, kept = _audit(state), _state(state)
    assert rows and kept
    proxy.set("hold")
    proc = subprocess.Popen(tenantops_command("reconcile", "--once", "--decider", "autoscaling"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = _kill_when(proc, proxy.held)
    assert fault_ledger.case(KILL, killed, "killed while a Prometheus query was held")
    proxy.set("ok")
    after_kill = _audit(state)
    held = after_kill == rows and _state(state) == kept and _intact(state)
    assert fault_ledger.case(KILL, held, f"after kill: {len(after_kill)} audit rows (was {len(rows)}), state same")
    again = _once(env)
    assert again.returncode in (0, 1), again.stderr[-2000:]
    final = _audit(state)
    new = final[len(rows):]
    whole = final[: len(rows)] == rows and len(new) >= len({(r[1], r[2]) for r in rows if r[1]})
    assert fault_ledger.case(KILL, whole, f"restart recorded {len(new)} rows after {len(rows)} kept")
    no_dups = len(set(final)) == len(final)
    assert fault_ledger.case(KILL, no_dups, f"{len(final) - len(set(final))} duplicated audit rows")
    resumed = set(kept) <= set(_state(state))
    assert fault_ledger.case(KILL, resumed, f"state keys kept across the kill: {sorted(kept)[:4]}")


def test_killed_while_a_kubernetes_write_hangs_writes_once(setup, fault_ledger: FaultLedger) -> None:
    env, state, _, kube = setup
    scale = "/apis/apps/v1/namespaces/tenant-alpha/deployments/api/scale"
    kube.inject(scale, "hang", count=1, method="PATCH", hang_seconds=60)
    proc = subprocess.Popen(tenantops_command("reconcile", "--once", "--decider", "autoscaling"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = _kill_when(proc, None, check=lambda: kube.in_flight > 0)
    assert fault_ledger.case(KILL, killed, "killed while the scale PATCH hung")
    kube.clear_faults()
    # The pass recorded its intents before acting; nothing may say the write was applied.
    applied_before = [r for r in _audit(state) if r[3] == "act" and r[4] == "applied"] if state.exists() else []
    untouched = kube.replicas("tenant-alpha", "api") == 2 and not applied_before and \
        (not state.exists() or _intact(state))
    assert fault_ledger.case(KILL, untouched, f"after kill: replicas {kube.replicas('tenant-alpha', 'api')}, "
                                               f"audit rows {len(_audit(state)) if state.exists() else 0}")
    for _ in range(2):
        done = _once(env)
        assert done.returncode in (0, 1), done.stderr[-2000:]
    writes = kube.writes(scale)
    applied = [r for r in _audit(state) if r[1] == "alpha" and r[3] == "act" and r[4] == "applied"]
    # Each pass starts from the live count, so the second may take a further step up; what must not
    # happen is a write without its audit row, or the same write twice.
    values = [w.body["spec"]["replicas"] for w in writes]
    once = 1 <= len(writes) == len(applied) and len(set(values)) == len(values) and \
        (kube.replicas("tenant-alpha", "api") or 0) > 2
    assert fault_ledger.case(KILL, once, f"writes {values}, {len(applied)} applied audit rows")


def test_report_queued_then_killed_is_delivered_exactly_once(tmp_path: Path, fault_ledger: FaultLedger) -> None:
    catalog, policies = write_config(tmp_path)
    state = tmp_path / "state.db"
    StateStore(state).close()  # the controller's state, as report --send requires
    silent = SilentServer()
    env = {**os.environ, "TENANTOPS_CATALOG": str(catalog), "TENANTOPS_POLICIES": str(policies),
           "TENANTOPS_STATE": str(state), "TENANTOPS_SMTP_HOST": "127.0.0.1", "TENANTOPS_SMTP_PORT": str(silent.port)}
    at = "2026-11-20T08:00:00+00:00"
    proc = subprocess.Popen(tenantops_command("report", "--send", "--at", at), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    killed = _kill_when(proc, silent.connected)
    silent.close()
    assert fault_ledger.case(OUTBOX, killed, "killed while the mail server had not answered")
    with sqlite3.connect(state) as conn:
        rows = list(conn.execute("SELECT dedup_key, status FROM outbox"))
    assert fault_ledger.case(OUTBOX, len(rows) == 1 and rows[0][1] in ("sending", "pending"),
                             f"outbox after kill: {rows}")
    mail = SmtpServer(eml_dir=tmp_path / "mail").start()
    try:
        env["TENANTOPS_SMTP_PORT"] = str(mail.port)
        # restarted after the claim's lease ran out (same report period: the same day, an hour later)
        for later in ("2026-11-20T09:00:00+00:00", "2026-11-20T10:00:00+00:00"):
            out = subprocess.run(tenantops_command("report", "--send", "--at", later), env=env, capture_output=True,
                                 text=True, timeout=120)
            assert out.returncode == 0, out.stderr[-2000:]
        received = mail.received
        with sqlite3.connect(state) as conn:
            rows = list(conn.execute("SELECT dedup_key, status FROM outbox"))
        once = len(received) == 1 and len(rows) == 1 and rows[0][1] == "sent"
        assert fault_ledger.case(OUTBOX, once, f"{len(received)} delivered; outbox {rows}")
    finally:
        mail.stop()
