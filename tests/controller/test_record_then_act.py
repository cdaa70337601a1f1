"""Record, then act: a pass commits its plan and one intent per write before any actuator call, and the
outcomes after. A commit that fails writes nothing to the cluster; a controller killed between the two
commits finds its intent at the next start, reads it against the live state and audits what it found.
Real Prometheus, the Kubernetes API stand-in, the real state database, a real SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tenantops.act.kubernetes import KubernetesActuator
from tenantops.cli.main import cli
from tenantops.engine import intents
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.observe.prometheus import PrometheusSource
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind
from tenantops_lab.sandbox.ports import free_port

from .conftest import TargetTracking, replicas_gauge, requests_counter, utc

pytestmark = pytest.mark.integration

SCALE = "/apis/apps/v1/namespaces/tenant-alpha/deployments/api/scale"


def test_a_pass_whose_commit_fails_writes_nothing(prometheus: Any, config: Any, kube_api: Any, tmp_path: Path) -> None:
    now = float(int(time.time()) - 60)
    prom = prometheus(series=[requests_counter("alpha", "api", 40, now - 1200, now),
                              replicas_gauge("alpha", "api", 2, now - 1200, now)])
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    path = tmp_path / "state.db"
    store = StateStore(path, busy_timeout_ms=200)
    reconciler = Reconciler(PrometheusSource(prom.url), store, [TargetTracking()],
                            register_actuators({TargetKind.KUBERNETES: KubernetesActuator.connect(kube_api.url)}))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another writer holds the database: this pass cannot record
    try:
        with pytest.raises(Exception, match="state database"):
            reconciler.run_pass(config, utc(now))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert kube_api.writes() == [] and kube_api.replicas("tenant-alpha", "api") == 2
    result = reconciler.run_pass(config, utc(now))  # the database is back: the same pass acts and records
    assert kube_api.replicas("tenant-alpha", "api") == 4
    assert any(o.action.workload == "api" and o.status.value == "applied" for o in result.outcomes)
    assert not store.state(intents.STATE)  # every intent has its outcome
    store.close()


def _intents(path: Path) -> int:
    try:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT count(*) FROM state WHERE decider = ?", (intents.STATE,)).fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_between_intent_and_outcome_the_restart_reconciles_and_audits(
    prometheus: Any, config_files: tuple[Path, Path], kube_api: Any, tmp_path: Path
) -> None:
    catalog, policies = config_files
    now = float(int(time.time()))
    prom = prometheus(series=[requests_counter("alpha", "api", 1000, now - 1200, now),
                              replicas_gauge("alpha", "api", 2, now - 1200, now)])
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    kube_api.inject(SCALE, "hang", method="PATCH", hang_seconds=120)  # the write never returns
    state = tmp_path / "state.db"
    args = ["run", "--catalog", str(catalog), "--policies", str(policies), "--state", str(state),
            "--prometheus-url", prom.url, "--kube-url", kube_api.url, "--decider", "autoscaling",
            "--http-host", "127.0.0.1", "--http-port", str(free_port()), "--max-passes", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", "from tenantops.cli.main import main; main()", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (kube_api.in_flight and _intents(state)):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        assert kube_api.in_flight, "the controller never tried to scale"
        assert _intents(state) == 1  # recorded before the call
        proc.send_signal(signal.SIGKILL)  # during the actuator call
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    kube_api.clear_faults()
    with StateStore(state) as store:
        assert not [e for e in audit.query(store.connection, tenant="alpha") if e.kind == "act"]  # no outcome yet

    result = CliRunner().invoke(cli, [*args, "--dry-run"])  # a dry run: no recovery
    assert _intents(state) == 1, result.output
    result = CliRunner().invoke(cli, args)  # the restart
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert _intents(state) == 0
    with StateStore(state) as store:
        acts = [e for e in audit.query(store.connection, tenant="alpha") if e.kind == "act" and e.workload == "api"]
    recovered = [e for e in acts if e.rule.startswith("recovered-")]
    assert len(recovered) == 1
    # The hung PATCH was never applied: the intent is audited as not applied, with the live count.
    assert recovered[0].rule == "recovered-not-applied" and recovered[0].new == 2
    assert "no recorded outcome" in recovered[0].reason
    # And the restarted pass decided and scaled again, on fresh data, the whole way: the write that was never
    # made used up none of the 60 s scale-up period (2 -> 20 is 900%; a recorded one would hold it at 2).
    assert acts[-1].rule == "applied" and acts[-1].new == 20, [(e.rule, e.new) for e in acts]
    assert kube_api.replicas("tenant-alpha", "api") == 20
