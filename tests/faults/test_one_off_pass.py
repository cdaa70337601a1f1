"""A one-off pass (`tenantops reconcile --once`, `tenantops run` without `--leader-elect`) on a state that a
leader-elected controller writes, with real parts: the Kubernetes API stand-in serving the Lease and the
Deployments, a real Prometheus, the state store on a shared SQLite file and on PostgreSQL.

What must hold: while a leader holds its Lease, a pass that would act is refused with one line naming the
holder, and changes nothing (no scale, no commit, the leader's writer generation intact); a dry run still
runs beside it. A leader that stopped without releasing (its Lease no longer renewed) is no obstacle: the
pass takes the Lease and the writer generation, so the stopped leader can commit nothing afterwards, and
hands the Lease back when done. A Lease looked for in the wrong namespace is not created there; the pass
looks for it where the state's leadership record says, with no flag or POD_NAMESPACE of its own. Beside
sharded replicas (whose group the state records) the pass must hold every shard Lease: it is refused at the
first a live replica holds, handing back any it took, and acts under all of them once the replicas stopped.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tenantops.act.kubeclient import api_client
from tenantops.engine.lease import LeaseElector
from tenantops.record.errors import Fenced
from tenantops.record.store import StateStore

from .helpers import stop, tenantops_command, workload_series, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LEASE = "tenantops-leader"


@pytest.fixture
def setup(prometheus, kube_api, state_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    now = float(int(time.time()))
    prom = prometheus(series=workload_series("alpha", "api", 80, 2, now - 900, now + 600))
    kube_api.add_namespace("tenantops")
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    catalog, policies = write_config(tmp_path)
    # The operator runs the pass inside the leader's own pod (kubectl exec): same POD_NAME as the leader.
    env = {**os.environ, "TENANTOPS_CATALOG": str(catalog), "TENANTOPS_POLICIES": str(policies),
           "TENANTOPS_DATABASE_URL": state_url, "TENANTOPS_PROMETHEUS_URL": prom.url,
           "TENANTOPS_KUBE_URL": kube_api.url, "POD_NAME": "replica-a", "POD_NAMESPACE": "tenantops"}
    store = StateStore(state_url)
    yield {"env": env, "kube": kube_api, "store": store,
           "leases": client.CoordinationV1Api(api_client(kube_api.url))}
    store.close()


def _leader(setup: dict[str, Any], renewed: datetime | None = None) -> LeaseElector:
    """replica-a holding the Lease (renewed now, or last at `renewed`) and the writer generation."""
    elector = LeaseElector(setup["leases"], "tenantops", LEASE, "replica-a", duration_seconds=30,
                           clock=(lambda: renewed) if renewed is not None else lambda: datetime.now(UTC))
    assert elector.try_acquire()
    setup["store"].acquire_writer("replica-a", LEASE)
    return elector


def _tenantops(setup: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tenantops_command(*args, "--decider", "autoscaling"), env=setup["env"],
                          capture_output=True, text=True, timeout=120)


def _writers(store: StateStore) -> list[tuple[str, int]]:
    return [(w.holder, w.generation) for w in store.leadership()]


def _audit_rows(store: StateStore) -> int:
    return len(store.connection.execute("SELECT id FROM audit").fetchall())


def test_a_pass_beside_a_running_leader_is_refused_and_a_dry_run_is_not(setup: dict[str, Any]) -> None:
    _leader(setup)
    store, kube = setup["store"], setup["kube"]

    refused = _tenantops(setup, "reconcile", "--once")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    error = refused.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: Lease tenantops/tenantops-leader is held by replica-a (30s lease, renewed"), error
    assert "--dry-run" in error and "stop the leader" in error
    assert kube.replicas("tenant-alpha", "api") == 2 and _audit_rows(store) == 0
    assert _writers(store) == [("replica-a", 1)]
    assert kube.lease("tenantops", LEASE)["spec"]["holderIdentity"] == "replica-a"

    kube.add_namespace("elsewhere")  # the leader's Lease looked for in the wrong namespace is not created there
    astray = _tenantops(setup, "reconcile", "--once", "--lease-namespace", "elsewhere")
    assert astray.returncode == 1
    assert astray.stderr.strip().splitlines()[-1] == (
        "Error: Lease elsewhere/tenantops-leader does not exist, yet replicas holding it wrote this state "
        "(--lease-namespace names the namespace they run in)")
    assert kube.lease("elsewhere", LEASE) is None and kube.replicas("tenant-alpha", "api") == 2

    looping = _tenantops(setup, "run", "--max-passes", "1", "--http-port", "0")
    assert looping.returncode == 1
    assert "run with --leader-elect, or --dry-run" in looping.stderr.strip().splitlines()[-1]
    assert kube.replicas("tenant-alpha", "api") == 2 and _audit_rows(store) == 0

    dry = _tenantops(setup, "reconcile", "--once", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "(dry run)" in dry.stdout and kube.replicas("tenant-alpha", "api") == 2
    assert _writers(store) == [("replica-a", 1)]
    store.commit({"probe": {"leader": 1}})  # the leader still writes: nothing took its generation


def test_a_pass_takes_over_from_a_stopped_leader_and_hands_the_lease_back(setup: dict[str, Any]) -> None:
    # replica-a died without releasing: its Lease was last renewed two minutes ago (30 s duration).
    _leader(setup, renewed=datetime.now(UTC) - timedelta(seconds=120))
    store, kube = setup["store"], setup["kube"]

    done = _tenantops(setup, "reconcile", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert kube.replicas("tenant-alpha", "api") > 2 and _audit_rows(store) > 0
    (holder, generation), = _writers(store)
    assert holder.startswith("replica-a/once-") and generation == 2
    assert not kube.lease("tenantops", LEASE)["spec"].get("holderIdentity")  # released: a leader takes it at once
    with pytest.raises(Fenced):
        store.commit({"probe": {"stale": 1}})  # the stopped leader, resumed, commits nothing


def _running_leader(setup: dict[str, Any], namespace: str, leases: tuple[str, ...], *args: str
                    ) -> subprocess.Popen[bytes]:
    """`tenantops run --leader-elect ARGS` as replica-a in `namespace`, once it holds `leases` (and, within a
    few seconds more, has recorded its leadership in the state, if it records any)."""
    env = {**setup["env"], "POD_NAME": "replica-a", "POD_NAMESPACE": namespace}
    proc = subprocess.Popen(tenantops_command("run", "--leader-elect", *args, "--decider", "autoscaling",
                                              "--http-host", "127.0.0.1", "--http-port", "0"),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def holding() -> bool:
        return all((setup["kube"].lease(namespace, name) or {}).get("spec", {}).get("holderIdentity") == "replica-a"
                   for name in leases)

    deadline = time.monotonic() + 60
    while not holding():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "the leader never led")
        time.sleep(0.1)
    recorded = time.monotonic() + 5
    while not setup["store"].leadership() and time.monotonic() < recorded:
        time.sleep(0.1)
    return proc


def test_a_pass_finds_the_leaders_lease_in_the_namespace_its_leadership_record_names(
        setup: dict[str, Any]) -> None:
    """The leader runs in ops-system; the operator's shell has no POD_NAMESPACE and passes no flag."""
    store, kube = setup["store"], setup["kube"]
    kube.add_namespace("ops-system")
    leader = _running_leader(setup, "ops-system", (LEASE,))
    del setup["env"]["POD_NAMESPACE"]
    setup["env"]["POD_NAME"] = "operator-shell"
    try:
        refused = _tenantops(setup, "reconcile", "--once")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        error = refused.stderr.strip().splitlines()[-1]
        assert error.startswith("Error: Lease ops-system/tenantops-leader is held by replica-a ("), error
        assert [(w.lease, w.namespace) for w in store.leadership()] == [(LEASE, "ops-system")]
        assert kube.lease("tenantops", LEASE) is None  # not looked for (or made) in the default namespace
        astray = _tenantops(setup, "reconcile", "--once", "--lease-namespace", "tenantops")  # the flag overrides
        assert astray.returncode == 1 and "Lease tenantops/tenantops-leader does not exist" in astray.stderr
    finally:
        stop(leader)  # SIGTERM: it finishes its pass and releases the Lease
    assert leader.returncode == 0
    done = _tenantops(setup, "reconcile", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    (writer,) = store.leadership()
    assert writer.holder.startswith("operator-shell/once-") and writer.namespace == "ops-system"
    assert not kube.lease("ops-system", LEASE)["spec"].get("holderIdentity")  # handed back


def test_a_pass_beside_sharded_leaders_is_refused_and_acts_under_all_their_leases_once_they_stop(
        setup: dict[str, Any]) -> None:
    """`run --leader-elect --shards 2` (a dry run, so every write the stand-in sees is the pass's): the group
    is recorded in the state, a pass beside it is refused at its first shard Lease held by a live replica,
    and once the replica stopped (releasing them) the pass takes every shard Lease, acts, and hands them back."""
    store, kube = setup["store"], setup["kube"]
    leader = _running_leader(setup, "tenantops", ("tenantops-shard-0", "tenantops-shard-1"), "--shards", "2",
                             "--dry-run")
    try:
        refused = _tenantops(setup, "reconcile", "--once")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        error = refused.stderr.strip().splitlines()[-1]
        assert error.startswith("Error: Lease tenantops/tenantops-shard-0 is held by replica-a ("), error
        assert "sharded leaders are running on this state (2 shard Leases)" in error and "--dry-run" in error
        assert [(w.lease, w.holder, w.namespace, w.shards) for w in store.leadership()] == [
            ("tenantops", "replica-a", "tenantops", 2)]
        for shard in ("tenantops-shard-0", "tenantops-shard-1"):
            assert kube.lease("tenantops", shard)["spec"]["holderIdentity"] == "replica-a"
        assert kube.writes("/apis/apps/v1/namespaces/tenant-alpha") == [] and kube.replicas("tenant-alpha", "api") == 2

        looping = _tenantops(setup, "run", "--max-passes", "1", "--http-port", "0")
        assert looping.returncode == 1
        assert "(2 shard Leases tenantops/tenantops-shard-*, last taken by replica-a)" in looping.stderr

        dry = _tenantops(setup, "reconcile", "--once", "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
    finally:
        stop(leader)
    assert leader.returncode == 0
    done = _tenantops(setup, "reconcile", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert kube.replicas("tenant-alpha", "api") > 2
    (group,) = store.leadership()
    assert group.holder.startswith("replica-a/once-") and (group.generation, group.shards) == (2, 2)
    for shard in ("tenantops-shard-0", "tenantops-shard-1"):
        assert not kube.lease("tenantops", shard)["spec"].get("holderIdentity")  # handed back


def test_a_pass_refused_at_one_shard_lease_hands_back_those_it_took(setup: dict[str, Any]) -> None:
    """Shard 0's replica stopped without releasing (its Lease unrenewed for two minutes), shard 1's is live:
    the pass takes shard 0, is refused at shard 1, and hands shard 0 back (free for a replica at once)."""
    store, kube, leases = setup["store"], setup["kube"], setup["leases"]
    stopped = LeaseElector(leases, "tenantops", "tenantops-shard-0", "replica-a", duration_seconds=30,
                           clock=lambda: datetime.now(UTC) - timedelta(seconds=120))
    live = LeaseElector(leases, "tenantops", "tenantops-shard-1", "replica-b", duration_seconds=30)
    assert stopped.try_acquire() and live.try_acquire()
    store.record_shards("replica-b", "tenantops", 2, "tenantops")

    refused = _tenantops(setup, "reconcile", "--once")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    error = refused.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: Lease tenantops/tenantops-shard-1 is held by replica-b (30s lease, renewed"), error
    assert not kube.lease("tenantops", "tenantops-shard-0")["spec"].get("holderIdentity")
    assert kube.lease("tenantops", "tenantops-shard-1")["spec"]["holderIdentity"] == "replica-b"
    assert kube.replicas("tenant-alpha", "api") == 2 and _audit_rows(store) == 0
    assert [(w.holder, w.generation) for w in store.leadership()] == [("replica-b", 1)]
