"""The act stage applies every effect type of the Plan through the actuator registered for it: a registry
that leaves an effect type out (or names a type no Plan carries) is refused when the controller is
built, and the stage's rules (fence before each call, outcome audited, state only from an outcome in
effect) hold for request patches as for scale actions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tenantops.act.base import OutcomeStatus
from tenantops.act.requests import PatchOutcome
from tenantops.config import Config
from tenantops.decide.base import DeciderOutput, PassInput
from tenantops.decide.rightsizing import RightsizingDecider
from tenantops.engine import intents
from tenantops.engine.effects import Actuators, UnregisteredEffect
from tenantops.engine.patch_effects import PatchEffects
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.report_effects import ReportEffects
from tenantops.engine.root import register_actuators
from tenantops.engine.scale_effects import ScaleEffects
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops.structs.plan import EFFECT_FIELDS, Alert, ScaleAction
from tenantops.structs.reports import ReportRequest
from tenantops.structs.requests import RequestPatch
from tenantops.structs.usage import Series, UsageHistory

from .conftest import StaticSource

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_registry_without_an_actuator_for_an_effect_type_is_refused_at_build_time() -> None:
    with pytest.raises(UnregisteredEffect, match="no actuator registered for RequestPatch"):
        Actuators({ScaleAction: ScaleEffects()})
    with pytest.raises(UnregisteredEffect, match="no actuator registered for ScaleAction, RequestPatch, ReportRequest"):
        Actuators({})


def test_an_actuator_for_a_type_no_plan_carries_is_refused() -> None:
    with pytest.raises(UnregisteredEffect, match="Alert is not an effect type a Plan carries"):
        Actuators({ScaleAction: ScaleEffects(), RequestPatch: PatchEffects(), ReportRequest: ReportEffects(),
                   Alert: PatchEffects()})


def test_the_composition_root_registers_every_effect_type_in_plan_order() -> None:
    registered = register_actuators()
    assert [kind for kind, _ in registered] == list(EFFECT_FIELDS)
    assert registered.available() == []  # no clients: each effect fails (or is a dry run) with its reason


class Resizing:
    """Asks for one request patch on alpha/api every pass; the state is the patch's to settle."""

    name = "resizing"

    def decide(self, inp: PassInput, state: Mapping[str, Any]) -> DeciderOutput:
        patch = RequestPatch("alpha", "api", "tenant-alpha", "api", {"cpu": "250m"}, "test",
                             state_key="alpha/api", on_applied={"cpu": 0.25})
        return DeciderOutput(patches=(patch,))


