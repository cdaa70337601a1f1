"""Kubernetes-correct request patches: every quantity the API accepts, per container, never above limits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenantops.act.base import OutcomeStatus
from tenantops.act.requests import RequestsActuator, fit_to_limits, split_requests
from tenantops.config.kinds.common import parse_quantity
from tenantops.structs.requests import RequestPatch

NS = "tenant-shop"


@pytest.fixture
def apps(kube_api: Any) -> client.AppsV1Api:
    configuration = client.Configuration()
    configuration.host = kube_api.url
    configuration.retries = False
    return client.AppsV1Api(client.ApiClient(configuration))


def _deploy(kube_api: Any, apps: client.AppsV1Api, name: str, containers: list[dict[str, Any]]) -> None:
    """A Deployment whose containers carry exactly these resources (the stand-in's helper sets requests only)."""
    kube_api.add_deployment(NS, name)
    body = kube_api.deployment(NS, name)
    body["spec"]["template"]["spec"]["containers"] = [
        {"name": c["name"], "image": "registry.local/app:1", "resources": c["resources"]} for c in containers]
    apps.replace_namespaced_deployment(name, NS, body)


def _resources(kube_api: Any, name: str) -> dict[str, dict[str, dict[str, str]]]:
    containers = kube_api.deployment(NS, name)["spec"]["template"]["spec"]["containers"]
    return {c["name"]: c.get("resources", {}) for c in containers}


def _patch(requests: dict[str, str], *, name: str = "api", raise_limits: bool = True) -> RequestPatch:
    return RequestPatch("shop", name, NS, name, requests, "test", raise_limits)


def test_quantities_the_api_accepts_are_read_as_it_reads_them(kube_api: Any, apps: client.AppsV1Api) -> None:
    # `.5`, `1e3` and `1Pi` used to be rejected, and a Deployment written that way made the actuator raise.
    _deploy(kube_api, apps, "api", [{"name": "api", "resources": {"requests": {"cpu": ".5", "memory": "1e9"},
                                                            "limits": {"cpu": "1e3", "memory": "1Pi"}}}])
    actuator = RequestsActuator(apps, sleep=lambda s: None)
    assert actuator.apply(_patch({"cpu": "500m", "memory": "1e9"})).status is OutcomeStatus.UNCHANGED
    done = actuator.apply(_patch({"cpu": "250m", "memory": "512Mi"}))
    assert done.status is OutcomeStatus.APPLIED and done.limits == {} and done.capped == ()
    assert _resources(kube_api, "api")["api"] == {"requests": {"cpu": "250m", "memory": "512Mi"},
                                                  "limits": {"cpu": "1e3", "memory": "1Pi"}}


def test_a_request_above_its_limit_raises_the_limit_by_the_same_factor(kube_api: Any,
                                                                       apps: client.AppsV1Api) -> None:
    _deploy(kube_api, apps, "api", [{"name": "api", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                                            "limits": {"cpu": "1", "memory": "1Gi"}}}])
    done = RequestsActuator(apps).apply(_patch({"cpu": "1500m", "memory": "1536Mi"}))
    assert done.status is OutcomeStatus.APPLIED
    # cpu x3 -> limit 1 x 3; memory x1.5 -> limit 1Gi x 1.5.
    assert _resources(kube_api, "api")["api"] == {"requests": {"cpu": "1500m", "memory": "1536Mi"},
                                                  "limits": {"cpu": "3000m", "memory": "1536Mi"}}
    assert "limits raised" in done.detail


def test_where_limits_may_not_move_the_request_is_capped_and_says_so(kube_api: Any,
                                                                     apps: client.AppsV1Api) -> None:
    _deploy(kube_api, apps, "api", [{"name": "api", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                                            "limits": {"cpu": "1", "memory": "1Gi"}}}])
    done = RequestsActuator(apps).apply(_patch({"cpu": "800m", "memory": "2Gi"}, raise_limits=False))
    assert done.status is OutcomeStatus.APPLIED
    assert _resources(kube_api, "api")["api"] == {"requests": {"cpu": "800m", "memory": "1Gi"},
                                                  "limits": {"cpu": "1", "memory": "1Gi"}}
    assert done.capped == ("api memory request capped at its limit 1Gi (wanted 2Gi)",)
    assert "capped at its limit" in done.detail


