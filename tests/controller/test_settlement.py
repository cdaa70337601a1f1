"""Decision state is committed only from a confirmed outcome, by one mechanism for every effect type
(`engine.settlement`): after the act stage from each outcome, after a restart from each intent read back,
and for an effect the guard stage left out of the plan as not made. What the state becomes is always the
concern's own rule (`decide.base.Confirms`).

The concern below proposes one scale action and one request patch, each naming a key of its state, and
its rule stores a record of every call. So any effect type whose state were committed some other way
(an actuator committing a patch's `on_applied`, the reconciler settling scale changes itself, a recovery
path of its own) leaves a value that is not the rule's and fails these tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tenantops.act.base import ActOutcome, OutcomeStatus
from tenantops.act.requests import PatchOutcome
from tenantops.config import Config
from tenantops.decide.base import KEEP, DeciderOutput, JsonValue, PassInput, confirm_applied
from tenantops.engine import intents
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops.structs.plan import Effect, ScaleAction, ScaleTarget, TargetKind
from tenantops.structs.requests import RequestPatch

from .conftest import MemoryActuator, StaticSource

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
API = ScaleTarget(TargetKind.KUBERNETES, "api", "tenant-alpha")
SCALE_KEY, PATCH_KEY = "alpha/api", "alpha/api:requests"


class Confirming:
    """Proposes alpha/api 2 → 5 (the change left proposed in its state) and a request patch, in the pass
    at `T0` only; its confirmation rule stores what it was asked (kind, made, the committed value, when)."""

    name = "confirming"

    def __init__(self) -> None:
        self.asked: list[tuple[str, bool, datetime]] = []

    def decide(self, inp: PassInput, state: Mapping[str, Any]) -> DeciderOutput:
        if inp.now != T0:
            return DeciderOutput()
        scale = ScaleAction("alpha", "api", API, 2, 5, "test", "more load", state_key=SCALE_KEY)
        patch = RequestPatch("alpha", "api", "tenant-alpha", "api", {"cpu": "250m"}, "test", state_key=PATCH_KEY,
                             on_applied={"cpu": 0.25})
        return DeciderOutput(scale=(scale,), patches=(patch,), state={SCALE_KEY: {"proposed": 3}})

    def confirm(self, proposed: Effect, made: Effect | None, at: datetime, state: JsonValue,
                tried: bool = True) -> JsonValue:
        self.asked.append((type(proposed).__name__, made is not None, at))
        moved = made.desired - made.current if isinstance(made, ScaleAction) else None
        return {"rule": type(proposed).__name__, "made": made is not None, "moved": moved, "was": state,
                "at": at.isoformat()}


class Requests:
    """An in-memory requests client (the `RequestActuator` protocol), refusing every patch when `refuse`."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.requests: dict[str, dict[str, str]] = {"api": {"cpu": "500m"}}

    def apply(self, patch: RequestPatch, *, dry_run: bool = False) -> PatchOutcome:
        before = {c: dict(r) for c, r in self.requests.items()}
        if before["api"] == dict(patch.requests):
            return PatchOutcome(patch, OutcomeStatus.UNCHANGED, before, before)
        if self.refuse:
            return PatchOutcome(patch, OutcomeStatus.FAILED, before, before, detail="admission webhook denied")
        if dry_run:
            return PatchOutcome(patch, OutcomeStatus.DRY_RUN, before, {"api": dict(patch.requests)})
        self.requests["api"] = dict(patch.requests)
        return PatchOutcome(patch, OutcomeStatus.APPLIED, before, {"api": dict(patch.requests)})


class Stopped(BaseException):
    """The controller stopped mid-call (as a SIGKILL leaves it: no outcome recorded, not an actuator error)."""


class StopsAfterWriting(MemoryActuator):
    def apply(self, action: ScaleAction, *, dry_run: bool = False) -> ActOutcome:
        super().apply(action, dry_run=dry_run)
        raise Stopped


def _reconciler(store: StateStore, scale: MemoryActuator, requests: Requests, *deciders: Any) -> Reconciler:
    return Reconciler(StaticSource({("alpha", "api"): (40.0, 2)}), store, list(deciders),
                      register_actuators({TargetKind.KUBERNETES: scale}, requests))


