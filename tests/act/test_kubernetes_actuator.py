"""KubernetesActuator against the API stand-in, through the official client."""

from __future__ import annotations

import logging
import time

import pytest

from tenantops.act.base import OutcomeStatus
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.act.retry import CallFailed, RetryPolicy
from tenantops.structs.plan import ScaleTarget, TargetKind
from tenantops_lab.sandbox.kube_api import KubeApiServer

from .builders import RecordingSleep, scale_action

NS, NAME = "tenant-acme", "api"
SCALE_PATH = f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}/scale"

pytestmark = pytest.mark.integration


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def actuator(kube_api: KubeApiServer, sleep: RecordingSleep):
    act = KubernetesActuator.connect(kube_api.url, retry=RetryPolicy(attempts=3, base_delay=0.1, max_delay=0.5,
                                                                      conflicts=2, timeout=0.5), sleep=sleep)
    yield act
    act.close()


def scale_writes(kube_api: KubeApiServer) -> list:
    return [r for r in kube_api.writes() if r.path == SCALE_PATH]


@pytest.mark.parametrize(("start", "desired"), [(2, 5), (6, 1), (3, 0)])
def test_scale_up_and_down_are_applied(kube_api: KubeApiServer, actuator: KubernetesActuator,
                                       start: int, desired: int) -> None:
    kube_api.add_deployment(NS, NAME, replicas=start)
    outcome = actuator.apply(scale_action(NS, NAME, start, desired))
    assert outcome.status is OutcomeStatus.APPLIED
    assert outcome.observed == start and outcome.attempts == 2
    assert kube_api.replicas(NS, NAME) == desired
    [write] = scale_writes(kube_api)
    assert write.method == "PATCH" and write.body["spec"] == {"replicas": desired}
    assert write.body["metadata"]["resourceVersion"]  # the write is conditional on the read
    assert write.query.get("fieldManager") == ["tenantops"]


def test_second_apply_of_the_same_action_writes_nothing(kube_api: KubeApiServer,
                                                        actuator: KubernetesActuator) -> None:
    kube_api.add_deployment(NS, NAME, replicas=2)
    action = scale_action(NS, NAME, 2, 4)
    assert actuator.apply(action).status is OutcomeStatus.APPLIED
    kube_api.clear_log()
    again = actuator.apply(action)
    assert again.status is OutcomeStatus.UNCHANGED and again.observed == 4
    assert kube_api.writes() == []
    assert [r.method for r in kube_api.requests()] == ["GET"]


def test_dry_run_reads_but_writes_nothing(kube_api: KubeApiServer, actuator: KubernetesActuator) -> None:
    kube_api.add_deployment(NS, NAME, replicas=2)
    revision = kube_api.revision
    outcome = actuator.apply(scale_action(NS, NAME, 2, 7), dry_run=True)
    assert outcome.status is OutcomeStatus.DRY_RUN and outcome.observed == 2
    assert "2 -> 7" in outcome.detail
    assert kube_api.writes() == [] and kube_api.revision == revision
    assert kube_api.replicas(NS, NAME) == 2


def test_conflict_is_retried_after_a_fresh_read(kube_api: KubeApiServer, actuator: KubernetesActuator,
                                                caplog: pytest.LogCaptureFixture) -> None:
    kube_api.add_deployment(NS, NAME, replicas=2)
    kube_api.inject(SCALE_PATH, 409, count=1, method="PATCH")
    with caplog.at_level(logging.INFO, logger="tenantops.act"):
        outcome = actuator.apply(scale_action(NS, NAME, 2, 3))
    assert outcome.status is OutcomeStatus.APPLIED
    assert [(r.method, r.status) for r in kube_api.requests(path_prefix=SCALE_PATH)] == [
        ("GET", 200), ("PATCH", 409), ("GET", 200), ("PATCH", 200)]
    assert outcome.attempts == 4
    assert kube_api.replicas(NS, NAME) == 3
    assert [getattr(r, "event", None) for r in caplog.records] == ["act.conflict", "act.applied"]


