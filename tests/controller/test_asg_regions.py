"""A client per region: a silo tenant in eu-west-1 is observed and scaled in moto's eu-west-1, and a
group of the same name in us-east-1 is left alone."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from tenantops.act.asg import RegionalAsgActuator
from tenantops.act.base import OutcomeStatus
from tenantops.config import Config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.facts import FactsDecider
from tenantops.engine.reconcile import Reconciler, restrict
from tenantops.engine.root import register_actuators
from tenantops.observe.replicas import LiveReplicas
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind
from tenantops.structs.snapshot import Reading, Snapshot, WorkloadMetrics

pytestmark = pytest.mark.integration

GROUP = "tenantops-test-delta-api"  # delta is the silo tenant in eu-west-1


def _group(region: str, endpoint: str, desired: int) -> object:
    client = boto3.client("autoscaling", region_name=region, endpoint_url=endpoint)
    client.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12c6146b", InstanceType="t3.micro")
    client.create_auto_scaling_group(AutoScalingGroupName=GROUP, LaunchConfigurationName="lc", MinSize=0, MaxSize=30,
                                     DesiredCapacity=desired, AvailabilityZones=[f"{region}a"])
    return client


def _desired(client: object) -> int:
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])  # type: ignore[attr-defined]
    return int(groups["AutoScalingGroups"][0]["DesiredCapacity"])


class Busy:
    """A metrics source: delta's workload at heavy load (the live count comes from the group)."""

    def observe(self, config: Config, now: datetime, tenants: object = None) -> Snapshot:
        readings = {"cpu": Reading(40.0, sampled_at=now), "requests": Reading(400.0, sampled_at=now),
                    "memory": Reading(2e9, sampled_at=now), "cpu_request": Reading(1.0, sampled_at=now),
                    "memory_request": Reading(1e9, sampled_at=now), "replicas": Reading(3.0, sampled_at=now),
                    "ready_replicas": Reading(3.0, sampled_at=now)}
        return Snapshot(now, {("delta", "api"): WorkloadMetrics("delta", "api", readings)})


def test_silo_tenant_in_eu_west_1_is_scaled_there(moto_server, config: Config, tmp_path) -> None:
    eu = _group("eu-west-1", moto_server.endpoint_url, 3)
    us = _group("us-east-1", moto_server.endpoint_url, 7)  # same name, other region: must not be touched
    asg = RegionalAsgActuator.connect(endpoint_url=moto_server.endpoint_url, region="us-east-1")
    scoped = restrict(config, [config.tenant("delta")])
    with StateStore(tmp_path / "s.db") as store:
        reconciler = Reconciler(Busy(), store, [FactsDecider(), AutoscalingDecider()],
                                register_actuators({TargetKind.ASG: asg}),
                                replica_reader=LiveReplicas.of({TargetKind.ASG: asg}))
        result = reconciler.run_pass(scoped, datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    assert result.snapshot.reading("delta", "api", "replicas").value == 3.0  # read in eu-west-1
    (outcome,) = result.outcomes
    assert outcome.action.target.region == "eu-west-1"
    assert outcome.status is OutcomeStatus.APPLIED, outcome.detail
    assert _desired(eu) > 3
    assert _desired(us) == 7
    assert asg.regions == ["eu-west-1"]


def test_default_region_comes_from_the_standard_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert RegionalAsgActuator.connect().default_region == "ap-southeast-2"
    assert RegionalAsgActuator.connect(region="eu-central-1").default_region == "eu-central-1"
