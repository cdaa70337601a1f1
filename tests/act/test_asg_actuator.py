"""AsgActuator against moto's server: scaling honours the group's bounds, reads are batched, throttling
is retried with bounded backoff (throttling answers are injected at botocore's HTTP layer, so the real
parser and our classification see a genuine AWS error document)."""

from __future__ import annotations

import contextlib

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from tenantops.act.asg import AsgActuator
from tenantops.act.base import OutcomeStatus
from tenantops.act.retry import CallFailed, RetryPolicy
from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind
from tenantops.structs.replicas import ReplicaCount

from .builders import RecordingSleep

pytestmark = pytest.mark.integration

THROTTLED = b"""<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"""


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object):
        yield self.body


class Throttler:
    """A botocore `before-send` handler: the next `count` calls of `operation` get a Throttling answer."""

    def __init__(self) -> None:
        self.remaining: dict[str, int] = {}
        self.calls: list[str] = []

    def __call__(self, request, **_: object):
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        operation = dict(part.split("=", 1) for part in body.split("&") if "=" in part).get("Action", "")
        self.calls.append(operation)
        answer = None
        if self.remaining.get(operation, 0) > 0:
            self.remaining[operation] -= 1
            answer = AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(THROTTLED))
        return answer


@pytest.fixture
def client(moto_server):
    return boto3.client("autoscaling", region_name=moto_server.region, endpoint_url=moto_server.endpoint_url,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


@pytest.fixture
def throttler(client) -> Throttler:
    handler = Throttler()
    client.meta.events.register("before-send.auto-scaling", handler)
    return handler


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def actuator(client, sleep: RecordingSleep) -> AsgActuator:
    return AsgActuator(client, retry=RetryPolicy(attempts=3, base_delay=0.1, max_delay=1.0), sleep=sleep)


def make_group(client, name: str, *, desired: int, min_size: int = 0, max_size: int = 10) -> None:
    with contextlib.suppress(client.exceptions.AlreadyExistsFault):
        client.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12c6146b",
                                           InstanceType="t3.micro")
    client.create_auto_scaling_group(AutoScalingGroupName=name, LaunchConfigurationName="lc", MinSize=min_size,
                                     MaxSize=max_size, DesiredCapacity=desired, AvailabilityZones=["us-east-1a"])


def desired_of(client, name: str) -> int:
    return client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
        "DesiredCapacity"]


def action(name: str, current: int, desired: int) -> ScaleAction:
    return ScaleAction(tenant="globex", workload="worker", target=ScaleTarget(TargetKind.ASG, name),
                       current=current, desired=desired, rule="test", reason="test scale")


@pytest.mark.parametrize(("start", "desired"), [(1, 4), (5, 2)])
def test_scale_up_and_down_are_applied(client, actuator: AsgActuator, start: int, desired: int) -> None:
    make_group(client, "g", desired=start)
    outcome = actuator.apply(action("g", start, desired))
    assert outcome.status is OutcomeStatus.APPLIED and outcome.observed == start
    assert outcome.detail == f"scaled {start} -> {desired}"
    assert desired_of(client, "g") == desired


def test_desired_is_clamped_to_the_groups_bounds(client, actuator: AsgActuator) -> None:
    make_group(client, "g", desired=2, min_size=1, max_size=3)
    outcome = actuator.apply(action("g", 2, 9))
    assert outcome.status is OutcomeStatus.APPLIED and "allows 1..3" in outcome.detail
    assert desired_of(client, "g") == 3
    again = actuator.apply(action("g", 3, 0))
    assert again.status is OutcomeStatus.APPLIED and desired_of(client, "g") == 1
    at_floor = actuator.apply(action("g", 1, 0))
    assert at_floor.status is OutcomeStatus.UNCHANGED


def test_idempotent_and_dry_run_make_no_write(client, actuator: AsgActuator, throttler: Throttler) -> None:
    make_group(client, "g", desired=2)
    throttler.calls.clear()
    assert actuator.apply(action("g", 2, 2)).status is OutcomeStatus.UNCHANGED
    dry = actuator.apply(action("g", 2, 6), dry_run=True)
    assert dry.status is OutcomeStatus.DRY_RUN and dry.observed == 2
    assert "SetDesiredCapacity" not in throttler.calls
    assert throttler.calls == ["DescribeAutoScalingGroups"] * 2
    assert desired_of(client, "g") == 2


