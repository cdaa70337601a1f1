"""`budget_action: cap` in `tenantops run`: the autoscaler reads the month-to-date the cost ledger committed
in earlier passes (a pass input, `engine.root.committed_spend`), so a tenant over its budget is held at its
current replicas and the audit says why. Real Prometheus, the Kubernetes API stand-in, the real CLI."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tenantops.cli.main import cli
from tenantops.decide.cost.ledger import Ledger
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.ports import free_port
from tenantops_lab.sandbox.prometheus import Series

from .conftest import ramp, replicas_gauge, requests_counter

pytestmark = pytest.mark.integration

POD = "api-5d8f7c9b4-abcde"


def _busy_gamma(now: float) -> list[Series]:
    """gamma/api: one replica at 90% of its one-core request and 300 req/s, five times what one serves."""
    start = now - 1200
    pod = {"namespace": "tenant-gamma", "pod": POD, "container": "api"}
    return [
        requests_counter("gamma", "api", 300, start, now),
        replicas_gauge("gamma", "api", 1, start, now),
        replicas_gauge("gamma", "api", 1, start, now, name="kube_deployment_status_replicas_ready"),
        Series("container_cpu_usage_seconds_total", pod, ramp(start, now, 15, lambda t: 0.9 * (t - start))),
        Series("kube_pod_container_resource_requests", {**pod, "resource": "cpu"}, ramp(start, now, 15, lambda t: 1.0)),
    ]


def _catalog(catalog: Path, budget: float) -> None:
    data = yaml.safe_load(catalog.read_text())
    gamma = next(t for t in data["tenants"] if t["id"] == "gamma")  # free tier: economical scaling, cap
    gamma["budget_usd_month"] = budget
    catalog.write_text(yaml.safe_dump(data, sort_keys=False))


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output


@pytest.mark.parametrize("budget", [0.001, 10_000.0])
def test_run_caps_a_tenant_over_its_committed_month_to_date(
    config_files: tuple[Path, Path], prometheus: Any, kube_api: Any, tmp_path: Path, budget: float
) -> None:
    catalog, policies = config_files
    _catalog(catalog, budget)
    prom = prometheus(series=_busy_gamma(float(int(time.time()))))
    kube_api.add_deployment("tenant-gamma", "api", replicas=1)
    state = tmp_path / "state.db"
    common = ["--catalog", str(catalog), "--policies", str(policies), "--state", str(state),
              "--prometheus-url", prom.url, "--kube-url", kube_api.url]
    # An earlier pass of the cost concern committed gamma's spend (the pool's idle nodes are charged to it).
    _invoke("reconcile", "--once", "--decider", "cost", *common)
    with StateStore(state) as store:
        spent = Ledger(store.state("cost")).month_to_date()["gamma"].total_usd
    assert spent > 0.001

    _invoke("run", *common, "--decider", "autoscaling", "--decider", "cost", "--http-host", "127.0.0.1",
            "--http-port", str(free_port()), "--max-passes", "1")
    with StateStore(state) as store:
        rows = [e for e in audit.query(store.connection, tenant="gamma")
                if e.workload == "api" and e.kind in ("scale", "skip")]
    assert rows, "the autoscaler decided nothing for gamma/api"
    decision = rows[-1]
    if budget < spent:
        assert decision.rule == "budget-cap" and "over its budget" in decision.reason
        assert decision.new == 1 and kube_api.replicas("tenant-gamma", "api") == 1
    else:  # the control: the same load within budget scales up
        assert decision.rule != "budget-cap" and decision.new > 1
        assert kube_api.replicas("tenant-gamma", "api") == decision.new
