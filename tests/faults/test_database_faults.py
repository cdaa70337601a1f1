"""The state database down, slow and read-only, under whole passes on a real PostgreSQL.

What must hold: no pass acts without being able to record it (the actuators see no write while the
database cannot take one), the error names the database with its password masked and never escapes
as anything but the store's own error, a slow database delays a pass but loses nothing, and the
controller records again once the database is back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tenantops.act.kubernetes import KubernetesActuator
from tenantops.config import load_config
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.record.errors import StateUnavailable
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind
from tenantops_lab.sandbox.postgres import PostgresServer

from .conftest import FaultLedger
from .helpers import write_config
from .test_actuator_faults import DESIRED, START, NoMetrics, ScaleEveryone, _path, _tenants

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOWN, SLOW, READ_ONLY = "state database down", "state database slow", "state database read-only"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:  # its own server: these tests stop and reconfigure it
        yield server


@pytest.fixture
def world(pg: PostgresServer, kube_api, tmp_path: Path) -> dict[str, Any]:
    config = load_config(*write_config(tmp_path, _tenants("pool")))
    for tenant in config.tenants:
        kube_api.add_deployment(f"tenant-{tenant.id}", "api", replicas=START)
    url = pg.create_database("state")
    store = StateStore(url)
    actuator = KubernetesActuator.connect(kube_api.url)
    reconciler = Reconciler(NoMetrics(), store, [ScaleEveryone()],
                            register_actuators({TargetKind.KUBERNETES: actuator}))
    return {"config": config, "url": url, "store": store, "reconciler": reconciler, "kube": kube_api,
            "pg": pg, "tmp": tmp_path}


def _audit_rows(store: StateStore) -> int:
    row = store.connection.execute("SELECT count(*) FROM audit").fetchone()
    return int(row[0]) if row else 0


def test_database_down_mid_run_stops_every_write_until_it_is_back(world, fault_ledger: FaultLedger) -> None:
    store, kube, pg = world["store"], world["kube"], world["pg"]
    pg.stop("immediate")
    try:
        world["reconciler"].run_pass(world["config"], NOW)
    except StateUnavailable as exc:
        held = "postgresql://tenantops@127.0.0.1" in str(exc) and "/state" in str(exc)
        fault_ledger.case(DOWN, held, f"pass refused: {str(exc)[:160]}")
    else:
        fault_ledger.case(DOWN, False, "the pass completed without its database")
        raise AssertionError("a pass ran without being able to record it")
    assert fault_ledger.case(DOWN, kube.writes() == [], f"{len(kube.writes())} writes while the database was down")
    pg.start()
    result = world["reconciler"].run_pass(world["config"], NOW + timedelta(seconds=30))
    back = all(kube.replicas(f"tenant-{t.id}", "api") == DESIRED for t in world["config"].tenants) and \
        _audit_rows(store) == result.decisions > 0
    assert fault_ledger.case(DOWN, back, f"after restart: {result.decisions} audit rows, all scaled: {back}")
    store.close()


def test_database_down_at_start_exits_1_naming_it_without_the_password(world, fault_ledger: FaultLedger) -> None:
    pg = world["pg"]
    url = pg.url("state", password="s3cret-pw")
    pg.stop()
    env = {**os.environ, "TENANTOPS_CATALOG": str(world["tmp"] / "catalog.yaml"),
           "TENANTOPS_POLICIES": str(world["tmp"] / "policies"), "TENANTOPS_DATABASE_URL": url,
           "TENANTOPS_KUBE_URL": world["kube"].url, "TENANTOPS_PROMETHEUS_URL": "http://127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-m", "tenantops.cli.main", "reconcile", "--once"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    named = f"tenantops:***@127.0.0.1:{pg.port}/state" in done.stderr and "s3cret-pw" not in done.stderr
    held = done.returncode == 1 and named and "Traceback" not in done.stderr and world["kube"].writes() == []
    assert fault_ledger.case(DOWN, held, f"exit {done.returncode}: {done.stderr.strip()[-200:]}")
    world["store"].close()


def test_slow_database_delays_the_pass_and_loses_nothing(world, fault_ledger: FaultLedger) -> None:
    store, kube = world["store"], world["kube"]
    store.acquire_writer("replica-a")
    hold = 2.0
    locked, release = threading.Event(), threading.Event()

    def blocker() -> None:  # another session holding the writer's row: every commit waits behind it
        with psycopg.connect(world["url"]) as conn:
            conn.execute("SELECT * FROM leadership FOR UPDATE")
            locked.set()
            release.wait(hold)
            conn.rollback()

    thread = threading.Thread(target=blocker)
    thread.start()
    locked.wait(10)
    started = time.monotonic()
    threading.Timer(hold, release.set).start()
    result = world["reconciler"].run_pass(world["config"], NOW)
    took = time.monotonic() - started
    thread.join()
    whole = took >= hold * 0.9 and _audit_rows(store) == result.decisions > 0 and \
        all(kube.replicas(f"tenant-{t.id}", "api") == DESIRED for t in world["config"].tenants)
    assert fault_ledger.case(SLOW, whole, f"pass took {took:.1f}s behind a {hold}s lock; "
                                          f"{result.decisions} audit rows recorded")
    store.close()


def test_read_only_database_refuses_the_pass_before_any_write(world, fault_ledger: FaultLedger) -> None:
    store, kube, pg = world["store"], world["kube"], world["pg"]
    pg.read_only(True, "state")
    with pytest.raises(StateUnavailable, match="read-only") as caught:
        world["reconciler"].run_pass(world["config"], NOW)
    refused = kube.writes() == [] and "/state" in str(caught.value)
    assert fault_ledger.case(READ_ONLY, refused, f"{len(kube.writes())} writes; {str(caught.value)[:160]}")
    pg.read_only(False, "state")
    result = world["reconciler"].run_pass(world["config"], NOW + timedelta(seconds=30))
    back = _audit_rows(store) == result.decisions > 0 and len(kube.writes(_path("alpha"))) == 1
    assert fault_ledger.case(READ_ONLY, back, f"writable again: {result.decisions} audit rows recorded")
    store.close()