def test_real_stale_write_rereads_and_applies_on_the_new_version(kube_api: KubeApiServer,
                                                                 actuator: KubernetesActuator) -> None:
    """Another writer scales between our read and our write: the server's 409 makes us read again."""
    kube_api.add_deployment(NS, NAME, replicas=2)
    kube_api.on_request(SCALE_PATH, lambda: kube_api.set_replicas(NS, NAME, 5), method="PATCH")
    outcome = actuator.apply(scale_action(NS, NAME, 2, 4))
    assert outcome.status is OutcomeStatus.APPLIED and outcome.observed == 5
    assert "decision saw 2" in outcome.detail
    assert [r.status for r in kube_api.requests(method="PATCH")] == [409, 200]
    assert kube_api.replicas(NS, NAME) == 4


def test_another_writer_reaching_the_desired_replicas_first_means_no_write(kube_api: KubeApiServer,
                                                                           actuator: KubernetesActuator) -> None:
    kube_api.add_deployment(NS, NAME, replicas=2)
    kube_api.on_request(SCALE_PATH, lambda: kube_api.set_replicas(NS, NAME, 4), method="PATCH")
    outcome = actuator.apply(scale_action(NS, NAME, 2, 4))
    assert outcome.status is OutcomeStatus.UNCHANGED and "another writer" in outcome.detail
    assert [r.status for r in kube_api.requests(method="PATCH")] == [409]


def test_persistent_conflicts_end_retryable_after_bounded_rounds(kube_api: KubeApiServer,
                                                                 actuator: KubernetesActuator) -> None:
    kube_api.add_deployment(NS, NAME, replicas=2)
    kube_api.inject(SCALE_PATH, 409, count=10, method="PATCH")
    outcome = actuator.apply(scale_action(NS, NAME, 2, 3))
    assert outcome.status is OutcomeStatus.RETRYABLE
    assert len(kube_api.requests(method="PATCH")) == 3  # conflicts=2: three rounds in all
    assert kube_api.replicas(NS, NAME) == 2


@pytest.mark.parametrize("code", [429, 500, 503])
def test_transient_errors_are_retried_with_backoff_then_succeed(kube_api: KubeApiServer,
                                                                actuator: KubernetesActuator,
                                                                sleep: RecordingSleep, code: int) -> None:
    kube_api.add_deployment(NS, NAME, replicas=1)
    kube_api.inject(SCALE_PATH, code, count=2, method="PATCH")
    outcome = actuator.apply(scale_action(NS, NAME, 1, 2))
    assert outcome.status is OutcomeStatus.APPLIED and outcome.attempts == 4
    assert kube_api.replicas(NS, NAME) == 2
    if code == 429:  # Retry-After: 1 wins over the computed delay, capped at max_delay
        assert sleep.delays == [0.5, 0.5]
    else:
        assert sleep.delays == [0.1, 0.2]


def test_transient_errors_are_bounded_and_end_retryable(kube_api: KubeApiServer, actuator: KubernetesActuator,
                                                        sleep: RecordingSleep) -> None:
    kube_api.add_deployment(NS, NAME, replicas=1)
    kube_api.inject(SCALE_PATH, 500, count=100)
    outcome = actuator.apply(scale_action(NS, NAME, 1, 2))
    assert outcome.status is OutcomeStatus.RETRYABLE and "500" in outcome.detail
    assert len(kube_api.requests(path_prefix=SCALE_PATH)) == 3
    assert len(sleep.delays) == 2
    assert kube_api.replicas(NS, NAME) == 1


def test_a_hanging_server_is_a_bounded_timeout(kube_api: KubeApiServer, actuator: KubernetesActuator) -> None:
    kube_api.add_deployment(NS, NAME, replicas=1)
    kube_api.inject(SCALE_PATH, "hang", count=1, method="GET", hang_seconds=3)
    outcome = actuator.apply(scale_action(NS, NAME, 1, 2))
    assert outcome.status is OutcomeStatus.APPLIED  # the retry after the timeout went through
    assert kube_api.replicas(NS, NAME) == 2


