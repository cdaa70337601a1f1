"""CPU limits read from kube-state-metrics in the same request as the requests, against a real Prometheus.

A pod whose limit is above its request uses CPU past 100% of the request; the autoscaler must see where the
reading really stops (limit over request) or it takes 120% of the request for saturation and infers demand
that is not there.
"""

from __future__ import annotations

import time

import pytest

from tenantops.decide.autoscaling.decider import AutoscalingDecider, state_key
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.decide.base import PassInput
from tenantops.observe.prometheus import PrometheusSource
from tenantops.structs.snapshot import Quality
from tenantops_lab.sandbox.prometheus import Series

from .conftest import ramp, replicas_gauge, utc

pytestmark = pytest.mark.integration

T = float(int(time.time()) - 1800)
PODS = 10
REQUEST = 0.5  # cores per pod
USAGE = 0.6  # cores per pod: 120% of the request


def _pods(tenant: str, limit: float | None) -> list[Series]:
    start = T - 1200
    ns = f"tenant-{tenant}"
    out = [replicas_gauge(tenant, "api", PODS, start, T),
           replicas_gauge(tenant, "api", PODS, start, T, name="kube_deployment_status_replicas_ready")]
    for i in range(PODS):
        pod = {"namespace": ns, "pod": f"api-7d9f8b6c5-p{i:04d}", "container": "app"}
        out.append(Series("container_cpu_usage_seconds_total", pod, ramp(start, T, 15, lambda t: USAGE * (t - start))))
        out.append(Series("kube_pod_container_resource_requests", {**pod, "resource": "cpu", "unit": "core"},
                          ramp(start, T, 15, lambda t: REQUEST)))
        out.append(Series("kube_pod_container_resource_requests", {**pod, "resource": "memory", "unit": "byte"},
                          ramp(start, T, 15, lambda t: 2.0**29)))
        if limit is not None:
            out.append(Series("kube_pod_container_resource_limits", {**pod, "resource": "cpu", "unit": "core"},
                              ramp(start, T, 15, lambda t: limit)))
            out.append(Series("kube_pod_container_resource_limits", {**pod, "resource": "memory", "unit": "byte"},
                              ramp(start, T, 15, lambda t: 2.0**30)))
    return out


def test_the_limit_comes_with_the_request_and_lifts_the_saturation_point(prometheus, config) -> None:
    prom = prometheus(series=[*_pods("alpha", limit=2 * REQUEST), *_pods("beta", limit=None)])
    before = prom.query_count()
    snap = PrometheusSource(prom.url).observe(config, utc(T))
    # requests and limits share one query: still one request per query and one for the clock
    assert prom.query_count() - before == len(config.for_tenant("alpha").metrics.queries) + 1 == 8
    r = snap.reading
    assert r("alpha", "api", "cpu").value == pytest.approx(USAGE * PODS, rel=1e-3)
    assert r("alpha", "api", "cpu_request").value == pytest.approx(REQUEST * PODS)
    assert r("alpha", "api", "cpu_limit").value == pytest.approx(2 * REQUEST * PODS)  # memory limits not mixed in
    assert r("beta", "api", "cpu_request").value == pytest.approx(REQUEST * PODS)
    assert r("beta", "api", "cpu_limit").quality is Quality.MISSING

    out = AutoscalingDecider().decide(PassInput(snap, config, utc(T)), {})
    alpha = WorkloadState.from_json(out.state[state_key("alpha", "api")])
    beta = WorkloadState.from_json(out.state[state_key("beta", "api")])
    assert alpha.saturated == 0  # 1.2 of the request under a limit of 2: observed in full
    assert beta.saturated == 1  # no limit: the request is the ceiling, as before
