"""Builders shared by the actuator and lease tests."""

from __future__ import annotations

from kubernetes import client

from tenantops.act.kubeclient import api_client
from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind
from tenantops_lab.sandbox.kube_api import KubeApiServer


def apps_api(server: KubeApiServer) -> client.AppsV1Api:
    return client.AppsV1Api(api_client(server.url))


def scale_action(namespace: str, name: str, current: int, desired: int, tenant: str = "acme") -> ScaleAction:
    return ScaleAction(
        tenant=tenant,
        workload=name,
        target=ScaleTarget(TargetKind.KUBERNETES, name, namespace),
        current=current,
        desired=desired,
        rule="test",
        reason="test scale",
    )


class RecordingSleep:
    """Collects requested delays instead of sleeping, so backoff is asserted without slowing the suite."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