def test_missing_deployment_fails_permanently_without_retries(kube_api: KubeApiServer,
                                                              actuator: KubernetesActuator,
                                                              sleep: RecordingSleep) -> None:
    kube_api.add_namespace(NS)
    outcome = actuator.apply(scale_action(NS, "ghost", 1, 2))
    assert outcome.status is OutcomeStatus.FAILED and "404" in outcome.detail
    assert sleep.delays == [] and len(kube_api.requests()) == 1
    assert actuator.current(ScaleTarget(TargetKind.KUBERNETES, "ghost", NS)) is None


def test_current_reads_the_scale_and_raises_when_the_api_stays_down(kube_api: KubeApiServer,
                                                                    actuator: KubernetesActuator) -> None:
    kube_api.add_deployment(NS, NAME, replicas=3)
    target = ScaleTarget(TargetKind.KUBERNETES, NAME, NS)
    assert actuator.current(target) == 3
    kube_api.inject(SCALE_PATH, 503, count=10)
    with pytest.raises(CallFailed):
        actuator.current(target)


def test_targets_of_other_kinds_or_without_namespace_fail_cleanly(kube_api: KubeApiServer,
                                                                  actuator: KubernetesActuator) -> None:
    wrong = scale_action(NS, NAME, 1, 2)
    asg = type(wrong)(**{**{f: getattr(wrong, f) for f in wrong.__dataclass_fields__},
                         "target": ScaleTarget(TargetKind.ASG, "group")})
    assert actuator.apply(asg).status is OutcomeStatus.FAILED
    no_ns = type(wrong)(**{**{f: getattr(wrong, f) for f in wrong.__dataclass_fields__},
                           "target": ScaleTarget(TargetKind.KUBERNETES, NAME)})
    assert actuator.apply(no_ns).status is OutcomeStatus.FAILED
    assert kube_api.requests() == []


def test_unreachable_server_is_retryable(sleep: RecordingSleep) -> None:
    server = KubeApiServer().start()
    url = server.url
    server.stop()
    act = KubernetesActuator.connect(url, retry=RetryPolicy(attempts=2, base_delay=0.01), sleep=sleep)
    outcome = act.apply(scale_action(NS, NAME, 1, 2))
    assert outcome.status is OutcomeStatus.RETRYABLE and outcome.attempts == 2


def test_an_apply_ends_within_the_deadline_the_fence_was_asked_about(kube_api: KubeApiServer) -> None:
    """The fence starts a call only while the Lease outlasts `call_deadline`; an apply is a read and a write
    per round, each retried, and a new round after each conflict. Slow answers and another writer in every
    round made one apply take several deadlines, its last write landing after the Lease it was fenced by
    could have passed to another replica. Requests start only while they can end in time."""
    act = KubernetesActuator.connect(kube_api.url, retry=RetryPolicy(attempts=3, base_delay=0.1, max_delay=0.2,
                                                                      conflicts=3, timeout=0.25))
    kube_api.add_deployment(NS, NAME, replicas=1)
    rounds: list[int] = []

    def slow_round() -> None:  # each round: two timed-out reads, two timed-out writes, then a conflict
        kube_api.inject(SCALE_PATH, "hang", count=2, method="GET", hang_seconds=2)
        kube_api.inject(SCALE_PATH, "hang", count=2, method="PATCH", hang_seconds=2)
        kube_api.on_request(SCALE_PATH, conflict, count=1, method="PATCH")

    def conflict() -> None:
        rounds.append(1)
        kube_api.set_replicas(NS, NAME, 1 + len(rounds))
        slow_round()

    slow_round()
    started = time.monotonic()
    outcome = act.apply(scale_action(NS, NAME, 1, 9))
    took = time.monotonic() - started
    act.close()
    assert took <= act.call_deadline + 0.3, f"{took:.2f}s for a {act.call_deadline:.2f}s deadline"
    assert outcome.status is OutcomeStatus.RETRYABLE and "deadline" in outcome.detail
    assert kube_api.replicas(NS, NAME) != 9
