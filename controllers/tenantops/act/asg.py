"""Scales silo tenants' AWS Auto Scaling groups, and describes many groups in a few calls.

The desired capacity is clamped to the group's own MinSize/MaxSize before writing: AWS rejects values
outside them with a ValidationError, and the group's bounds (set by the Pulumi program) are the
tenant's contract, so the controller honours them and says so in the outcome rather than failing.

Reads are batched (`describe_auto_scaling_groups` takes up to 50 names per call here, paginated), so
observing 1,000 silo workloads costs ~20 requests, not 1,000. botocore's own retries are switched off:
throttling (`Throttling`, `RequestLimitExceeded`), 5xx and timeouts get this module's bounded backoff,
and what outlasts it becomes a RETRYABLE outcome for the next pass.

Auto Scaling is a regional API: a group in eu-west-1 does not exist for a us-east-1 client. Each silo
tenant's groups live in the tenant's `region` (carried by the target), so `RegionalAsgActuator` keeps
one client per region, made on first use from the standard credential chain (environment, profile,
container or instance role), with the region the target names or, for a target without one, the
default region of that chain (`AWS_REGION`/`AWS_DEFAULT_REGION`, the profile) or of the settings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from tenantops.act.base import ActOutcome, OutcomeStatus
from tenantops.act.retry import (
    CallCounter,
    CallFailed,
    Classified,
    ErrorClass,
    RetryPolicy,
    call_with_retry,
    finish,
    status_of,
)
from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind
from tenantops.structs.replicas import ReplicaCount

log = logging.getLogger(__name__)

DESCRIBE_BATCH = 50  # names per describe_auto_scaling_groups call

_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
    "ServiceUnavailable", "InternalFailure", "InternalError", "RequestTimeout",
    "ScalingActivityInProgress", "ResourceContention",
})


def classify_aws_error(exc: BaseException) -> Classified | None:
    """Throttling, contention, 5xx and connection trouble are transient; other API errors permanent."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        what = f"{code}: {error.get('Message', '')}".strip()
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return Classified(ErrorClass.TRANSIENT, what)
        return Classified(ErrorClass.PERMANENT, what)
    if isinstance(exc, ConnectionError | HTTPClientError):
        return Classified(ErrorClass.TRANSIENT, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, BotoCoreError):
        return Classified(ErrorClass.PERMANENT, f"{type(exc).__name__}: {exc}")
    return None


@dataclass(frozen=True, slots=True)
class GroupState:
    """What one Auto Scaling group looks like now."""

    name: str
    desired: int
    min_size: int
    max_size: int
    in_service: int  # instances InService and Healthy: the group's "ready" count

    def clamp(self, desired: int) -> int:
        return max(self.min_size, min(self.max_size, desired))


def _group_state(group: dict[str, Any]) -> GroupState:
    ready = sum(1 for instance in group.get("Instances", [])
                if instance.get("LifecycleState") == "InService" and instance.get("HealthStatus") == "Healthy")
    return GroupState(group["AutoScalingGroupName"], int(group["DesiredCapacity"]), int(group["MinSize"]),
                      int(group["MaxSize"]), ready)


def _chunks(names: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(names), size):
        yield list(names[start:start + size])