def test_each_container_of_a_pod_is_patched_against_its_own_limits(kube_api: Any, apps: client.AppsV1Api) -> None:
    _deploy(kube_api, apps, "web", [
        {"name": "app", "resources": {"requests": {"cpu": "300m", "memory": "300Mi"},
                                      "limits": {"cpu": "400m", "memory": "300Mi"}}},
        {"name": "proxy", "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}}},
    ])
    done = RequestsActuator(apps).apply(_patch({"cpu": "800m", "memory": "400Mi"}, name="web"))
    assert done.status is OutcomeStatus.APPLIED
    after = _resources(kube_api, "web")
    assert after["app"]["requests"] == {"cpu": "600m", "memory": "400Mi"}  # 3/4 of the cpu, all the memory
    assert after["app"]["limits"] == {"cpu": "800m", "memory": "400Mi"}  # both grew past their limits
    assert after["proxy"] == {"requests": {"cpu": "200m"}, "limits": {"cpu": "1"}}  # within its limit


def test_no_request_or_raised_limit_goes_past_the_namespaces_per_container_maximum(
        kube_api: Any, apps: client.AppsV1Api) -> None:
    # The API server refuses every new pod of the rollout above the LimitRange's `max`, which would leave the
    # Deployment half-rolled: the request is held at the ceiling, and a limit raised with it stops there too.
    _deploy(kube_api, apps, "api", [{"name": "api", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                                            "limits": {"cpu": "1", "memory": "1Gi"}}}])
    patch = RequestPatch("shop", "api", NS, "api", {"cpu": "3", "memory": "1536Mi"}, "test", True,
                         ceilings={"cpu": "2", "memory": "2Gi"})
    done = RequestsActuator(apps).apply(patch)
    assert done.status is OutcomeStatus.APPLIED
    after = _resources(kube_api, "api")["api"]
    assert after["requests"] == {"cpu": "2", "memory": "1536Mi"}
    assert parse_quantity(after["limits"]["cpu"]) == 2.0 and after["limits"]["memory"] == "1536Mi"
    assert done.capped == ("api cpu request capped at the namespace's per-container maximum 2 (wanted 3)",)


@pytest.mark.parametrize("text", ["lots", "NaN", "Infinity"])  # the last two: Python's Decimal reads them
def test_an_unreadable_quantity_fails_the_patch_with_its_reason(kube_api: Any, apps: client.AppsV1Api,
                                                                text: str) -> None:
    # The API refuses to store an unreadable quantity (422, as the apiserver does), so a live Deployment
    # never holds one; an unreadable wanted quantity fails the patch with its reason and writes nothing.
    with pytest.raises(ApiException) as refused:
        _deploy(kube_api, apps, "api", [{"name": "api", "resources": {"requests": {"cpu": text},
                                                                      "limits": {"cpu": "1"}}}])
    assert refused.value.status == 422
    done = RequestsActuator(apps).apply(_patch({"cpu": text}))
    assert done.status is OutcomeStatus.FAILED and f"{text!r} is not a Kubernetes quantity" in done.detail
    assert kube_api.deployment(NS, "api")["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "100m", "memory": "128Mi"}


quantity = st.one_of(
    st.integers(1, 64_000).map(lambda m: f"{m}m"),
    st.floats(0.01, 64, allow_nan=False).map(lambda c: f"{c:.3g}"),
    st.integers(1, 64).map(lambda c: f".{c}"),
    st.integers(1, 9).map(lambda e: f"1e{e % 2}"),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(quantity, st.one_of(st.none(), quantity)), min_size=1, max_size=3), quantity,
       st.booleans())
def test_requests_are_never_above_limits(containers: list[tuple[str, str | None]], wanted: str,
                                         raise_limits: bool) -> None:
    pods = [client.V1Container(name=f"c{i}", resources=client.V1ResourceRequirements(
        requests={"cpu": request}, limits={"cpu": limit} if limit else None))
        for i, (request, limit) in enumerate(containers)]
    changes = fit_to_limits(pods, split_requests(pods, "w", {"cpu": wanted}), raise_limits=raise_limits)
    for pod in pods:
        change = changes[str(pod.name)]
        request = parse_quantity(change.requests["cpu"])
        limits = pod.resources.limits or {}
        limit = change.limits.get("cpu") or limits.get("cpu")
        if limit is not None:
            assert request <= parse_quantity(limit) + 1e-9
        if not raise_limits:
            assert change.limits == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(quantity, st.one_of(st.none(), quantity)), min_size=1, max_size=3), quantity, quantity,
       st.booleans())