class Requests:
    """An in-memory requests client (the `RequestActuator` protocol): applies and remembers each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[RequestPatch, bool]] = []
        self.requests: dict[str, dict[str, str]] = {"api": {"cpu": "500m"}}

    def apply(self, patch: RequestPatch, *, dry_run: bool = False) -> PatchOutcome:
        self.calls.append((patch, dry_run))
        before = {c: dict(r) for c, r in self.requests.items()}
        if before["api"] == dict(patch.requests):
            return PatchOutcome(patch, OutcomeStatus.UNCHANGED, before, before)
        if dry_run:
            return PatchOutcome(patch, OutcomeStatus.DRY_RUN, before, {"api": dict(patch.requests)})
        self.requests["api"] = dict(patch.requests)
        return PatchOutcome(patch, OutcomeStatus.APPLIED, before, {"api": dict(patch.requests)})


def test_a_request_patch_is_fenced_like_a_scale_action(config: Config) -> None:
    store = StateStore(":memory:")
    client = Requests()
    rec = Reconciler(StaticSource({}), store, [Resizing()], register_actuators(requests=client))
    rec.fence = lambda deadline: f"the lease has 0.0s left, less than the call's {deadline:.1f}s deadline"
    result = rec.run_pass(config, NOW)
    assert client.calls == []  # the call never started
    assert [o.status for o in result.patch_outcomes] == [OutcomeStatus.RETRYABLE]
    assert result.patch_outcomes[0].detail.startswith("not acted: the lease has 0.0s left")
    assert store.state("resizing") == {}  # not in effect: proposed again next pass
    assert store.state(intents.STATE) == {}  # the outcome cleared its intent
    rows = [d for d in audit.query(store.connection, kind="act")]
    assert [(r.tenant, r.workload, r.rule) for r in rows] == [("alpha", "api", "retryable")]


def test_a_patch_in_effect_settles_the_state_of_the_concern_that_asked(config: Config) -> None:
    store = StateStore(":memory:")
    client = Requests()
    rec = Reconciler(StaticSource({}), store, [Resizing()], register_actuators(requests=client))
    result = rec.run_pass(config, NOW)
    assert [o.status for o in result.patch_outcomes] == [OutcomeStatus.APPLIED]
    assert result.plan is not None and result.plan.patches[0].concern == "resizing"
    assert store.state("resizing") == {"alpha/api": {"cpu": 0.25}}
    assert client.requests["api"] == {"cpu": "250m"}
    again = rec.run_pass(config, NOW)  # idempotent: the same plan changes nothing
    assert [o.status for o in again.patch_outcomes] == [OutcomeStatus.UNCHANGED]


class Refusing:
    """A requests client whose API server refuses every patch (the Deployment is gone): one attempt each."""

    def __init__(self) -> None:
        self.calls: list[RequestPatch] = []

    def apply(self, patch: RequestPatch, *, dry_run: bool = False) -> PatchOutcome:
        self.calls.append(patch)
        return PatchOutcome(patch, OutcomeStatus.FAILED, detail="Deployment not found", attempts=1)


def _gamma_using_half_a_core() -> UsageHistory:
    """A week of gamma/api (free tier: right-sizing in apply mode) at half a core and 400 MiB."""
    t = NOW.timestamp() - 300.0 * np.arange(7 * 288, 0, -1)
    return UsageHistory(NOW - timedelta(days=7), NOW, {
        ("gamma", "api", "cpu"): Series(t, np.full(t.size, 0.5)),
        ("gamma", "api", "memory"): Series(t, np.full(t.size, 400 * 2.0**20)),
    }, replicas={("gamma", "api"): 1.0})


def test_a_right_sizing_patch_never_sent_starts_no_retry_backoff_and_a_refused_one_does(config: Config) -> None:
    """Every outcome not in effect started the retry backoff, so a patch skipped because the pass had
    outrun its interval, or with no client to send it, waited 5 minutes (and a later skip lengthened the
    wait) though the API server never saw it. Only a patch it refused, or that failed, starts one."""
    store = StateStore(":memory:")
    client = Refusing()
    rec = Reconciler(StaticSource({}), store, [RightsizingDecider(_gamma_using_half_a_core())],
                     register_actuators(requests=client))

    def late(deadline: float) -> str:
        return "the pass has run 31.0s, past its 30s interval"

    def retry() -> Any:
        return store.state("rightsizing").get("gamma/api", {}).get("retry")

    rec.fence = late
    skipped = rec.run_pass(config, NOW)
    assert [(o.patch.tenant, o.detail) for o in skipped.patch_outcomes] == [
        ("gamma", "not acted: the pass has run 31.0s, past its 30s interval")]
    assert client.calls == [] and retry() is None  # never sent: no failure
    [row] = audit.query(store.connection, kind="act")
    assert "next try" not in row.reason and "next_try" not in row.inputs
    unsent = Reconciler(StaticSource({}), store, [RightsizingDecider(_gamma_using_half_a_core())],
                        register_actuators()).run_pass(config, NOW)
    assert [o.detail for o in unsent.patch_outcomes] == ["no actuator for request patches"] and retry() is None

    rec.fence = None
    tried = NOW + timedelta(minutes=1)
    rec.run_pass(config, tried)  # proposed again at once, sent, refused: the backoff starts
    assert len(client.calls) == 1 and retry() == {"failures": 1, "at": tried.isoformat()}
    rec.fence = late
    again = rec.run_pass(config, tried + timedelta(minutes=6))  # its 5 minutes are over: proposed, skipped
    assert [o.detail.startswith("not acted: ") for o in again.patch_outcomes] == [True]
    assert len(client.calls) == 1 and retry() == {"failures": 1, "at": tried.isoformat()}  # not lengthened
