"""Prometheus down, slow, failing, empty, or answering NaN/Inf/negative/stale values.

A real Prometheus (backfilled with promtool) sits behind a fault-injecting proxy; each mode runs the
real autoscaling and cost deciders through whole passes against the Kubernetes API stand-in. What must
hold: no scale-down, no cost read as zero, the metrics alert after exactly the policy's number of failed
passes (values that cannot be true, NaN/Inf/negative, hold the workload and alert at once, one alert
per workload, from the facts step), and a clean pass once Prometheus answers again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tenantops.act.base import OutcomeStatus
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.act.retry import RetryPolicy
from tenantops.config import load_config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.cost import make_decider
from tenantops.decide.facts import FactsDecider
from tenantops.engine.reconcile import PassResult, Reconciler
from tenantops.engine.root import register_actuators
from tenantops.observe.prometheus import PrometheusSource
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind

from .conftest import FaultLedger
from .helpers import workload_series, write_config
from .proxy import FaultProxy

pytestmark = pytest.mark.integration

T0 = float(int(time.time()) - 3600)
REPLICAS = 6
FAULTS = ["down", "slow", "500", "503", "empty", "nan", "inf", "negative", "stale"]
UNTRUE = {"nan", "inf", "negative"}  # answered, but impossible: held at once
CLASS = "Prometheus down/slow/errors/empty/NaN/stale"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tenantops_lab.sandbox.prometheus import PrometheusServer

    # alpha is over-provisioned (20% CPU, 2 requests/s across 6 replicas: would scale down on good data),
    # beta is busy
    series = workload_series("alpha", "api", 2, REPLICAS, T0 - 1200, T0 + 3000, cpu_per_replica=0.05) + \
        workload_series("beta", "api", 60, REPLICAS, T0 - 1200, T0 + 3000)
    server = PrometheusServer(())
    server.backfill(series)
    server.start()
    yield server.url
    server.close()


@pytest.fixture
def proxy(upstream: str) -> Iterator[FaultProxy]:
    p = FaultProxy(upstream, slow_seconds=1.2).start()
    yield p
    p.stop()


def _at(i: int) -> datetime:
    return datetime.fromtimestamp(T0 + 30 * i, UTC)


@pytest.mark.parametrize("fault", FAULTS)
def test_prometheus_fault_fails_safe_then_recovers(fault: str, proxy: FaultProxy, kube_api, tmp_path: Path,
                                                   fault_ledger: FaultLedger) -> None:
    config = load_config(*write_config(tmp_path))
    threshold = config.for_tenant(config.tenants[0]).breakers.failed_passes_before_alert
    for t in ("alpha", "beta"):
        kube_api.add_deployment(f"tenant-{t}", "api", replicas=REPLICAS)
    actuator = KubernetesActuator.connect(kube_api.url, retry=RetryPolicy(attempts=2, base_delay=0.01,
                                                                          max_delay=0.02, timeout=2))
    store = StateStore(tmp_path / "state.db")
    reconciler = Reconciler(PrometheusSource(proxy.url, timeout=0.5), store,
                            [FactsDecider(), AutoscalingDecider(), make_decider()],
                            register_actuators({TargetKind.KUBERNETES: actuator}))

    def run(i: int) -> PassResult:
        return reconciler.run_pass(config, _at(i))

    try:
        healthy = run(0)
        assert healthy.findings.cost is not None
        assert not any(c.estimated for c in healthy.findings.cost.tenants.values())
        assert not healthy.query_errors
        proxy.set(fault)
        for i in range(1, threshold + 1):
            result = run(i)
            downs = [o for o in result.outcomes if o.action.desired < o.action.current
                     and o.status is OutcomeStatus.APPLIED]
            fault_ledger.case(CLASS, not downs, f"{fault} pass {i}: scale-downs {[str(o.action) for o in downs]}")
            assert not downs
            shrunk = {t: kube_api.replicas(f"tenant-{t}", "api") for t in ("alpha", "beta")}
            held = all(v is not None and v >= REPLICAS for v in shrunk.values())
            fault_ledger.case(CLASS, held, f"{fault} pass {i}: replicas {shrunk}")
            assert held
            cost = result.findings.cost.tenants if result.findings.cost is not None else {}
            zeroed = [t for t in ("alpha", "beta") if t not in cost or cost[t].usd <= 0]
            fault_ledger.case(CLASS, not zeroed, f"{fault} pass {i}: zero cost for {zeroed}")
            assert not zeroed
            estimated = all(cost[t].estimated for t in ("alpha", "beta"))
            fault_ledger.case(CLASS, estimated, f"{fault} pass {i}: cost not marked estimated")
            assert estimated
            if fault in UNTRUE:
                keys = {a.key for a in result.active_alerts if a.cause in ("metrics", "metrics-implausible")}
                want = {"metrics-implausible:alpha/api", "metrics-implausible:beta/api"}
            else:
                keys = {a.key for a in result.active_alerts if a.cause == "metrics"}
                want = {"metrics:alpha/api", "metrics:beta/api"} if i >= threshold else set()
            fault_ledger.case(CLASS, keys == want, f"{fault} pass {i}: metrics alerts {sorted(keys)}, want {want}")
            assert keys == want
        proxy.set("ok")
        recovered = run(threshold + 1)
        still = {a.key for a in recovered.active_alerts if a.cause.startswith("metrics")}
        fine = not recovered.query_errors and not still and all(d.ok for d in recovered.deciders)
        fault_ledger.case(CLASS, fine, f"{fault} recovery: errors {recovered.query_errors[:2]} alerts {still}")
        assert fine
    finally:
        store.close()
        actuator.close()


def test_the_same_data_healthy_does_scale_alpha_down(proxy: FaultProxy, kube_api, tmp_path: Path) -> None:
    """The control: without faults alpha's spare replicas are removed, so "no scale-down" above is the
    fault handling at work and not a quiet workload."""
    config = load_config(*write_config(tmp_path))
    for t in ("alpha", "beta"):
        kube_api.add_deployment(f"tenant-{t}", "api", replicas=REPLICAS)
    actuator = KubernetesActuator.connect(kube_api.url)
    with StateStore(tmp_path / "state.db") as store:
        reconciler = Reconciler(PrometheusSource(proxy.url), store, [AutoscalingDecider()],
                                register_actuators({TargetKind.KUBERNETES: actuator}))
        for i in range(0, 40):
            reconciler.run_pass(config, _at(i))
            if (kube_api.replicas("tenant-alpha", "api") or REPLICAS) < REPLICAS:
                break
    actuator.close()
    assert (kube_api.replicas("tenant-alpha", "api") or REPLICAS) < REPLICAS
