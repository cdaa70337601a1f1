"""SIGKILL at the moment of an actuator call, 30 times: `tenantops run` against a real Prometheus and the
Kubernetes API stand-in, killed each time it sends a scale PATCH and started again.

Every tenant wants more replicas than it runs, so every pass writes. The stand-in calls back the test as
each armed PATCH arrives, before serving it; the test alternates two moments:
- held: the PATCH waits in the stand-in while the controller is killed, and is served after the client is
  gone (the cluster took the write; the controller never heard the answer);
- racing: the PATCH is served at once and the kill lands as soon as the test hears of it (during the
  answer, the outcome commit, or the next call of the same pass).
After the last kill the controller runs once more until no intent is left. What must hold: every write the
stand-in received has an audit row with its outcome, `applied` from the pass that made it or
`recovered-applied` from the restart that read the intent against the live count, with the value written;
no state database is left damaged; and a write read back as never made used up none of the shipped scale-up
period (the next decision for that workload is not held by the rate limit).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantops.engine import intents
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.ports import free_port

from .conftest import FaultLedger
from .helpers import tenantops_command, workload_series, write_config

# A restart costs a process start (about 2 s on an idle 2-core machine, several when it is loaded).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

CLASS = "kill at the actuator call"
KILLS = 30
TENANTS = 40  # each takes one write (afterwards its replicas metric contradicts the live count: held)
PATCHES = "/apis/apps/v1/namespaces/tenant-*"
OUTCOMES = {"applied", "recovered-applied"}


def _catalog(directory: Path) -> tuple[Path, Path]:
    tenants = [{"id": f"t{i:02d}", "tier": "pro", "isolation": "pool", "region": "us-east-1",
                "budget_usd_month": 500, "contacts": [f"ops@t{i:02d}.example"],
                "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 20}]} for i in range(TENANTS)]
    catalog, policies = write_config(directory, tenants)
    # The scaling policies are the shipped ones (`balanced`: scale-up limited per 60 s period): a write a
    # killed pass never sent uses up none of that period, so its workload scales at the next start.
    path = policies / "reports.yaml"
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    for doc in docs:
        if doc["kind"] == "ControllerPolicy":
            doc["spec"].update(interval_seconds=1, jitter_seconds=0)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return catalog, policies


class CallTrap:
    """Arms the stand-in to call back on the next scale PATCH; `hold` keeps that PATCH waiting until
    `release()` (or 30 s)."""

    def __init__(self, kube: Any) -> None:
        self.kube = kube
        self.arrived = threading.Event()
        self.released = threading.Event()

    def arm(self, hold: bool) -> None:
        self.arrived.clear()
        self.released.clear()

        def at_call() -> None:
            self.arrived.set()
            if hold:
                self.released.wait(30)

        self.kube.on_request(PATCHES, at_call, method="PATCH")

    def release(self) -> None:
        self.released.set()


def _intents(state: Path) -> int:
    if not state.exists():
        return 0
    with sqlite3.connect(state) as conn:
        return int(conn.execute("SELECT count(*) FROM state WHERE decider = ?", (intents.STATE,)).fetchone()[0])


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(tenantops_command("run", "--decider", "autoscaling", "--http-host", "127.0.0.1",
                                 "--http-port", str(free_port())), env=env, stdout=out, stderr=subprocess.STDOUT)


def _written(kube: Any) -> list[tuple[str, str, int]]:
    """(tenant, workload, replicas) of every scale write the stand-in served."""
    out = []
    for record in kube.writes("/apis/apps/v1/namespaces/"):
        parts = record.path.split("/")  # '', apis, apps, v1, namespaces, ns, deployments, name, scale
        assert parts[-1] == "scale", record.path
        out.append((parts[5].removeprefix("tenant-"), parts[7], int(record.body["spec"]["replicas"])))
    return out


def test_thirty_kills_at_the_actuator_call_leave_no_write_without_its_outcome(
        prometheus, kube_api, tmp_path: Path, fault_ledger: FaultLedger) -> None:
    now = float(int(time.time()))
    series = []
    for i in range(TENANTS):
        kube_api.add_deployment(f"tenant-t{i:02d}", "api", replicas=2)
        series += workload_series(f"t{i:02d}", "api", 400, 2, now - 900, now + 600)
    prom = prometheus(series=series)
    catalog, policies = _catalog(tmp_path)
    state, log = tmp_path / "state.db", tmp_path / "controller.log"
    env = {**os.environ, "TENANTOPS_CATALOG": str(catalog), "TENANTOPS_POLICIES": str(policies),
           "TENANTOPS_STATE": str(state), "TENANTOPS_PROMETHEUS_URL": prom.url, "TENANTOPS_KUBE_URL": kube_api.url}
    trap = CallTrap(kube_api)
    started, kills, modes = time.monotonic(), 0, Counter[str]()
    proc: subprocess.Popen[bytes] | None = None
    try:
        for n in range(KILLS):
            hold = n % 2 == 0
            trap.arm(hold)
            proc = _start(env, log)
            if not trap.arrived.wait(60):
                raise AssertionError(f"kill {n + 1}: no scale PATCH within 60 s (exit {proc.poll()}); log:\n"
                                     + log.read_text()[-4000:])
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            trap.release()  # a held PATCH is served now, to a client that is gone
            kills += 1
            modes["held" if hold else "racing"] += 1
        kube_api.clear_faults()
        deadline = time.monotonic() + 30  # the last released PATCH is served before the last restart reads
        while kube_api.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        proc = _start(env, log)  # the last restart: it reads every open intent against the live count
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (_intents(state) or not _recovered_all(state, kube_api)):
            assert proc.poll() is None, log.read_text()[-4000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        trap.release()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
    elapsed = time.monotonic() - started

    writes = _written(kube_api)
    rows = _outcomes(state)
    missing = _without_outcome(writes, rows)
    with sqlite3.connect(state) as conn:
        intact = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rules = Counter(r for _, _, _, r in rows)
    limited = _limited_after_recovery(state)
    detail = (f"{kills} SIGKILLs ({modes['held']} held, {modes['racing']} racing) in {elapsed:.0f}s: "
              f"{len(writes)} writes received, {len(writes) - len(missing)} with an audit outcome "
              f"({dict(rules)}), {_intents(state)} intents left, database intact={intact}, "
              f"{len(limited)} held by the rate limit after a write never made")
    print(f"\nkill at the actuator call: {detail}")
    held = kills == KILLS and bool(writes) and not missing and _intents(state) == 0 and intact and not limited
    fault_ledger.case(CLASS, held, detail)
    assert held, f"{detail}; without outcome: {missing[:5]}"


def _outcomes(state: Path) -> list[tuple[str, str, int, str]]:
    """(tenant, workload, replicas, rule) of every audit row saying a scale write is in effect."""
    with StateStore(state) as store:
        return [(str(e.tenant), str(e.workload), int(e.new), e.rule) for e in audit.query(store.engine, kind="act")
                if e.rule in OUTCOMES and isinstance(e.new, int | float)]


def _without_outcome(writes: list[tuple[str, str, int]],
                     rows: list[tuple[str, str, int, str]]) -> list[tuple[str, str, int]]:
    """The writes that no outcome row accounts for, each row accounting for one write."""
    left = Counter((t, w, v) for t, w, v, _ in rows)
    missing = []
    for write in writes:
        if left[write] > 0:
            left[write] -= 1
        else:
            missing.append(write)
    return missing


def _limited_after_recovery(state: Path) -> list[tuple[str, str]]:
    """Workloads whose intent a restart read back as not made and whose next decision the scale rate policy
    held at the current count, as if the write that never happened had used up the period (a limit that
    only shortens a large step still scales, and is not counted)."""
    with StateStore(state) as store:
        entries = list(audit.query(store.engine))
    waiting: set[tuple[str, str]] = set()
    limited = []
    for entry in entries:  # oldest first: a restart's recovery rows come before its pass's decisions
        key = (str(entry.tenant), str(entry.workload))
        if entry.kind == "act" and entry.rule == "recovered-not-applied":
            waiting.add(key)
        elif key in waiting and entry.kind in ("scale", "skip"):
            waiting.discard(key)
            if entry.kind == "skip" and entry.rule == "rate-limited":
                limited.append(key)
    return limited


def _recovered_all(state: Path, kube: Any) -> bool:
    return not _without_outcome(_written(kube), _outcomes(state))
