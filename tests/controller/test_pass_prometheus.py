"""Whole passes against a real Prometheus (backfilled with promtool) and the Kubernetes API stand-in."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import time
from pathlib import Path

import pytest

from tenantops.act.base import OutcomeStatus
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.config import load_config
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.observe.prometheus import PrometheusSource
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind
from tenantops.structs.snapshot import Quality
from tenantops_lab.sandbox.prometheus import Series

from .conftest import TargetTracking, ramp, replicas_gauge, requests_counter, utc

pytestmark = pytest.mark.integration

T = float(int(time.time()) - 1800)  # the pass time: in the past, so every pass is exactly reproducible
POD = "api-7d9f8b6c5-x2x9k"


def _series() -> list[Series]:
    start = T - 1200
    return [
        requests_counter("alpha", "api", 40, start, T),
        replicas_gauge("alpha", "api", 2, start, T),
        requests_counter("alpha", "worker", 5, start, T),
        replicas_gauge("alpha", "worker", 3, start, T - 360),  # stopped reporting 6 minutes ago
        requests_counter("beta", "api", 20, start, T),
        replicas_gauge("beta", "api", float("nan"), start, T),
        Series("container_memory_working_set_bytes", {"namespace": "tenant-beta", "pod": POD, "container": "app"},
               ramp(start, T, 15, lambda t: -5.0)),
        Series("kube_pod_container_resource_requests",
               {"namespace": "tenant-alpha", "pod": POD, "container": "app", "resource": "cpu"},
               ramp(start, T, 15, lambda t: float("inf"))),
        Series("kube_pod_container_resource_requests",
               {"namespace": "tenant-alpha", "pod": POD, "container": "app", "resource": "memory"},
               ramp(start, T, 15, lambda t: 268435456.0)),
        requests_counter("delta", "api", 10, start, T),
        replicas_gauge("delta", "api", 4, start, T),
        # gamma has no series at all
    ]


@pytest.fixture
def prom(prometheus):
    return prometheus(series=_series())


def test_snapshot_values_and_quality_marks(prom, config) -> None:
    source = PrometheusSource(prom.url)
    before = prom.query_count()
    snap = source.observe(config, utc(T))
    queries = prom.query_count() - before
    # one request per metric, and one for Prometheus' clock
    assert queries == len(config.for_tenant("alpha").metrics.queries) + 1 == 8
    assert snap.at == utc(T) and snap.errors == ()
    assert snap.clock is not None and snap.clock.measured and abs(snap.clock.skew_seconds) < 5
    assert snap.clock.evaluated_at == utc(T)  # same clock here: evaluated at the pass time itself
    assert len(snap) == 5  # every catalogue workload, data or not
    r = snap.reading
    assert r("alpha", "api", "requests").value == pytest.approx(40, rel=1e-6)
    assert r("alpha", "api", "replicas").value == 2.0 and r("alpha", "api", "replicas").quality is Quality.OK
    assert r("alpha", "api", "memory_request").value == 268435456.0
    assert r("alpha", "api", "cpu_request").quality is Quality.INF
    assert r("alpha", "worker", "replicas").quality is Quality.STALE
    assert r("alpha", "worker", "replicas").value == 3.0
    assert r("alpha", "worker", "replicas").sampled_at == utc(T - 180)
    assert r("beta", "api", "replicas").quality is Quality.NAN
    assert r("beta", "api", "memory").quality is Quality.NEGATIVE
    for metric in ("requests", "replicas", "cpu", "memory"):
        assert r("gamma", "api", metric).quality is Quality.MISSING
        assert r("gamma", "api", metric).value is None


def test_a_pass_reads_prometheus_at_its_own_instant_not_the_start_of_its_second(prometheus, config) -> None:
    """Queries are stamped to the millisecond: two passes within one second read what each instant holds.
    Cut to the whole second, both read the second's start (2 replicas, sampled at T), and under a replay's
    compressed clock that second is a minute of data the pass did not see."""
    step = 0.25
    stamps = [T - 300 + step * i for i in range(int(301 / step) + 1)]  # a sample every 250 ms up to T + 1
    labels = {"namespace": "tenant-alpha", "deployment": "api"}
    prom = prometheus(series=[Series("kube_deployment_spec_replicas", labels,
                                     [(t, 2.0 if t < T + 0.5 else 3.0) for t in stamps])])
    source = PrometheusSource(prom.url)
    early, late = (source.observe(config, utc(T + f)).reading("alpha", "api", "replicas") for f in (0.25, 0.75))
    assert (early.value, early.quality, early.sampled_at) == (2.0, Quality.OK, utc(T + 0.25))
    assert (late.value, late.quality, late.sampled_at) == (3.0, Quality.OK, utc(T + 0.75))


def test_a_failed_query_is_recorded_and_the_rest_still_read(prometheus, config_files) -> None:
    catalog, policies = config_files
    tiers = policies / "tiers.yaml"
    tiers.write_text(tiers.read_text().replace("  scaling: economical\n", "  scaling: economical\n  metrics: broken\n"))
    default = (policies / "metrics.yaml").read_text()
    replicas = default.split("    replicas: >-\n")[1].split("    ready_replicas:")[0]
    (policies / "metrics-broken.yaml").write_text(
        "kind: MetricsPolicy\nname: broken\nspec:\n  queries:\n"
        "    requests: sum by (tenant, workload) (rate(http_requests_total[2m]\n"
        f"    replicas: >-\n{replicas}"
    )
    config = load_config(catalog, policies)
    prom = prometheus(series=_series())
    before = prom.query_count()
    snap = PrometheusSource(prom.url).observe(config, utc(T))
    # 7 default + the broken one (the identical replicas text is shared) + the clock
    assert prom.query_count() - before == 9
    assert len(snap.errors) == 1 and snap.errors[0].startswith("requests:")
    assert snap.reading("gamma", "api", "requests").quality is Quality.MISSING  # the free tier's broken query
    assert snap.reading("alpha", "api", "requests").ok  # other tiers unaffected


def test_prometheus_down_degrades_the_pass_without_stopping_it(config, tmp_path) -> None:
    from tenantops_lab.sandbox.ports import free_port

    reconciler = Reconciler(PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout=2),
                            StateStore(tmp_path / "s.db"), [TargetTracking()], register_actuators())
    result = reconciler.run_pass(config, utc(T))
    assert len(result.query_errors) == 7 and not result.ok
    assert result.outcomes == ()  # no data, no action: never "zero load, scale down"
    assert {d.name: d.ok for d in result.deciders} == {"tracking": True}


@pytest.fixture
def kube(kube_api):
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    kube_api.add_deployment("tenant-alpha", "worker", replicas=3)
    kube_api.add_deployment("tenant-beta", "api", replicas=1)
    return kube_api


def test_full_pass_scales_up_and_isolates_failures(prom, config, kube, tmp_path) -> None:
    actuator = KubernetesActuator.connect(kube.url)
    store = StateStore(tmp_path / "state.db")
    reconciler = Reconciler(PrometheusSource(prom.url), store, [TargetTracking()],
                            register_actuators({TargetKind.KUBERNETES: actuator}))
    result = reconciler.run_pass(config, utc(T))
    by_subject = {(o.action.tenant, o.action.workload): o for o in result.outcomes}
    assert by_subject[("alpha", "api")].status is OutcomeStatus.APPLIED
    assert kube.replicas("tenant-alpha", "api") == 4  # 40 req/s at 10 per replica
    # delta is a silo tenant and no ASG actuator is configured: its failure is its own
    assert by_subject[("delta", "api")].status is OutcomeStatus.FAILED
    assert "no actuator" in by_subject[("delta", "api")].detail
    # stale, NaN and missing inputs hold replicas instead of acting
    assert set(by_subject) == {("alpha", "api"), ("delta", "api")}
    assert kube.replicas("tenant-alpha", "worker") == 3 and kube.replicas("tenant-beta", "api") == 1
    entries = list(audit.query(store.connection, tenant="alpha"))
    kinds = {(e.workload, e.kind, e.rule) for e in entries}
    assert ("api", "scale", "target-tracking") in kinds and ("api", "act", "applied") in kinds
    assert ("worker", "skip", "no-data") in kinds
    skip = next(e for e in entries if e.workload == "worker")
    assert "stale" in skip.reason
    assert store.state("tracking")["alpha/api"][-1] == [T, 4]


def test_dry_run_plans_and_records_but_changes_nothing(prom, config, kube, tmp_path) -> None:
    actuator = KubernetesActuator.connect(kube.url)
    path = tmp_path / "state.db"
    reconciler = Reconciler(PrometheusSource(prom.url), StateStore(path), [TargetTracking()],
                            register_actuators({TargetKind.KUBERNETES: actuator}))
    kube.clear_log()
    result = reconciler.run_pass(config, utc(T), dry_run=True)
    outcome = next(o for o in result.outcomes if o.action.workload == "api" and o.action.tenant == "alpha")
    assert outcome.status is OutcomeStatus.DRY_RUN and outcome.observed == 2
    assert kube.writes() == [] and kube.replicas("tenant-alpha", "api") == 2
    reconciler.store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM state").fetchone()[0] == 0  # decider state untouched
        rows = conn.execute("SELECT kind, rule FROM audit WHERE tenant='alpha' AND workload='api'").fetchall()
    assert ("scale", "target-tracking") in rows and ("act", "dry_run") in rows


def _load_drop_series() -> list[Series]:
    """alpha/api: 100 req/s until T-200, then 5 req/s; 10 replicas throughout."""
    start = T - 900
    points, total, t = [], 0.0, start
    while t <= T:
        points.append((t, total))
        total += 15 * (100 if t < T - 200 else 5)
        t += 15
    return [Series("http_requests_total", {"tenant": "alpha", "workload": "api"}, points),
            replicas_gauge("alpha", "api", 10, start, T)]


def test_restart_resumes_the_stabilisation_window(prometheus, config, tmp_path: Path) -> None:
    prom = prometheus(series=_load_drop_series())
    path = tmp_path / "state.db"

    def alpha_api(store: StateStore, at: float) -> int:
        reconciler = Reconciler(PrometheusSource(prom.url), store, [TargetTracking(window=300)], register_actuators())
        result = reconciler.run_pass(config, utc(at))
        return next(o.action.desired for o in result.outcomes if o.action.tenant == "alpha")

    with StateStore(path) as store:
        assert alpha_api(store, T - 200) == 10  # busy: ten replicas recommended and remembered
    with StateStore(path) as restarted:  # a new process: state comes back from disk
        assert alpha_api(restarted, T) == 10  # load fell, but the window still holds the peak
    with StateStore(tmp_path / "fresh.db") as amnesiac:
        assert alpha_api(amnesiac, T) == 1  # what a restart without durable state would have done


def test_reconcile_command_once_dry_run_json(prometheus, config_files, tmp_path) -> None:
    import json

    from tenantops.cli.main import main

    catalog, policies = config_files
    now = float(int(time.time()))
    prom = prometheus(series=[requests_counter("alpha", "api", 30, now - 600, now),
                              replicas_gauge("alpha", "api", 2, now - 600, now)])
    state = tmp_path / "state.db"
    args = ["reconcile", "--once", "--dry-run", "--json", "--catalog", str(catalog), "--policies", str(policies),
            "--prometheus-url", prom.url, "--state", str(state)]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code
    payload = json.loads(buffer.getvalue())
    assert code == (0 if payload["ok"] else 1)  # exit 1 exactly when something in the pass failed
    assert payload["dry_run"] is True and payload["tenants"] == 4 and payload["workloads"] == 5
    assert payload["query_errors"] == [] and payload["state_written"] == 0
    assert payload["actions"]["applied"] == 0
    with StateStore(state) as store:
        assert store.key_count() == 0


def test_reconcile_command_bad_catalogue_exits_2(config_files, tmp_path, capsys) -> None:
    from tenantops.cli.main import main

    catalog, policies = config_files
    catalog.write_text(catalog.read_text().replace("tier: free", "tier: gold"))
    with pytest.raises(SystemExit) as exited:
        main(["reconcile", "--once", "--dry-run", "--catalog", str(catalog), "--policies", str(policies),
              "--state", str(tmp_path / "s.db")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"{catalog}:" in err and "gold" in err


def test_full_pass_scales_pool_down_and_silo_up_through_both_actuators(prometheus, config, kube_api, moto_server,
                                                                      tmp_path) -> None:
    import contextlib as ctx

    import boto3

    from tenantops.act.asg import AsgActuator

    start = T - 900
    prom = prometheus(series=[
        requests_counter("alpha", "api", 5, start, T), replicas_gauge("alpha", "api", 4, start, T),
        requests_counter("delta", "api", 50, start, T),
        replicas_gauge("delta", "api", 9, start, T),  # not authoritative for a silo tenant
    ])
    kube_api.add_deployment("tenant-alpha", "api", replicas=4)
    asg_client = boto3.client("autoscaling", region_name=moto_server.region, endpoint_url=moto_server.endpoint_url)
    with ctx.suppress(asg_client.exceptions.AlreadyExistsFault):
        asg_client.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12c6146b",
                                               InstanceType="t3.micro")
    group = "tenantops-test-delta-api"
    asg_client.create_auto_scaling_group(AutoScalingGroupName=group, LaunchConfigurationName="lc", MinSize=0,
                                         MaxSize=30, DesiredCapacity=3, AvailabilityZones=["us-east-1a"])
    asg = AsgActuator.connect(endpoint_url=moto_server.endpoint_url, region=moto_server.region)
    reconciler = Reconciler(PrometheusSource(prom.url), StateStore(tmp_path / "s.db"), [TargetTracking()],
                            register_actuators({TargetKind.KUBERNETES: KubernetesActuator.connect(kube_api.url),
                                                TargetKind.ASG: asg}),
                            replica_reader=asg)
    result = reconciler.run_pass(config, utc(T))
    assert result.snapshot.reading("delta", "api", "replicas").value == 3.0  # from the group, not Prometheus
    outcomes = {(o.action.tenant, o.action.workload): o for o in result.outcomes}
    assert outcomes[("alpha", "api")].status is OutcomeStatus.APPLIED
    assert kube_api.replicas("tenant-alpha", "api") == 1  # scaled down: 5 req/s fits one replica
    assert outcomes[("delta", "api")].status is OutcomeStatus.APPLIED
    desired = asg_client.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    assert desired["DesiredCapacity"] == 5  # scaled up: 50 req/s at 10 per replica
    again = reconciler.run_pass(config, utc(T + 1))  # idempotent: the same plan writes nothing new
    assert kube_api.replicas("tenant-alpha", "api") == 1
    assert all(o.status is not OutcomeStatus.FAILED for o in again.outcomes if o.action.tenant == "alpha")
