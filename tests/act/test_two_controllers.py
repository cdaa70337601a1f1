"""Two controller replicas, each gating its actuator on the same Lease: only the leader writes, and the
follower takes over (and writes) once the leader stops renewing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client

from tenantops.act.base import OutcomeStatus
from tenantops.act.kubeclient import api_client
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.engine.lease import LeaseElector
from tenantops.structs.plan import ScaleAction
from tenantops_lab.sandbox.kube_api import KubeApiServer

from .builders import scale_action

pytestmark = pytest.mark.integration

NS, NAME = "tenant-acme", "api"


class Replica:
    def __init__(self, kube: KubeApiServer, identity: str, clock) -> None:
        self.elector = LeaseElector(client.CoordinationV1Api(api_client(kube.url)), "tenantops", "leader",
                                    identity, duration_seconds=15, clock=clock)
        self.actuator = KubernetesActuator.connect(kube.url)
        self.applied: list[OutcomeStatus] = []

    def run_pass(self, action: ScaleAction) -> None:
        if self.elector.try_acquire():
            self.applied.append(self.actuator.apply(action).status)


def test_only_the_leader_acts_and_the_follower_takes_over(kube_api: KubeApiServer) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    kube_api.add_namespace("tenantops")
    kube_api.add_deployment(NS, NAME, replicas=2)
    a, b = Replica(kube_api, "a", clock), Replica(kube_api, "b", clock)
    for desired in (3, 4, 5):
        a.run_pass(scale_action(NS, NAME, desired - 1, desired))
        b.run_pass(scale_action(NS, NAME, desired - 1, desired))
        now[0] += timedelta(seconds=10)
    assert a.applied == [OutcomeStatus.APPLIED] * 3 and b.applied == []
    assert kube_api.replicas(NS, NAME) == 5
    scale_writes = [r for r in kube_api.writes() if r.path.endswith("/scale")]
    assert len(scale_writes) == 3

    # a dies: b keeps trying and takes over once the lease has gone 15 s without a renewal
    b.run_pass(scale_action(NS, NAME, 5, 6))
    now[0] += timedelta(seconds=16)
    b.run_pass(scale_action(NS, NAME, 5, 6))
    assert b.applied == [OutcomeStatus.APPLIED]
    assert kube_api.replicas(NS, NAME) == 6
    assert kube_api.lease("tenantops", "leader")["spec"]["holderIdentity"] == "b"
