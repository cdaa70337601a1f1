"""Metric values that lie: replicas and CPU at 0, 10x, 1e300 and NaN, through whole passes.

A real Prometheus (backfilled) reports each case for its own tenant; the Kubernetes API stand-in holds
the live count (10 replicas, bounds [1, 25]). What must hold, measured on every write the stand-in
received: no write outside [min, max] nor beyond the step breaker from the live count; a lying replicas
metric or an implausible CPU value holds the workload with exactly one alert per pass (the same key
every pass, so its episode is one notification); 1e300 CPU changes no money figure (the tenant costs
what the control tenant costs). A few list calls per pass read every live count.

"Exactly one alert": one active alert per held workload every pass, under one key, notified once.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from tenantops.act.kubernetes import KubernetesActuator
from tenantops.config import load_config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.cost import make_decider
from tenantops.decide.facts import FactsDecider
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.observe.kube_replicas import KubeReplicaReader
from tenantops.observe.prometheus import PrometheusSource
from tenantops.observe.replicas import LiveReplicas
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind
from tenantops_lab.sandbox.prometheus import Series

from .conftest import FaultLedger
from .helpers import workload_series, write_config

pytestmark = pytest.mark.integration

T0 = float(int(time.time()) - 1800)
LIVE, MAX = 10, 25
CLASS = "metric values 0/10x/1e300/NaN (replicas, CPU)"
CASES = {  # tenant -> (metric, value it reports, held?)
    "ok": (None, None, False),
    "rep-zero": ("replicas", 0.0, True), "rep-tenx": ("replicas", 10.0 * LIVE, True),
    "rep-huge": ("replicas", 1e300, True), "rep-nan": ("replicas", math.nan, True),
    "cpu-zero": ("cpu", 0.0, False), "cpu-tenx": ("cpu", 10.0, False),
    "cpu-huge": ("cpu", 1e300, True), "cpu-nan": ("cpu", math.nan, True),
}


def _series(tenant: str, metric: str | None, value: float | None, start: float, end: float) -> list[Series]:
    base = workload_series(tenant, "api", 20, LIVE, start, end)
    out = []
    for s in base:
        if metric == "replicas" and s.name == "kube_deployment_spec_replicas":
            s = Series(s.name, s.labels, [(t, float(value)) for t, _ in s.samples])
        if metric == "cpu" and s.name == "container_cpu_usage_seconds_total":
            # a counter whose rate() reads back `value` cores per replica
            s = Series(s.name, s.labels, [(t, float(value) * LIVE * (t - start)) for t, _ in s.samples])
        out.append(s)
    return out


def test_lying_metrics_never_move_replicas_past_the_breakers(prometheus, kube_api, tmp_path: Path,
                                                              fault_ledger: FaultLedger) -> None:
    tenants = [{"id": t, "tier": "pro", "isolation": "pool", "region": "us-east-1", "budget_usd_month": 500,
                "contacts": [f"ops@{t}.example"], "workloads": [{"name": "api", "min_replicas": 1,
                                                                   "max_replicas": MAX}]} for t in CASES]
    config = load_config(*write_config(tmp_path, tenants))
    brk = config.for_tenant(config.tenants[0]).breakers
    series = [s for t, (m, v, _) in CASES.items() for s in _series(t, m, v, T0 - 1200, T0 + 600)]
    prom = prometheus(series=series)
    for t in CASES:
        kube_api.add_deployment(f"tenant-{t}", "api", replicas=LIVE)
    actuator = KubernetesActuator.connect(kube_api.url)
    reader = KubeReplicaReader(actuator.apps)
    with StateStore(tmp_path / "state.db") as store:
        reconciler = Reconciler(PrometheusSource(prom.url), store, [FactsDecider(), AutoscalingDecider(),
                                                                     make_decider()],
                                register_actuators({TargetKind.KUBERNETES: actuator}),
                                replica_reader=LiveReplicas.of({TargetKind.KUBERNETES: reader}))
        from datetime import UTC, datetime

        keys: dict[str, set[str]] = {t: set() for t in CASES}
        notified = dict.fromkeys(CASES, 0)
        for i in range(6):
            before = {t: kube_api.replicas(f"tenant-{t}", "api") for t in CASES}
            kube_api.clear_log()
            calls = reader.calls
            result = reconciler.run_pass(config, datetime.fromtimestamp(T0 + 30 * i, UTC))
            fault_ledger.case(CLASS, reader.calls - calls <= 2, f"pass {i}: {reader.calls - calls} list calls")
            for write in kube_api.writes("/apis/apps/v1/namespaces/"):
                tenant = write.path.split("/")[5].removeprefix("tenant-")
                after = kube_api.replicas(f"tenant-{tenant}", "api")
                live = before[tenant]
                assert after is not None and live is not None
                ok = 1 <= after <= MAX and live - brk.max_step_down <= after <= live + brk.max_step_up
                fault_ledger.case(CLASS, ok, f"{tenant} pass {i}: wrote {live} -> {after}")
                assert ok, (tenant, live, after)
            for tenant, (_, _, held) in CASES.items():
                mine = [a for a in result.active_alerts if a.tenant == tenant]
                notified[tenant] += len([a for a in result.alerts if a.tenant == tenant])
                wrote = before[tenant] != kube_api.replicas(f"tenant-{tenant}", "api")
                if held:
                    ok = len(mine) == 1 and not wrote and (tenant, "api") in result.snapshot.holds
                    keys[tenant].update(a.key for a in mine)
                    fault_ledger.case(CLASS, ok, f"{tenant} pass {i}: {len(mine)} active alerts, wrote={wrote}")
                    assert ok, (tenant, mine, wrote)
            assert result.findings.cost is not None
            cost = result.findings.cost.tenants
            same = all(cost[t].usd == cost["ok"].usd for t in ("cpu-huge", "cpu-nan"))
            fault_ledger.case(CLASS, same, f"pass {i}: cost {cost['cpu-huge'].usd} vs control {cost['ok'].usd}")
            assert same
        moved = kube_api.replicas("tenant-cpu-tenx", "api")
        assert moved is not None and moved > LIVE  # the control: plausible load does scale
        for tenant, seen in keys.items():
            if CASES[tenant][2]:
                one = len(seen) == 1 and notified[tenant] == 1  # one episode, notified once over six passes
                fault_ledger.case(CLASS, one, f"{tenant}: keys {sorted(seen)}, {notified[tenant]} notifications")
                assert one, (tenant, seen, notified[tenant])
        from tenantops.decide.cost.ledger import Ledger

        mtd = Ledger(store.state("cost")).month_to_date()
        money = all(math.isfinite(m.total_usd) and m.total_usd == mtd["ok"].total_usd
                    for t, m in mtd.items() if t.startswith("cpu-") and t != "cpu-tenx" and t != "cpu-zero")
        fault_ledger.case(CLASS, money, f"month to date: { {t: m.total_usd for t, m in mtd.items()} }")
        assert money
    actuator.close()