class AsgActuator:
    """Applies scale actions to Auto Scaling groups and reads many groups at once for the observe step."""

    kind = TargetKind.ASG

    def __init__(self, client: Any, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, describe_batch: int = DESCRIBE_BATCH) -> None:
        if not 1 <= describe_batch <= DESCRIBE_BATCH:
            raise ValueError(f"describe_batch must be 1..{DESCRIBE_BATCH}")
        self._client = client
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._batch = describe_batch

    @classmethod
    def connect(cls, *, endpoint_url: str | None = None, region: str = "us-east-1",
                retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep) -> AsgActuator:
        """A client for `region`, at `endpoint_url` when given (TENANTOPS_AWS_ENDPOINT_URL, e.g. moto)."""
        policy = retry or RetryPolicy()
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                        connect_timeout=policy.timeout, read_timeout=policy.timeout)
        client = boto3.client("autoscaling", region_name=region, endpoint_url=endpoint_url, config=config)
        return cls(client, retry=policy, sleep=sleep)

    def _call(self, counter: CallCounter, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._client, operation)
        result: dict[str, Any] = call_with_retry(lambda: method(**kwargs), classify_aws_error, self._retry,
                                                 sleep=self._sleep, counter=counter)
        return result

    @property
    def call_deadline(self) -> float:
        """Seconds one `apply` may take at most: a describe and a write, each as long as its retry policy
        lets a request take (`RetryPolicy.deadline`). Its requests start only while they can end within it."""
        return 2 * self._retry.deadline

    # ------------------------------------------------------------------ reading

    def describe_groups(self, names: Sequence[str], *, counter: CallCounter | None = None) -> dict[str, GroupState]:
        """Every named group that exists, in ceil(n / batch) calls (plus pages); absent names are left out.

        Raises CallFailed when the API stays unavailable: the observe step must not read "no groups" as
        "all groups are gone".
        """
        counter = counter or CallCounter()
        unique = list(dict.fromkeys(names))
        found: dict[str, GroupState] = {}
        for batch in _chunks(unique, self._batch):
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {"AutoScalingGroupNames": batch, "MaxRecords": self._batch}
                if token:
                    kwargs["NextToken"] = token
                page = self._call(counter, "describe_auto_scaling_groups", **kwargs)
                for group in page.get("AutoScalingGroups", []):
                    state = _group_state(group)
                    found[state.name] = state
                token = page.get("NextToken")
                if not token:
                    break
        return found

    def describe_many(self, targets: Sequence[ScaleTarget]) -> dict[ScaleTarget, ReplicaCount]:
        """Desired and ready counts for many ASG targets at once (the observe step's `ReplicaReader`)."""
        groups = self.describe_groups([t.name for t in targets if t.kind is TargetKind.ASG])
        return {t: ReplicaCount(groups[t.name].desired, groups[t.name].in_service)
                for t in targets if t.kind is TargetKind.ASG and t.name in groups}

    def current(self, target: ScaleTarget) -> int | None:
        state = self.describe_groups([target.name]).get(target.name)
        return None if state is None else state.desired

    def written_for(self, target: ScaleTarget, desired: int) -> tuple[int, int] | None:
        """The group's count now and the count `apply` writes for `desired` (clamped to its bounds), for
        reading back an intent whose outcome was never recorded; None when the group does not exist."""
        state = self.describe_groups([target.name]).get(target.name)
        return None if state is None else (state.desired, state.clamp(desired))

    # ------------------------------------------------------------------ writing

    def apply(self, action: ScaleAction, *, dry_run: bool = False) -> ActOutcome:
        """Describe, clamp to the group's bounds, write only when different. Never raises for API errors."""
        counter = CallCounter.within(self.call_deadline)
        observed: int | None = None
        if action.target.kind is not TargetKind.ASG:
            return finish(action, OutcomeStatus.FAILED, None, counter,
                          f"target kind {action.target.kind} is not handled by the ASG actuator", log)
        try:
            state = self.describe_groups([action.target.name], counter=counter).get(action.target.name)
            if state is None:
                return finish(action, OutcomeStatus.FAILED, None, counter,
                              f"Auto Scaling group {action.target.name} not found", log)
            observed = state.desired
            desired = state.clamp(action.desired)
            clamp_note = "" if desired == action.desired else \
                f" (asked {action.desired}; the group allows {state.min_size}..{state.max_size})"
            if desired == observed:
                return finish(action, OutcomeStatus.UNCHANGED, observed, counter,
                              f"already at {observed}{clamp_note}", log)
            if dry_run:
                return finish(action, OutcomeStatus.DRY_RUN, observed, counter,
                              f"would scale {observed} -> {desired}{clamp_note}", log)
            self._call(counter, "set_desired_capacity", AutoScalingGroupName=action.target.name,
                       DesiredCapacity=desired, HonorCooldown=False)
            return finish(action, OutcomeStatus.APPLIED, observed, counter,
                          f"scaled {observed} -> {desired}{clamp_note}", log, written=desired)
        except CallFailed as failed:
            return finish(action, status_of(failed), observed, counter, failed.classified.detail, log)


ClientFactory = Callable[[str], AsgActuator]


class RegionalAsgActuator:
    """Routes each Auto Scaling target to the actuator of its region; also the observe step's reader."""

    kind = TargetKind.ASG

    def __init__(self, factory: ClientFactory, default_region: str) -> None:
        self._factory = factory
        self.default_region = default_region
        self._by_region: dict[str, AsgActuator] = {}
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, *, endpoint_url: str | None = None, region: str | None = None,
                retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep) -> RegionalAsgActuator:
        """Clients from the standard chain; `endpoint_url` (TENANTOPS_AWS_ENDPOINT_URL, e.g. moto) for all
        regions. `region` is the default for targets without one (else the chain's, else us-east-1)."""
        default = region or boto3.session.Session().region_name or "us-east-1"
        return cls(lambda name: AsgActuator.connect(endpoint_url=endpoint_url, region=name, retry=retry,
                                                    sleep=sleep), default)

    def for_region(self, region: str | None) -> AsgActuator:
        name = region or self.default_region
        with self._lock:
            found = self._by_region.get(name)
            if found is None:
                found = self._by_region[name] = self._factory(name)
        return found

    @property
    def regions(self) -> list[str]:
        """Regions a client was made for so far."""
        with self._lock:
            return sorted(self._by_region)

    def describe_many(self, targets: Sequence[ScaleTarget]) -> dict[ScaleTarget, ReplicaCount]:
        """All regions' counts; raises if any region cannot be read (`LiveReplicas` groups by region first,
        so there one region's failure stays with its own targets)."""
        by_region: dict[str | None, list[ScaleTarget]] = {}
        for target in targets:
            by_region.setdefault(target.region, []).append(target)
        out: dict[ScaleTarget, ReplicaCount] = {}
        for region, group in by_region.items():
            out.update(self.for_region(region).describe_many(group))
        return out

    def current(self, target: ScaleTarget) -> int | None:
        return self.for_region(target.region).current(target)

    def written_for(self, target: ScaleTarget, desired: int) -> tuple[int, int] | None:
        return self.for_region(target.region).written_for(target, desired)

    @property
    def call_deadline(self) -> float:
        return self.for_region(None).call_deadline

    def apply(self, action: ScaleAction, *, dry_run: bool = False) -> ActOutcome:
        return self.for_region(action.target.region).apply(action, dry_run=dry_run)