def test_every_effect_type_is_settled_by_its_concerns_rule_from_the_outcome(config: Config) -> None:
    store, decider = StateStore(":memory:"), Confirming()
    scale = MemoryActuator(TargetKind.KUBERNETES, {API: 2})
    result = _reconciler(store, scale, Requests(), decider).run_pass(config, T0)
    assert [o.status for o in (*result.outcomes, *result.patch_outcomes)] == [OutcomeStatus.APPLIED] * 2
    assert store.state("confirming") == {
        SCALE_KEY: {"rule": "ScaleAction", "made": True, "moved": 3, "was": {"proposed": 3}, "at": T0.isoformat()},
        PATCH_KEY: {"rule": "RequestPatch", "made": True, "moved": None, "was": None, "at": T0.isoformat()},
    }
    assert store.state(intents.STATE) == {}


def test_outcomes_that_made_nothing_are_settled_as_not_made(config: Config) -> None:
    store, decider = StateStore(":memory:"), Confirming()
    scale = MemoryActuator(TargetKind.KUBERNETES, {API: 2}, fail=[API])
    result = _reconciler(store, scale, Requests(refuse=True), decider).run_pass(config, T0)
    assert [o.status for o in (*result.outcomes, *result.patch_outcomes)] == [OutcomeStatus.FAILED] * 2
    assert sorted(decider.asked) == [("RequestPatch", False, T0), ("ScaleAction", False, T0)]
    state = store.state("confirming")
    assert state[SCALE_KEY]["made"] is False and state[SCALE_KEY]["was"] == {"proposed": 3}
    assert state[PATCH_KEY]["made"] is False


def test_a_dry_run_settles_nothing(config: Config) -> None:
    store, decider = StateStore(":memory:"), Confirming()
    _reconciler(store, MemoryActuator(TargetKind.KUBERNETES, {API: 2}), Requests(), decider).run_pass(
        config, T0, dry_run=True)
    assert decider.asked == [] and store.state("confirming") == {}


class Tracking:
    """Another concern scaling alpha/api, registered first: it wins the workload (`_merge_actions`)."""

    name = "tracking"

    def decide(self, inp: PassInput, state: Mapping[str, Any]) -> DeciderOutput:
        return DeciderOutput(scale=(ScaleAction("alpha", "api", API, 2, 4, "test", "its own reason"),))


def test_an_effect_left_out_of_the_plan_is_settled_as_not_made(config: Config) -> None:
    store, decider = StateStore(":memory:"), Confirming()
    scale = MemoryActuator(TargetKind.KUBERNETES, {API: 2})
    _reconciler(store, scale, Requests(), Tracking(), decider).run_pass(config, T0)
    assert scale.replicas[API] == 4  # the other concern's write was made, not this one's
    assert store.state("confirming")[SCALE_KEY]["made"] is False


