"""Right-sizing's apply mode in `tenantops run`: the patches of the plan go through the requests actuator
the composition root registers, the audit shows each outcome, the decider's interval is remembered only
for a patch that was applied, and a patch that fails is audited with its reason and the time of its next
try, and proposed again only then (the policy's retry backoff).
Real Prometheus (backfilled usage history), the Kubernetes API stand-in, the real CLI."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tenantops.cli.main import cli
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.ports import free_port
from tenantops_lab.sandbox.prometheus import Series

pytestmark = pytest.mark.integration

MI = 2.0**20


def _pod(tenant: str, pod: str, start: float, end: float, cores: float, memory: float) -> list[Series]:
    labels = {"namespace": f"tenant-{tenant}", "pod": f"api-{pod}", "container": "api"}
    stamps = [start + 60 * i for i in range(int((end - start) // 60))]
    return [
        Series("container_cpu_usage_seconds_total", labels, [(t, cores * (t - start)) for t in stamps]),
        Series("container_memory_working_set_bytes", labels, [(t, memory) for t in stamps]),
    ]


@pytest.fixture
def apply_config(config_files: tuple[Path, Path]) -> tuple[Path, Path]:
    """gamma and zeta are free-tier pool tenants (aggressive right-sizing, mode apply), with 4 h of history
    enough to act on."""
    catalog, policies = config_files
    data = yaml.safe_load(catalog.read_text())
    data["tenants"].append({"id": "zeta", "tier": "free", "isolation": "pool", "region": "eu-west-1",
                            "budget_usd_month": 50, "contacts": ["ops@zeta.example"],
                            "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 5}]})
    catalog.write_text(yaml.safe_dump(data, sort_keys=False))
    path = policies / "rightsizing.yaml"
    path.write_text(path.read_text().replace("  mode: apply\n", "  mode: apply\n  min_history_hours: 4\n", 1))
    return catalog, policies


def _run(common: list[str]) -> None:
    result = CliRunner().invoke(cli, ["run", *common, "--decider", "rightsizing", "--http-host", "127.0.0.1",
                                      "--http-port", str(free_port()), "--max-passes", "1"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output


def _events(kube_api: Any, namespace: str) -> list[Any]:
    """The controller's Events (not the stand-in's deployment controller's ScalingReplicaSet ones)."""
    return [e for e in kube_api.objects("events") if e["metadata"]["namespace"] == namespace
            and e["source"].get("component") != "deployment-controller"]


def _acts(store: StateStore, tenant: str) -> list[Any]:
    return [e for e in audit.query(store.connection, tenant=tenant) if e.kind == "act"]


def test_run_applies_request_patches_once_and_retries_a_failed_one(
    apply_config: tuple[Path, Path], prometheus: Any, kube_api: Any, tmp_path: Path
) -> None:
    catalog, policies = apply_config
    end = float(int(time.time()) // 60 * 60) - 60
    start = end - 8 * 3600
    prom = prometheus(series=[*_pod("gamma", "5d8f7c9b4-abcde", start, end, 0.5, 400 * MI),
                              *_pod("zeta", "7c6d5b4a3-klmno", start, end, 0.5, 400 * MI)])
    kube_api.add_deployment("tenant-gamma", "api", replicas=1, cpu="100m", memory="128Mi")
    # zeta's Deployment does not exist (its namespace does): its patch fails (404) every time it is tried.
    kube_api.add_namespace("tenant-zeta")
    state = tmp_path / "state.db"
    common = ["--catalog", str(catalog), "--policies", str(policies), "--state", str(state),
              "--prometheus-url", prom.url, "--kube-url", kube_api.url]

    _run(common)
    container = kube_api.deployment("tenant-gamma", "api")["spec"]["template"]["spec"]["containers"][0]
    written = container["resources"]["requests"]["cpu"]
    assert written != "100m"  # half a core used: the request moved towards it
    with StateStore(state) as store:
        [applied] = _acts(store, "gamma")
        assert applied.rule == "applied" and applied.new["api"]["cpu"] == written
        assert applied.old["api"]["cpu"] == "100m"
        assert "gamma/api" in store.state("rightsizing")  # the interval starts from the applied change
        [failed] = _acts(store, "zeta")
        assert failed.rule == "failed" and "not found" in failed.reason
        assert "cpu" not in store.state("rightsizing")["zeta/api"]  # not remembered as done
    # The cluster's own record of the change, what `kubectl describe deploy` shows (tenantops.act.kube_events).
    [event] = _events(kube_api, "tenant-gamma")
    assert (event["type"], event["reason"]) == ("Normal", "SuccessfulUpdateRequests")
    assert event["involvedObject"]["uid"] == kube_api.deployment("tenant-gamma", "api")["metadata"]["uid"]
    assert f"api: cpu {written}" in event["message"] and "were api: cpu 100m" in event["message"]
    assert [e["reason"] for e in _events(kube_api, "tenant-zeta")] == ["FailedUpdateRequests"]

    writes = len(kube_api.writes("/apis/apps/v1/namespaces/tenant-gamma"))
    zeta_calls = len(kube_api.requests(path_prefix="/apis/apps/v1/namespaces/tenant-zeta"))
    _run(common)  # within the minimum interval, and within zeta's backoff (5 min after a first failure)
    assert len(kube_api.writes("/apis/apps/v1/namespaces/tenant-gamma")) == writes  # gamma: nothing changed
    assert len(kube_api.requests(path_prefix="/apis/apps/v1/namespaces/tenant-zeta")) == zeta_calls  # not tried
    with StateStore(state) as store:
        assert len(_acts(store, "gamma")) == 1
        [failed] = _acts(store, "zeta")  # no row, no Event, per pass while it waits
        # Not remembered as done: no change time, only the failure that the backoff counts from.
        retry = store.state("rightsizing")["zeta/api"]
        assert list(retry) == ["retry"] and retry["retry"]["failures"] == 1
        first_try = datetime.fromisoformat(retry["retry"]["at"])
        assert failed.reason.endswith(f"; next try at {(first_try + timedelta(minutes=5)).isoformat()}")
    assert len(_events(kube_api, "tenant-zeta")) == 1

    # The backoff is the policy's as it is now: shortened to a second, the next pass after it tries again.
    path = policies / "rightsizing.yaml"
    path.write_text(path.read_text().replace("  mode: apply\n", "  mode: apply\n  retry: {initial_seconds: 1, "
                                             "max_seconds: 1}\n", 1))
    time.sleep(1.1)
    _run(common)
    with StateStore(state) as store:
        retried = _acts(store, "zeta")
        assert [e.rule for e in retried] == ["failed", "failed"]  # tried again, and failed again
        assert store.state("rightsizing")["zeta/api"]["retry"]["failures"] == 2
    assert [e["reason"] for e in _events(kube_api, "tenant-zeta")] == ["FailedUpdateRequests"] * 2
