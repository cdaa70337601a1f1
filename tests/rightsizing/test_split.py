"""Splitting a pod-level request between containers."""

from __future__ import annotations

from kubernetes import client

from tenantops.act.requests import split_requests


def _container(name: str, cpu: str | None = None, memory: str | None = None) -> client.V1Container:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return client.V1Container(name=name, resources=client.V1ResourceRequirements(requests=requests or None))


def test_single_or_named_container_takes_everything() -> None:
    wanted = {"cpu": "300m", "memory": "256Mi"}
    assert split_requests([_container("app")], "api", wanted) == {"app": wanted}
    assert split_requests([_container("sidecar"), _container("api")], "api", wanted) == {"api": wanted}


def test_other_containers_share_in_proportion_to_their_requests() -> None:
    parts = split_requests([_container("a", "300m", "100Mi"), _container("b", "100m")], "api",
                           {"cpu": "800m", "memory": "200Mi"})
    assert parts["a"]["cpu"] == "600m" and parts["b"]["cpu"] == "200m"
    assert parts["a"]["memory"] == "200Mi" and "memory" not in parts["b"]  # b had no memory request