def test_after_a_restart_each_intent_read_back_is_settled_by_the_same_rule(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    scale, requests = StopsAfterWriting(TargetKind.KUBERNETES, {API: 2}), Requests()
    with StateStore(path) as store, pytest.raises(Stopped):
        _reconciler(store, scale, requests, Confirming()).run_pass(config, T0)
    assert scale.replicas[API] == 5 and requests.requests["api"] == {"cpu": "500m"}  # scaled; never patched

    decider = Confirming()
    with StateStore(path) as store:
        assert set(store.state(intents.STATE)) == {f"scale:{API}", "requests:tenant-alpha/api"}
        assert store.state("confirming") == {SCALE_KEY: {"proposed": 3}}  # as committed with the plan
        live = MemoryActuator(TargetKind.KUBERNETES, dict(scale.replicas))
        _reconciler(store, live, requests, decider).run_pass(config, T0 + timedelta(seconds=30))
        assert sorted(decider.asked) == [("RequestPatch", False, T0), ("ScaleAction", True, T0)]
        assert store.state("confirming") == {
            SCALE_KEY: {"rule": "ScaleAction", "made": True, "moved": 3, "was": {"proposed": 3},
                        "at": T0.isoformat()},
            PATCH_KEY: {"rule": "RequestPatch", "made": False, "moved": None, "was": None, "at": T0.isoformat()},
        }
        assert store.state(intents.STATE) == {}
        rules = sorted(e.rule for e in audit.query(store.connection, kind="act"))
    assert rules == ["recovered-applied", "recovered-not-applied"]


def test_a_concern_without_a_rule_of_its_own_commits_a_patch_once_in_effect() -> None:
    patch = RequestPatch("alpha", "api", "tenant-alpha", "api", {"cpu": "250m"}, "test", state_key=PATCH_KEY,
                         on_applied={"cpu": 0.25}, concern="resizing")
    assert confirm_applied(patch, patch, T0, None) == {"cpu": 0.25}
    assert confirm_applied(patch, None, T0, {"cpu": 0.5}) is KEEP  # not in effect: proposed again next pass
    action = ScaleAction("alpha", "api", API, 2, 5, "test", "", state_key=SCALE_KEY, concern="tracking")
    assert confirm_applied(action, action, T0, {"proposed": 3}) is KEEP  # no rule for its state: left as it is


GROUP = ScaleTarget(TargetKind.ASG, "delta-api", region="us-east-1")


class ClampedConfirming(Confirming):
    """Proposes the silo workload delta/api 2 → 9 on its Auto Scaling group (which allows 1..3), at `T0` only."""

    def decide(self, inp: PassInput, state: Mapping[str, Any]) -> DeciderOutput:
        if inp.now != T0:
            return DeciderOutput()
        scale = ScaleAction("delta", "api", GROUP, 2, 9, "test", "more load", state_key=SCALE_KEY)
        return DeciderOutput(scale=(scale,), state={SCALE_KEY: {"proposed": 7}})


def test_a_clamped_asg_write_cut_off_before_its_outcome_is_recovered_as_applied(
    config: Config, tmp_path: Path, moto_server: Any
) -> None:
    """Asked 9 of a group that allows 1..3, the actuator wrote 3 and the controller stopped as the answer came
    back. The restart read the group's 3 against the intended 9 and audited the write as never made, so its
    concern settled no scale event for a write the group took."""
    import boto3
    from botocore.config import Config as BotoConfig

    from tenantops.act.asg import AsgActuator

    def stopped(**_: object) -> None:
        raise Stopped  # the write reached the group; its answer never reached the controller

    def connect(cut_off: bool) -> Any:
        client = boto3.client("autoscaling", region_name=moto_server.region, endpoint_url=moto_server.endpoint_url,
                              config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}))
        if cut_off:
            client.meta.events.register("after-call.auto-scaling.SetDesiredCapacity", stopped)
        return client

    groups = connect(False)
    groups.create_launch_configuration(LaunchConfigurationName="lc-clamp", ImageId="ami-12c6146b",
                                       InstanceType="t3.micro")
    groups.create_auto_scaling_group(AutoScalingGroupName="delta-api", LaunchConfigurationName="lc-clamp",
                                     MinSize=1, MaxSize=3, DesiredCapacity=2, AvailabilityZones=["us-east-1a"])

    def desired() -> int:
        return int(groups.describe_auto_scaling_groups(AutoScalingGroupNames=["delta-api"])
                   ["AutoScalingGroups"][0]["DesiredCapacity"])

    def reconciler(store: StateStore, client: Any, decider: Any) -> Reconciler:
        return Reconciler(StaticSource({("delta", "api"): (40.0, 2)}), store, [decider],
                          register_actuators({TargetKind.ASG: AsgActuator(client)}, Requests()))

    path = tmp_path / "state.db"
    with StateStore(path) as store, pytest.raises(Stopped):
        reconciler(store, connect(True), ClampedConfirming()).run_pass(config, T0)
    assert desired() == 3

    decider = ClampedConfirming()
    with StateStore(path) as store:
        assert set(store.state(intents.STATE)) == {f"scale:{GROUP}"}
        reconciler(store, connect(False), decider).run_pass(config, T0 + timedelta(seconds=30))
        assert store.state(intents.STATE) == {}
        assert store.state("confirming")[SCALE_KEY] == {
            "rule": "ScaleAction", "made": True, "moved": 1, "was": {"proposed": 7}, "at": T0.isoformat()}
        (row,) = [e for e in audit.query(store.connection, kind="act")]
    assert (row.rule, row.old, row.new) == ("recovered-applied", 2, 3)
    assert "clamp" in row.reason
    assert desired() == 3
