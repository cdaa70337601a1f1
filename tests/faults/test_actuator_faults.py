"""Kubernetes API 409/429/500/timeouts and AWS throttling, injected under whole passes.

Each pass scales every workload of a five-tenant catalogue through the real Reconciler and actuators;
one tenant's target is faulted. What must hold: a bounded number of tries with bounded backoff, no
duplicate writes (the stand-in's request log, moto's state), no exception escaping the pass, the other
tenants scaled in the same pass, and the faulted one applied on the next pass once the fault clears.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config as BotoConfig

from tenantops.act.asg import AsgActuator
from tenantops.act.base import OutcomeStatus
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.act.retry import RetryPolicy
from tenantops.config import Config, load_config
from tenantops.config.catalog import Tenant
from tenantops.decide.base import DeciderOutput, PassInput
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.targets import target_for
from tenantops.record.store import StateStore
from tenantops.structs.plan import ScaleAction, TargetKind
from tenantops.structs.snapshot import Snapshot, WorkloadMetrics

from .conftest import FaultLedger
from .helpers import write_config

pytestmark = pytest.mark.integration

NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"]
START, DESIRED = 2, 5
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2, conflicts=2, timeout=0.5)
KUBE = "Kubernetes API 409/429/500/timeout"
AWS = "AWS throttling"


def _tenants(isolation: str) -> list[dict[str, Any]]:
    return [{"id": n, "tier": "pro", "isolation": isolation, "region": "us-east-1", "budget_usd_month": 500,
             "contacts": [f"ops@{n}.example"], "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 20}]}
            for n in NAMES]


class NoMetrics:
    """The metrics side is not under test here: an empty snapshot."""

    def observe(self, config: Config, now: datetime, tenants: list[Tenant] | None = None) -> Snapshot:
        chosen = config.tenants if tenants is None else tenants
        return Snapshot(now, {(t.id, w.name): WorkloadMetrics(t.id, w.name, {}) for t in chosen for w in t.workloads})


class ScaleEveryone:
    """Wants DESIRED replicas for every workload, stating the current count it read last (START)."""

    name = "scale-everyone"

    def __init__(self, current: Mapping[str, int] | None = None) -> None:
        self.current = dict(current or {})

    def decide(self, inp: PassInput, state: Mapping[str, Any]) -> DeciderOutput:
        env = inp.config.catalog.environment
        return DeciderOutput(scale=tuple(
            ScaleAction(t.id, w.name, target_for(env, t, w.name), self.current.get(t.id, START), DESIRED, "test",
                        "fault suite") for t in inp.config.tenants for w in t.workloads))


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _path(tenant: str) -> str:
    return f"/apis/apps/v1/namespaces/tenant-{tenant}/deployments/api/scale"


@pytest.mark.parametrize("status", [409, 429, 500, 503, "hang"])
@pytest.mark.parametrize("persistent", [False, True])
def test_kubernetes_faults_on_one_tenant(status: int | str, persistent: bool, kube_api, tmp_path: Path,
                                         fault_ledger: FaultLedger) -> None:
    config = load_config(*write_config(tmp_path, _tenants("pool")))
    for n in NAMES:
        kube_api.add_deployment(f"tenant-{n}", "api", replicas=START)
    sleeps = Sleeps()
    actuator = KubernetesActuator.connect(kube_api.url, retry=POLICY, sleep=sleeps)
    label = f"{status} {'persistent' if persistent else 'once'}"
    kube_api.inject(_path("alpha"), status, count=100 if persistent else 1, method="PATCH", hang_seconds=1.0)
    with StateStore(tmp_path / "s.db") as store:
        reconciler = Reconciler(NoMetrics(), store, [ScaleEveryone()],
                                register_actuators({TargetKind.KUBERNETES: actuator}))
        try:
            result = reconciler.run_pass(config, NOW)
        except Exception as exc:  # what must not happen
            fault_ledger.case(KUBE, False, f"{label}: pass raised {type(exc).__name__}: {exc}")
            raise
        fault_ledger.case(KUBE, True, f"{label}: pass completed")
        by = {o.action.tenant: o for o in result.outcomes}
        others = all(by[n].status is OutcomeStatus.APPLIED and kube_api.replicas(f"tenant-{n}", "api") == DESIRED
                     for n in NAMES[1:])
        assert fault_ledger.case(KUBE, others, f"{label}: others {[(n, by[n].status.value) for n in NAMES[1:]]}")
        alpha_writes = kube_api.writes(_path("alpha"))
        alpha_tries = kube_api.requests(method="PATCH", path_prefix=_path("alpha"))
        bounded = len(alpha_tries) <= POLICY.attempts * (POLICY.conflicts + 1) and len(alpha_writes) <= 1
        assert fault_ledger.case(KUBE, bounded, f"{label}: {len(alpha_tries)} PATCH tries, {len(alpha_writes)} writes")
        backoff = all(0 <= d <= POLICY.max_delay for d in sleeps.delays) and len(sleeps.delays) <= 2 * len(alpha_tries)
        assert fault_ledger.case(KUBE, backoff, f"{label}: delays {sleeps.delays}")
        if persistent:
            ok = by["alpha"].status in (OutcomeStatus.FAILED, OutcomeStatus.RETRYABLE) and not alpha_writes \
                and kube_api.replicas("tenant-alpha", "api") == START
        else:
            ok = by["alpha"].status is OutcomeStatus.APPLIED and len(alpha_writes) == 1
        assert fault_ledger.case(KUBE, ok, f"{label}: alpha {by['alpha'].status.value} {by['alpha'].detail}")
        # next pass, fault gone: alpha catches up; nobody else is written again
        kube_api.clear_faults()
        kube_api.clear_log()
        # the plan still states the old count for everyone: the actuators must see the targets are done
        again = reconciler.run_pass(config, NOW)
        writes = kube_api.writes()
        expected = [] if not persistent else [_path("alpha")]
        dup_free = [w.path for w in writes] == expected and kube_api.replicas("tenant-alpha", "api") == DESIRED
        assert fault_ledger.case(KUBE, dup_free, f"{label}: next pass wrote {[w.path for w in writes]}; "
                                                 f"{[o.status.value for o in again.outcomes]}")
    actuator.close()


class GroupThrottler:
    """A botocore `before-send` hook: SetDesiredCapacity (or Describe) calls naming `group` are throttled."""

    BODY = (b'<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>'
            b"<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>")

    def __init__(self) -> None:
        self.budget: dict[str, int] = {}
        self.calls: list[tuple[str, str]] = []

    def __call__(self, request: Any, **_: object) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        fields = dict(part.split("=", 1) for part in body.split("&") if "=" in part)
        operation = fields.get("Action", "")
        group = fields.get("AutoScalingGroupName") or fields.get("AutoScalingGroupNames.member.1", "")
        self.calls.append((operation, group))
        for key in (f"{operation}:{group}", operation):
            if self.budget.get(key, 0) > 0:
                self.budget[key] -= 1
                raw = type("Raw", (), {"stream": lambda _s, **__: iter([self.BODY])})()
                return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, raw)
        return None


@pytest.mark.parametrize("mode", ["set-once", "set-persistent", "describe-once", "describe-persistent"])
def test_aws_throttling_on_one_group(mode: str, moto_server, tmp_path: Path, fault_ledger: FaultLedger) -> None:
    config = load_config(*write_config(tmp_path, _tenants("silo")))
    client = boto3.client("autoscaling", region_name=moto_server.region, endpoint_url=moto_server.endpoint_url,
                          config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}))
    with contextlib.suppress(client.exceptions.AlreadyExistsFault):
        client.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12c6146b",
                                           InstanceType="t3.micro")
    groups = {n: target_for("test", next(t for t in config.tenants if t.id == n), "api").name for n in NAMES}
    for g in groups.values():
        client.create_auto_scaling_group(AutoScalingGroupName=g, LaunchConfigurationName="lc", MinSize=0,
                                         MaxSize=10, DesiredCapacity=START, AvailabilityZones=["us-east-1a"])
    throttler = GroupThrottler()
    client.meta.events.register("before-send.auto-scaling", throttler)
    sleeps = Sleeps()
    actuator = AsgActuator(client, retry=POLICY, sleep=sleeps, describe_batch=1)
    operation = "SetDesiredCapacity" if mode.startswith("set") else "DescribeAutoScalingGroups"
    throttler.budget[f"{operation}:{groups['alpha']}"] = 100 if mode.endswith("persistent") else 1

    def desired(name: str) -> int:
        found = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        return int(found[0]["DesiredCapacity"])

    with StateStore(tmp_path / "s.db") as store:
        reconciler = Reconciler(NoMetrics(), store, [ScaleEveryone()], register_actuators({TargetKind.ASG: actuator}))
        try:
            result = reconciler.run_pass(config, NOW)
        except Exception as exc:
            fault_ledger.case(AWS, False, f"{mode}: pass raised {type(exc).__name__}: {exc}")
            raise
        fault_ledger.case(AWS, True, f"{mode}: pass completed")
        throttler.budget.clear()
        by = {o.action.tenant: o for o in result.outcomes}
        applied = [n for n in NAMES if by[n].status is OutcomeStatus.APPLIED and desired(groups[n]) == DESIRED]
        if mode.endswith("persistent"):
            ok = applied == NAMES[1:] and desired(groups["alpha"]) == START
        else:
            ok = applied == NAMES
        assert fault_ledger.case(AWS, ok, f"{mode}: applied {applied}; {[(n, by[n].detail) for n in NAMES]}")
        sets = [g for op, g in throttler.calls if op == "SetDesiredCapacity"]
        tries_alpha = sets.count(groups["alpha"])
        bounded = tries_alpha <= POLICY.attempts and all(sets.count(groups[n]) == 1 for n in NAMES[1:]) \
            and all(0 <= d <= POLICY.max_delay for d in sleeps.delays)
        assert fault_ledger.case(AWS, bounded, f"{mode}: alpha set {tries_alpha} times; delays {sleeps.delays}")
        throttler.calls.clear()
        reconciler.run_pass(config, NOW)  # the next pass: the stated current is stale, the groups are not
        resets = [g for op, g in throttler.calls if op == "SetDesiredCapacity"]
        caught_up = all(desired(g) == DESIRED for g in groups.values()) and len(resets) == len(set(resets)) \
            and set(resets) <= {groups["alpha"]}
        assert fault_ledger.case(AWS, caught_up, f"{mode}: next pass set {resets}")
