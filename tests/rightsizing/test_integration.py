"""Against real servers: usage history from a real Prometheus, request patches on the Kubernetes API stand-in."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client

from tenantops.act.base import OutcomeStatus
from tenantops.act.requests import RequestsActuator
from tenantops.config import load_config
from tenantops.config.kinds.common import parse_quantity
from tenantops.decide.base import PassInput
from tenantops.decide.rightsizing import RightsizingDecider
from tenantops.observe.usage_history import UsageHistorySource
from tenantops.structs.requests import RequestPatch
from tenantops.structs.snapshot import Snapshot
from tenantops_lab.sandbox.prometheus import Series

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MI = 2.0**20
GI = 2.0**30
CATALOG = """\
environment: test
tenants:
  - id: shop
    tier: free
    isolation: pool
    region: us-east-1
    budget_usd_month: 100
    contacts: [ops@shop.example]
    workloads:
      - {name: api, min_replicas: 1, max_replicas: 4, cpu_request: "1", memory_request: 1Gi}
  - id: media
    tier: pro
    isolation: pool
    region: us-east-1
    budget_usd_month: 100
    contacts: [ops@media.example]
    workloads:
      - {name: api, min_replicas: 1, max_replicas: 4}
"""


def _pod_series(tenant: str, pod: str, start: float, end: float, cores: float, memory: float,
                oom_at: float | None = None) -> list[Series]:
    labels = {"namespace": f"tenant-{tenant}", "pod": pod, "container": "api"}
    stamps = [start + 60 * i for i in range(int((end - start) // 60))]
    out = [
        Series("container_cpu_usage_seconds_total", labels, [(t, cores * (t - start)) for t in stamps]),
        Series("container_memory_working_set_bytes", labels, [(t, memory) for t in stamps]),
    ]
    if oom_at is not None:
        out.append(Series("kube_pod_container_status_restarts_total", labels,
                          [(t, 0.0 if t < oom_at else 1.0) for t in stamps]))
        out.append(Series("kube_pod_container_status_last_terminated_reason", {**labels, "reason": "OOMKilled"},
                          [(t, 1.0) for t in stamps if t >= oom_at]))
    return out


def test_history_from_a_real_prometheus_in_one_request_per_resource(prometheus, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    config = load_config(catalog, REPO / "policies")
    end = float(int(time.time()) // 60 * 60) - 120
    start = end - 6 * 3600
    series = [
        *_pod_series("shop", "api-5d8f7c9b4-abcde", start, end, 0.25, 300 * MI, oom_at=end - 3600),
        *_pod_series("shop", "api-5d8f7c9b4-fghij", start, end, 0.75, 500 * MI),
        *_pod_series("media", "api-7c6d5b4a3-klmno", start, end, 0.1, 200 * MI),
        *_pod_series("stranger", "api-7c6d5b4a3-pqrst", start, end, 9.0, 9e9),  # not in the catalogue
    ]
    server = prometheus(series=series)
    before = server.query_count()
    source = UsageHistorySource(server.url)
    history = source.fetch(config, datetime.fromtimestamp(end, UTC))
    assert not history.errors
    # cpu, memory, OOM kills, the memory they were killed at and replicas: five requests for every tenant.
    assert source.requests_sent == 5
    assert server.query_count() - before == 5
    shop_cpu = history.get("shop", "api", "cpu")
    assert shop_cpu.values.size > 50
    assert float(shop_cpu.values[-1]) == pytest.approx(0.5, rel=0.02)  # mean per pod of 0.25 and 0.75
    assert float(history.get("shop", "api", "memory").values[-1]) == pytest.approx(400 * MI, rel=0.01)
    assert float(history.get("media", "api", "cpu").values[-1]) == pytest.approx(0.1, rel=0.02)
    assert ("stranger", "api", "cpu") not in history.series
    kills = history.ooms.get(("shop", "api"))
    assert kills and kills[0].usage == pytest.approx(400 * MI, rel=0.01)


def test_per_container_history_and_the_pod_as_their_sum(prometheus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    config = load_config(catalog, REPO / "policies")
    end = float(int(time.time()) // 60 * 60) - 120
    start = end - 3 * 3600
    stamps = [start + 60 * i for i in range(int((end - start) // 60))]
    series = []
    for pod in ("api-5d8f7c9b4-abcde", "api-5d8f7c9b4-fghij"):
        for container, cores, memory in (("api", 0.3, 400 * MI), ("proxy", 0.1, 50 * MI)):
            labels = {"namespace": "tenant-shop", "pod": pod, "container": container}
            series.append(Series("container_cpu_usage_seconds_total", labels,
                                 [(t, cores * (t - start)) for t in stamps]))
            series.append(Series("container_memory_working_set_bytes", labels, [(t, memory) for t in stamps]))
        # The pause container and cgroup-level series are not containers of the workload.
        series.append(Series("container_memory_working_set_bytes",
                             {"namespace": "tenant-shop", "pod": pod, "container": "POD"}, [(t, 1e6) for t in stamps]))
    server = prometheus(series=series)
    source = UsageHistorySource(server.url)
    history = source.fetch(config, datetime.fromtimestamp(end, UTC))
    assert not history.errors and source.requests_sent == 5  # still one query per resource
    cpu = history.per_container("shop", "api", "cpu")
    assert sorted(cpu) == ["api", "proxy"]
    assert float(cpu["api"].values[-1]) == pytest.approx(0.3, rel=0.02)
    assert float(cpu["proxy"].values[-1]) == pytest.approx(0.1, rel=0.02)
    assert float(history.get("shop", "api", "cpu").values[-1]) == pytest.approx(0.4, rel=0.02)
    memory = history.per_container("shop", "api", "memory")
    assert sorted(memory) == ["api", "proxy"]
    assert float(history.get("shop", "api", "memory").values[-1]) == pytest.approx(450 * MI, rel=0.01)


def test_an_oom_kill_is_its_containers_as_well_as_the_pods(prometheus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The OOM query kept only tenant and workload, so a kill in a pod of several containers could not be
    told apart: each container's recommendation (its VPA status, and its share of the patch) was made as
    if none had been killed."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    config = load_config(catalog, REPO / "policies")
    end = float(int(time.time()) // 60 * 60) - 120
    start = end - 3 * 3600
    oom_at = end - 3600
    stamps = [start + 60 * i for i in range(int((end - start) // 60))]
    series = []
    pod = "api-5d8f7c9b4-abcde"
    for container, memory in (("api", 400 * MI), ("proxy", 50 * MI)):
        labels = {"namespace": "tenant-shop", "pod": pod, "container": container}
        series.append(Series("container_cpu_usage_seconds_total", labels, [(t, 0.1 * (t - start)) for t in stamps]))
        series.append(Series("container_memory_working_set_bytes", labels, [(t, memory) for t in stamps]))
        series.append(Series("kube_pod_container_status_restarts_total", labels,
                             [(t, 1.0 if container == "api" and t >= oom_at else 0.0) for t in stamps]))
    series.append(Series("kube_pod_container_status_last_terminated_reason",
                         {"namespace": "tenant-shop", "pod": pod, "container": "api", "reason": "OOMKilled"},
                         [(t, 1.0) for t in stamps if t >= oom_at]))
    history = UsageHistorySource(prometheus(series=series).url).fetch(config, datetime.fromtimestamp(end, UTC))
    assert not history.errors
    [pod_kill, *_] = history.ooms[("shop", "api")]
    assert pod_kill.usage == pytest.approx(450 * MI, rel=0.01)  # the pod's: the sum of its containers
    kills = history.container_ooms[("shop", "api")]
    assert sorted(kills) == ["api"]  # the proxy was not killed
    assert kills["api"][0].usage == pytest.approx(400 * MI, rel=0.01) and kills["api"][0].at == pod_kill.at


def test_a_pod_killed_before_its_first_scrape_is_bumped_from_the_limit_it_was_killed_at(
    prometheus, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """A pod OOM-killed at start-up, every time, has no memory sample at all: its kills were dropped (no
    usage to bump from), and nothing ever raised its memory. An OOM kill means its usage reached its limit."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    config = load_config(catalog, REPO / "policies")
    end = float(int(time.time()) // 60 * 60) - 120
    start, oom_at = end - 3 * 3600, end - 3600
    stamps = [start + 60 * i for i in range(int((end - start) // 60))]
    labels = {"namespace": "tenant-shop", "pod": "api-5d8f7c9b4-abcde", "container": "api"}
    series = [
        Series("kube_pod_container_resource_requests", {**labels, "resource": "memory"}, [(t, GI) for t in stamps]),
        Series("kube_pod_container_resource_limits", {**labels, "resource": "memory"}, [(t, GI) for t in stamps]),
        Series("kube_pod_container_status_restarts_total", labels, [(t, 0.0 if t < oom_at else 1.0) for t in stamps]),
        Series("kube_pod_container_status_last_terminated_reason", {**labels, "reason": "OOMKilled"},
               [(t, 1.0) for t in stamps if t >= oom_at]),
        # A container without a limit is killed at its request (only a node's pressure kills it).
        *_pod_series("media", "api-7c6d5b4a3-klmno", start, end, 0.1, 200 * MI)[:1],
        Series("kube_pod_container_resource_requests", {"namespace": "tenant-media", "pod": "api-7c6d5b4a3-klmno",
                                                        "container": "api", "resource": "memory"},
               [(t, 512 * MI) for t in stamps]),
        Series("kube_pod_container_status_restarts_total",
               {"namespace": "tenant-media", "pod": "api-7c6d5b4a3-klmno", "container": "api"},
               [(t, 0.0 if t < oom_at else 1.0) for t in stamps]),
        Series("kube_pod_container_status_last_terminated_reason",
               {"namespace": "tenant-media", "pod": "api-7c6d5b4a3-klmno", "container": "api", "reason": "OOMKilled"},
               [(t, 1.0) for t in stamps if t >= oom_at]),
    ]
    now = datetime.fromtimestamp(end, UTC)
    history = UsageHistorySource(prometheus(series=series).url).fetch(config, now)
    assert not history.errors and history.get("shop", "api", "memory").values.size == 0
    [kill, *_] = history.ooms[("shop", "api")]
    assert (kill.usage, kill.basis) == (GI, "limit") and oom_at <= kill.at <= oom_at + 600
    assert history.container_ooms[("shop", "api")]["api"][0] == kill
    assert (history.ooms[("media", "api")][0].usage, history.ooms[("media", "api")][0].basis) == (512 * MI, "limit")

    # The free tier applies (aggressive): memory goes up at once, through the step cap, with an hour of history.
    out = RightsizingDecider(history).decide(PassInput(Snapshot(at=now, workloads={}), config, now), {})
    [patch] = [p for p in out.patches if p.tenant == "shop"]
    assert list(patch.requests) == ["memory"]  # no CPU sample either: nothing to say about CPU
    # Killed at its 1Gi limit: at least the bump, max(1Gi + 100Mi, 1.2Gi), within the step cap of +50%.
    assert 1.2 * GI <= parse_quantity(patch.requests["memory"]) <= 1.5 * GI
    assert "urgent after OOM kill" in patch.reason
    [row] = [r for r in out.findings.recommendations if r.tenant == "shop"]  # type: ignore[union-attr]
    assert (row.memory.target or 0) >= 1.2 * GI
    assert (f"no memory sample before a kill: bumped from the memory limit, or request, it was killed at, {GI:.0f} "
            "bytes") in row.memory.reason


def test_history_query_failure_is_reported_not_raised(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    config = load_config(catalog, REPO / "policies")
    from tenantops_lab.sandbox.ports import free_port

    history = UsageHistorySource(f"http://127.0.0.1:{free_port()}", timeout=2).fetch(config, datetime.now(UTC))
    assert len(history.errors) == 5 and not history.series


@pytest.fixture
def apps(kube_api) -> client.AppsV1Api:  # type: ignore[no-untyped-def]
    configuration = client.Configuration()
    configuration.host = kube_api.url
    configuration.retries = False
    return client.AppsV1Api(client.ApiClient(configuration))


def _requests(kube_api, name: str = "api") -> dict:  # type: ignore[no-untyped-def, type-arg]
    containers = kube_api.deployment("tenant-shop", name)["spec"]["template"]["spec"]["containers"]
    return {c["name"]: c["resources"]["requests"] for c in containers}


PATCH = RequestPatch("shop", "api", "tenant-shop", "api", {"cpu": "500m", "memory": "512Mi"}, "test")


def test_patch_sets_requests_once_and_is_idempotent(kube_api, apps) -> None:  # type: ignore[no-untyped-def]
    kube_api.add_deployment("tenant-shop", "api", replicas=2, cpu="1", memory="1Gi")
    actuator = RequestsActuator(apps, sleep=lambda s: None)
    dry = actuator.apply(PATCH, dry_run=True)
    assert dry.status is OutcomeStatus.DRY_RUN and not kube_api.writes()
    done = actuator.apply(PATCH)
    assert done.status is OutcomeStatus.APPLIED
    assert done.before == {"api": {"cpu": "1", "memory": "1Gi"}}
    assert _requests(kube_api) == {"api": {"cpu": "500m", "memory": "512Mi"}}
    assert kube_api.deployment("tenant-shop", "api")["spec"]["replicas"] == 2  # nothing else touched
    writes = len(kube_api.writes())
    again = actuator.apply(PATCH)
    assert again.status is OutcomeStatus.UNCHANGED and len(kube_api.writes()) == writes


def test_conflict_rereads_and_server_errors_are_bounded(kube_api, apps) -> None:  # type: ignore[no-untyped-def]
    kube_api.add_deployment("tenant-shop", "api", cpu="1", memory="1Gi")
    delays: list[float] = []
    actuator = RequestsActuator(apps, attempts=3, sleep=delays.append)
    kube_api.inject("/apis/apps/v1/namespaces/tenant-shop/deployments/api", 409, method="PATCH")
    assert actuator.apply(PATCH).status is OutcomeStatus.APPLIED
    assert not delays  # a conflict is answered by reading again, not by waiting
    kube_api.add_deployment("tenant-shop", "web", cpu="1", memory="1Gi")
    kube_api.inject("/apis/apps/v1/namespaces/tenant-shop/deployments/web", 503, count=5)
    web = RequestPatch("shop", "web", "tenant-shop", "web", {"cpu": "200m"}, "test")
    outcome = actuator.apply(web)
    assert outcome.status is OutcomeStatus.RETRYABLE and outcome.attempts == 3 and len(delays) == 2
    missing = RequestPatch("shop", "gone", "tenant-shop", "gone", {"cpu": "200m"}, "test")
    assert actuator.apply(missing).status is OutcomeStatus.FAILED


