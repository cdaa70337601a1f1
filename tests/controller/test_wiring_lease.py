"""`tenantops run --leader-elect` competes for the Lease the deploy manifests describe (`tenantops-leader` in
POD_NAMESPACE, held as POD_NAME), through `tenantops.engine.lease.leader_elector`, against a Kubernetes API
stand-in; with `--shards` its tenant filter is the shard elector's `owned`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kubernetes import client

from tenantops.act.kubeclient import api_client
from tenantops.cli.main import cli
from tenantops_lab.sandbox.ports import free_port

pytestmark = pytest.mark.integration


def _run(config_files: tuple[Path, Path], state: Path, kube_url: str, *extra: str) -> Any:
    catalog, policies = config_files
    args = ["run", "--dry-run", "--leader-elect", "--catalog", str(catalog), "--policies", str(policies),
            "--state", str(state), "--kube-url", kube_url, "--prometheus-url", f"http://127.0.0.1:{free_port()}",
            "--http-host", "127.0.0.1", "--http-port", str(free_port()), "--max-passes", "1", "--decider", "cost",
            *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result


def test_run_leader_elect_uses_the_pod_identity_and_the_leader_lease(
    config_files: tuple[Path, Path], kube_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube_api.add_namespace("ops")
    monkeypatch.setenv("POD_NAMESPACE", "ops")
    monkeypatch.setenv("POD_NAME", "tenantops-7f9c-a")
    api = client.CoordinationV1Api(api_client(kube_api.url))
    now = datetime.now(UTC)
    api.create_namespaced_lease("ops", client.V1Lease(
        metadata=client.V1ObjectMeta(name="tenantops-leader"),
        spec=client.V1LeaseSpec(holder_identity="tenantops-7f9c-b", lease_duration_seconds=3600, acquire_time=now,
                                renew_time=now, lease_transitions=0)))

    _run(config_files, tmp_path / "standby.db", kube_api.url)
    lease = kube_api.lease("ops", "tenantops-leader")
    # Another pod holds tenantops-leader in ops: this replica stood by and wrote nothing.
    assert lease["spec"]["holderIdentity"] == "tenantops-7f9c-b" and lease["spec"]["leaseDurationSeconds"] == 3600

    monkeypatch.setenv("POD_NAME", "tenantops-7f9c-b")  # the holder itself: renews, acts, releases on exit
    _run(config_files, tmp_path / "leader.db", kube_api.url)
    lease = kube_api.lease("ops", "tenantops-leader")
    assert not lease["spec"].get("holderIdentity") and lease["spec"]["leaseDurationSeconds"] == 1
    assert kube_api.lease("tenantops", "tenantops-leader") is None


def test_run_with_shards_reconciles_only_the_tenants_of_the_shards_it_holds(
    config_files: tuple[Path, Path], kube_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantops.cli.run import _elector
    from tenantops.config import load_config
    from tenantops.engine.lease import ShardedElector
    from tenantops.engine.shards import shard_of

    kube_api.add_namespace("ops")
    monkeypatch.setenv("POD_NAMESPACE", "ops")
    api = client.CoordinationV1Api(api_client(kube_api.url))
    now = datetime.now(UTC)
    api.create_namespaced_lease("ops", client.V1Lease(  # shard 1 is held by a live replica
        metadata=client.V1ObjectMeta(name="tenantops-shard-1"),
        spec=client.V1LeaseSpec(holder_identity="other", lease_duration_seconds=3600, acquire_time=now,
                                renew_time=now, lease_transitions=0)))
    leader, tenant_filter = _elector(kube_api.url, None, "tenantops-leader", 2, "replica-a")
    assert isinstance(leader, ShardedElector) and tenant_filter is not None
    assert leader.try_acquire()
    assert leader.owned_shards() == frozenset({0})
    tenants = load_config(*config_files).tenants
    assert {t.id for t in tenants if tenant_filter(t)} == {t.id for t in tenants if shard_of(t.id, 2) == 0}
    assert kube_api.lease("ops", "tenantops-member-replica-a") is not None
    leader.release()