def test_throttling_is_retried_with_backoff(client, actuator: AsgActuator, throttler: Throttler,
                                            sleep: RecordingSleep) -> None:
    make_group(client, "g", desired=1)
    throttler.remaining = {"DescribeAutoScalingGroups": 1, "SetDesiredCapacity": 1}
    outcome = actuator.apply(action("g", 1, 3))
    assert outcome.status is OutcomeStatus.APPLIED and outcome.attempts == 4
    assert sleep.delays == [0.1, 0.1]
    assert desired_of(client, "g") == 3


def test_persistent_throttling_is_bounded_and_retryable(client, actuator: AsgActuator, throttler: Throttler,
                                                        sleep: RecordingSleep) -> None:
    make_group(client, "g", desired=1)
    throttler.remaining = {"SetDesiredCapacity": 100}
    outcome = actuator.apply(action("g", 1, 3))
    assert outcome.status is OutcomeStatus.RETRYABLE and outcome.detail.startswith("Throttling")
    assert throttler.calls.count("SetDesiredCapacity") == 3
    assert sleep.delays == [0.1, 0.2]
    assert desired_of(client, "g") == 1


def test_missing_group_fails_without_retries(client, actuator: AsgActuator, sleep: RecordingSleep) -> None:
    outcome = actuator.apply(action("absent", 1, 2))
    assert outcome.status is OutcomeStatus.FAILED and "not found" in outcome.detail
    assert sleep.delays == []
    assert actuator.current(ScaleTarget(TargetKind.ASG, "absent")) is None


def test_describe_many_batches_names_and_reports_ready_counts(client, throttler: Throttler,
                                                              sleep: RecordingSleep) -> None:
    actuator = AsgActuator(client, sleep=sleep, describe_batch=5)
    names = [f"tenantops-dev-t{i:03d}-worker" for i in range(12)]
    for i, name in enumerate(names):
        make_group(client, name, desired=1 if i % 6 == 0 else 0)
    throttler.calls.clear()
    targets = [ScaleTarget(TargetKind.ASG, n) for n in [*names, "not-there", names[0]]]
    counts = actuator.describe_many(targets)
    assert throttler.calls == ["DescribeAutoScalingGroups"] * 3  # 13 distinct names, 5 per call
    assert len(counts) == 12 and ScaleTarget(TargetKind.ASG, "not-there") not in counts
    assert counts[targets[0]] == ReplicaCount(desired=1, ready=1)
    assert counts[targets[1]] == ReplicaCount(desired=0, ready=0)


def test_describe_batch_is_bounded_by_the_api_limit(client) -> None:
    with pytest.raises(ValueError):
        AsgActuator(client, describe_batch=51)


def test_describe_raises_when_the_api_stays_throttled(client, actuator: AsgActuator,
                                                      throttler: Throttler) -> None:
    make_group(client, "g", desired=1)
    throttler.remaining = {"DescribeAutoScalingGroups": 10}
    with pytest.raises(CallFailed):
        actuator.describe_many([ScaleTarget(TargetKind.ASG, "g")])


def test_connect_builds_a_working_client(moto_server) -> None:
    act = AsgActuator.connect(endpoint_url=moto_server.endpoint_url, region=moto_server.region)
    assert act.describe_groups(["none"]) == {}


def test_a_write_clamped_to_the_groups_bounds_is_audited_and_settled_as_written(client, actuator: AsgActuator) -> None:
    """Asked for 9 where the group allows 1..3, 3 was written; the audit row said new=9 and the scale event the
    autoscaler's rate limits count was +7 instead of +1."""
    from datetime import UTC, datetime

    from tenantops.engine.scale_effects import ScaleEffects

    make_group(client, "g", desired=2, min_size=1, max_size=3)
    effects = ScaleEffects({TargetKind.ASG: actuator})
    outcome = effects.apply(action("g", 2, 9), dry_run=False)
    row = effects.audit(outcome, datetime(2026, 3, 2, tzinfo=UTC))
    assert row is not None and (row.old, row.new) == (2, 3) and row.inputs["decided"] == 9
    made = effects.confirmed(outcome)
    assert made is not None and (made.current, made.desired) == (2, 3)
    assert desired_of(client, "g") == 3
