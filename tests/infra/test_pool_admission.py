"""Pooled tenants' pods are admitted under their own namespace's LimitRange, before and after right-sizing.

`admit` is the API server's LimitRanger for containers as Kubernetes documents it (the LimitRange
concept page's "constraints on resource limits and requests"): a missing request takes `defaultRequest`
(else the limit), a missing limit takes `default`; a `max` needs a limit to exist and caps request and
limit; and a request above its limit is refused. Only the rules the program's LimitRanges use are here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from kubernetes.utils import parse_quantity

from tenantops.config import Config, load_config
from tenantops.config.catalog import Workload
from tenantops_infra.mocked import PROJECT_ROOT, MockRun
from tenantops_infra.pool import container_resources

RESOURCES = ("cpu", "memory")


def admit(resources: dict[str, dict[str, str]], limit_range: dict[str, Any]) -> list[str]:
    """Why LimitRanger (and pod validation after it) would refuse a container; empty when admitted."""
    requests, limits = dict(resources.get("requests", {})), dict(resources.get("limits", {}))
    for name in RESOURCES:
        if name not in limits and name in limit_range.get("default", {}):
            limits[name] = limit_range["default"][name]
        if name not in requests:
            fallback = limit_range.get("defaultRequest", {}).get(name, limits.get(name))
            if fallback is not None:
                requests[name] = fallback
    problems = []
    for name, ceiling in limit_range.get("max", {}).items():
        if name not in limits:
            problems.append(f"maximum {name} usage per Container is {ceiling}. No limit is specified")
            continue
        for kind, values in (("limit", limits), ("request", requests)):
            if name in values and parse_quantity(values[name]) > parse_quantity(ceiling):
                problems.append(f"maximum {name} usage per Container is {ceiling}, but {kind} is {values[name]}")
    for name in RESOURCES:
        if name in requests and name in limits and parse_quantity(requests[name]) > parse_quantity(limits[name]):
            problems.append(f"requests.{name}: {requests[name]} must be less than or equal to {name} limit")
    return problems


def _pooled(run: MockRun, config: Config) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(tenant, LimitRange item, container) for every container of every pooled tenant's Deployments."""
    out = []
    for tenant in (t.id for t in config.tenants if t.isolation == "pool"):
        resources = run.tenant_resources(tenant)
        (limit_range,) = [r for r in resources if r.type == "kubernetes:core/v1:LimitRange"]
        item = limit_range.inputs["spec"]["limits"][0]
        for deployment in (r for r in resources if r.type == "kubernetes:apps/v1:Deployment"):
            for container in deployment.inputs["spec"]["template"]["spec"]["containers"]:
                out.append((tenant, item, container))
    return out


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_pooled_workload_is_admitted_under_its_tiers_limit_range(
    stack: str, request: pytest.FixtureRequest
) -> None:
    # Free and pro tiers default CPU to 100m/250m while a workload requests 500m unless it says otherwise.
    run: MockRun = request.getfixturevalue(f"{stack}_run")
    config = load_config(PROJECT_ROOT / f"stacks/{stack}.catalog.yaml", PROJECT_ROOT / "policies")
    containers = _pooled(run, config)
    assert containers
    refused = {f"{tenant}/{c['name']}": admit(c["resources"], item) for tenant, item, c in containers}
    assert {k: v for k, v in refused.items() if v} == {}


def test_a_request_right_sized_up_to_the_tiers_ceiling_is_admitted(dev_run: MockRun, dev_config: Config) -> None:
    # The controller raises requests on the Deployment; with no CPU limit there, it caps nothing, so the
    # namespace's defaulted limit must not be below any request the tier allows.
    for tenant, item, container in _pooled(dev_run, dev_config):
        ceiling = item["max"]["cpu"]
        raised = {**container["resources"], "requests": {**container["resources"]["requests"], "cpu": ceiling}}
        assert admit(raised, item) == [], f"{tenant}/{container['name']} at {ceiling}"
        above = Decimal(parse_quantity(ceiling)) + 1
        too_much = {**raised, "requests": {**raised["requests"], "cpu": str(above)}}
        assert admit(too_much, item), "the tier's ceiling must still hold"


def test_the_catalogues_cpu_limit_is_the_containers_limit() -> None:
    limited = Workload(name="api", min_replicas=1, max_replicas=2, cpu_request="500m", cpu_limit="2")
    assert container_resources(limited)["limits"] == {"cpu": "2", "memory": "512Mi"}
    unlimited = Workload(name="api", min_replicas=1, max_replicas=2)
    assert container_resources(unlimited) == {"requests": {"cpu": "500m", "memory": "512Mi"},
                                              "limits": {"memory": "512Mi"}}