# A raised limit was rounded up to whole millicores after it was held at the ceiling: 62.5m became 63m.
@example(containers=[("1m", "1m")], wanted=".1", ceiling="0.0625", raise_limits=True)
def test_requests_and_raised_limits_never_pass_the_ceiling(containers: list[tuple[str, str | None]], wanted: str,
                                                           ceiling: str, raise_limits: bool) -> None:
    pods = [client.V1Container(name=f"c{i}", resources=client.V1ResourceRequirements(
        requests={"cpu": request}, limits={"cpu": limit} if limit else None))
        for i, (request, limit) in enumerate(containers)]
    changes = fit_to_limits(pods, split_requests(pods, "w", {"cpu": wanted}), raise_limits=raise_limits,
                            ceilings={"cpu": ceiling})
    for pod in pods:
        change = changes[str(pod.name)]
        request = parse_quantity(change.requests["cpu"])
        assert request <= parse_quantity(ceiling) + 1e-9
        if "cpu" in change.limits:
            assert request <= parse_quantity(change.limits["cpu"]) + 1e-9
            assert parse_quantity(change.limits["cpu"]) <= parse_quantity(ceiling) + 1e-9


def test_a_raised_limit_held_at_a_ceiling_of_no_whole_mebibytes_is_the_ceiling_as_written() -> None:
    pod = client.V1Container(name="api", resources=client.V1ResourceRequirements(
        requests={"memory": "1Gi"}, limits={"memory": "1Gi"}))
    [change] = fit_to_limits([pod], {"api": {"memory": "3Gi"}}, raise_limits=True,
                             ceilings={"memory": "2G"}).values()
    assert change.requests == {"memory": "2G"} and change.limits == {"memory": "2G"}  # not 1908Mi, above 2G


def test_per_container_requests_of_the_patch_are_written_as_given(kube_api: Any, apps: client.AppsV1Api) -> None:
    _deploy(kube_api, apps, "web", [
        {"name": "app", "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "2"}}},
        {"name": "proxy", "resources": {"requests": {"cpu": "900m"}, "limits": {"cpu": "2"}}},
    ])
    patch = RequestPatch("shop", "web", NS, "web", {"cpu": "1"}, "test",
                         containers={"app": {"cpu": "750m"}, "proxy": {"cpu": "250m"}, "gone": {"cpu": "1"}})
    done = RequestsActuator(apps).apply(patch)
    assert done.status is OutcomeStatus.APPLIED
    after = _resources(kube_api, "web")
    # Not in proportion to the current requests (1:9), but as each container's own usage says.
    assert after["app"]["requests"] == {"cpu": "750m"} and after["proxy"]["requests"] == {"cpu": "250m"}
    assert RequestPatch.from_json(patch.to_json()) == patch


def test_the_fence_is_asked_about_the_longest_a_patch_can_take(kube_api: Any, apps: client.AppsV1Api) -> None:
    """A patch is a read and a write per attempt; the fence was asked about a default 25 s while the shipped
    actuator (three attempts, 10 s a request) could take a minute, writing after the Lease it was fenced by
    had passed to another replica. Every attempt timing out still ends within the deadline asked."""
    import time

    from tenantops.engine.patch_effects import PatchEffects

    kube_api.add_deployment(NS, "api", cpu="100m", memory="128Mi")
    shipped = RequestsActuator(apps)
    assert PatchEffects(shipped).deadline(_patch({"cpu": "200m"})) >= 3 * 2 * 10
    actuator = RequestsActuator(apps, attempts=3, backoff=0.1, timeout=0.25)
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/api"
    kube_api.inject(path, "hang", count=3, method="GET", hang_seconds=2)
    started = time.monotonic()
    outcome = actuator.apply(_patch({"cpu": "200m"}))
    took = time.monotonic() - started
    assert outcome.status is OutcomeStatus.RETRYABLE
    assert took <= PatchEffects(actuator).deadline(_patch({"cpu": "200m"})) + 0.3
