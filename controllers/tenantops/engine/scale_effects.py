"""The actuator of scale actions: one registration for the effect type, dispatching by target kind.

A scale action's target kind (a Deployment, an Auto Scaling group) says which client writes it, but
not what the effect is: the intent, the no-op skip, the audit row and reading an intent back are the
same for every kind. And a kind's client may be missing (not configured, or unreachable when the
controller was built) while the other kind still scales: that is an outcome of each such action
(failed, or dry-run), not an unregistered effect type. So the registry holds one entry per effect type
and this actuator holds the clients per `TargetKind`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from tenantops.act.base import ActOutcome, Actuator, BoundedActuator, OutcomeStatus
from tenantops.structs.plan import Decision, ScaleAction, ScaleTarget, TargetKind

log = logging.getLogger(__name__)

DEFAULT_CALL_DEADLINE = 25.0  # an actuator that does not say how long a call may take


def call_deadline(actuator: object) -> float:
    """How long one call of `actuator` may take (its `call_deadline`), for the fence."""
    return float(getattr(actuator, "call_deadline", DEFAULT_CALL_DEADLINE))


def scale_intent(action: ScaleAction, now: datetime) -> tuple[str, dict[str, Any]]:
    """The intent of one scale write. When a concern's state holds the change as proposed, the intent says
    where and by how much (`settles`), so a restart settles it from the live count (`intents.recover`)."""
    t = action.target
    intent: dict[str, Any] = {
        "kind": "scale", "at": now.isoformat(), "tenant": action.tenant, "workload": action.workload,
        "target": {"kind": str(t.kind), "name": t.name, "namespace": t.namespace},
        "from": action.current, "to": action.desired, "rule": action.rule,
    }
    if action.concern and action.state_key:
        intent["settles"] = {"concern": action.concern, "key": action.state_key,
                             "change": action.desired - action.current}
    return f"scale:{t}", intent


def _target(raw: Mapping[str, Any]) -> ScaleTarget:
    """A scale intent's target, as `scale_intent` wrote it."""
    return ScaleTarget(TargetKind(raw["kind"]), str(raw["name"]), raw.get("namespace"))


class ScaleEffects:
    """Scale actions through the client of their target's kind (`act.kubernetes`, `act.asg`)."""

    name = "scale"

    def __init__(self, targets: Mapping[TargetKind, Actuator] | None = None) -> None:
        self.targets: dict[TargetKind, Actuator] = dict(targets or {})

    def available(self) -> list[str]:
        return [str(kind) for kind in self.targets]

    def intent(self, effect: ScaleAction, now: datetime) -> tuple[str, dict[str, Any]] | None:
        return None if effect.is_noop else scale_intent(effect, now)

    def deadline(self, effect: ScaleAction) -> float | None:
        client = self.targets.get(effect.target.kind)
        return None if effect.is_noop or client is None else call_deadline(client)

    def apply(self, effect: ScaleAction, *, dry_run: bool) -> ActOutcome:
        if effect.is_noop:
            log.debug("skip %s/%s: already at %d replicas", effect.tenant, effect.workload, effect.current)
            return ActOutcome(effect, OutcomeStatus.UNCHANGED, effect.current, "no-op", attempts=0)
        client = self.targets.get(effect.target.kind)
        if client is None:
            if dry_run:
                return ActOutcome(effect, OutcomeStatus.DRY_RUN, None, "dry run", attempts=0)
            return ActOutcome(effect, OutcomeStatus.FAILED, None, f"no actuator for {effect.target.kind} targets",
                              attempts=0)
        outcome = client.apply(effect, dry_run=dry_run)
        log.info("%s %s/%s %s: %d -> %d (%s) %s", outcome.status.value, effect.tenant, effect.workload,
                 effect.target, effect.current, effect.desired, effect.rule, outcome.detail)
        return outcome

    def refused(self, effect: ScaleAction, status: OutcomeStatus, detail: str) -> ActOutcome:
        return ActOutcome(effect, status, None, detail, attempts=0 if status is OutcomeStatus.RETRYABLE else 1)

    def audit(self, outcome: ActOutcome, now: datetime) -> Decision | None:
        if outcome.status is OutcomeStatus.UNCHANGED and outcome.detail == "no-op":
            return None
        a = outcome.action
        return Decision(
            at=now, tenant=a.tenant, workload=a.workload, kind="act", rule=outcome.status.value,
            reason=f"{a.target}: {outcome.detail or outcome.status.value} ({a.rule})",
            old=outcome.observed if outcome.observed is not None else a.current,
            new=outcome.written if outcome.written is not None else a.desired,
            inputs={"target": str(a.target), "attempts": outcome.attempts, "decided_from": a.current,
                    **({"decided": a.desired} if outcome.written not in (None, a.desired) else {})},
        )

    def confirmed(self, outcome: ActOutcome) -> ScaleAction | None:
        """Only a write made moves replicas: an applied outcome, from the count the target had (else the
        count the decision saw) to the count written (an Auto Scaling group's bounds may have clamped the
        decision). A no-op, a hold at the current count, a refusal or a failure made none."""
        if outcome.status is not OutcomeStatus.APPLIED:
            return None
        start = outcome.observed if outcome.observed is not None else outcome.action.current
        written = outcome.written if outcome.written is not None else outcome.action.desired
        return replace(outcome.action, current=start, desired=written)

    def label(self, outcome: ActOutcome) -> str:
        return outcome.action.target.kind.value

    def read_back(self, intent: Mapping[str, Any]) -> tuple[bool, Any, bool]:
        """Made when the live count is the count the write would have set: for a target with bounds of its
        own (an Auto Scaling group) the intended count clamped to them, as `apply` clamps it; a clamp that
        leaves the count where it was (asked 9 of a group at its maximum 3) is no write at all."""
        target = _target(intent["target"])
        client = self.targets.get(target.kind)
        if client is None:
            return False, None, False
        wanted = int(intent["to"])
        if isinstance(client, BoundedActuator):
            found = client.written_for(target, wanted)
            live, written = (None, wanted) if found is None else found
        else:
            live, written = client.current(target), wanted
        return True, live, live == written and written != intent.get("from")

    def made(self, intent: Mapping[str, Any], live: Any) -> ScaleAction:
        """The write as the read-back found it made: from the intent's count to the live one (the count
        written, which a target's bounds may have clamped)."""
        return replace(self.recorded(intent), desired=int(live))

    def recorded(self, intent: Mapping[str, Any]) -> ScaleAction:
        """The write an intent records; the concern and key it settles are its `settles` (absent from an
        intent of a change no concern's state holds as proposed)."""
        settles = intent.get("settles")
        concern, key = ("", "") if not isinstance(settles, Mapping) else (str(settles["concern"]), str(settles["key"]))
        return ScaleAction(str(intent["tenant"]), str(intent["workload"]), _target(intent["target"]),
                           int(intent["from"]), int(intent["to"]), str(intent.get("rule", "")), "",
                           state_key=key, concern=concern)
