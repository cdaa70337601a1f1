"""Record, then act: the intended writes of a pass are committed before any actuator call, and their
outcomes after.

A pass commits its plan (decisions, the decider state it implies, and one intent per write it is about
to make, in the `STATE` namespace) in one transaction; only then do the actuators run; their outcomes
are committed next, and each outcome clears its intent. A commit that fails stops the pass before it
acts, so nothing is ever written that the audit cannot show. A process killed between the two commits
leaves intents without outcome: the next pass (after a restart, the first one) reads each against the
live state first and audits what it found, so every write the cluster received has an audit row.
Intents are plain state keys, so any store backend holds them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenantops.act.base import Actuator, OutcomeStatus
from tenantops.structs.plan import Decision, ScaleAction, ScaleTarget, TargetKind
from tenantops.structs.requests import RequestPatch

if TYPE_CHECKING:
    from tenantops.engine.reconcile import RequestActuator

log = logging.getLogger(__name__)

STATE = "intents"
"""The state namespace of writes decided and not yet known to have been made."""


def scale_intent(action: ScaleAction, now: datetime) -> tuple[str, dict[str, Any]]:
    t = action.target
    return f"scale:{t}", {
        "kind": "scale", "at": now.isoformat(), "tenant": action.tenant, "workload": action.workload,
        "target": {"kind": str(t.kind), "name": t.name, "namespace": t.namespace},
        "from": action.current, "to": action.desired, "rule": action.rule,
    }


def patch_intent(decider: str, patch: RequestPatch, now: datetime) -> tuple[str, dict[str, Any]]:
    return f"requests:{patch.namespace}/{patch.deployment}", {
        "kind": "requests", "at": now.isoformat(), "tenant": patch.tenant, "workload": patch.workload,
        "decider": decider, "patch": patch.to_json(), "state_key": patch.state_key, "on_applied": patch.on_applied,
    }


def recover(
    intents: Mapping[str, Any],
    actuators: Mapping[TargetKind, Actuator],
    request_actuator: RequestActuator | None,
    tenants: Collection[str],
    now: datetime,
) -> tuple[dict[str, dict[str, Any]], list[Decision]]:
    """Each intent of these tenants read against the live state: the state changes (intents cleared, a
    patch's state where its requests are in effect) and one audit row each. An intent whose target
    cannot be read now is kept for the next pass."""
    changes: dict[str, dict[str, Any]] = {STATE: {}}
    decisions: list[Decision] = []
    for key, intent in intents.items():
        if not isinstance(intent, Mapping) or intent.get("tenant") not in tenants:
            continue
        try:
            found, live, applied = _read_live(intent, actuators, request_actuator)
        except Exception as exc:  # the target cannot be read: try again next pass, never guess
            log.warning("intent %s: live state unreadable (%s); kept for the next pass", key, exc)
            continue
        if not found:
            continue
        changes[STATE][key] = None
        if applied and intent.get("kind") == "requests" and intent.get("state_key"):
            changes.setdefault(str(intent["decider"]), {})[str(intent["state_key"])] = intent.get("on_applied")
        rule = "recovered-applied" if applied else "recovered-not-applied"
        decisions.append(Decision(
            now, str(intent.get("tenant")), str(intent.get("workload")), "act", rule,
            f"intent of {intent.get('at')} had no recorded outcome (the controller stopped between deciding and "
            f"recording); live state {live!r} {'matches' if applied else 'does not match'} the intended "
            f"{intent.get('to', intent.get('patch', {}).get('requests'))!r}",
            old=intent.get("from"), new=live, inputs={"intent": key, "rule": intent.get("rule")},
        ))
    if not changes[STATE]:
        return {}, decisions
    return changes, decisions


def _read_live(intent: Mapping[str, Any], actuators: Mapping[TargetKind, Actuator],
               request_actuator: RequestActuator | None) -> tuple[bool, Any, bool]:
    """(readable, what is live, whether it is what was intended)."""
    if intent.get("kind") == "scale":
        raw = intent["target"]
        target = ScaleTarget(TargetKind(raw["kind"]), str(raw["name"]), raw.get("namespace"))
        actuator = actuators.get(target.kind)
        if actuator is None:
            return False, None, False
        live = actuator.current(target)
        return True, live, live == intent.get("to")
    if intent.get("kind") == "requests" and request_actuator is not None:
        patch = RequestPatch.from_json(intent["patch"])
        outcome = request_actuator.apply(patch, dry_run=True)  # reads, compares, never writes
        if outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.RETRYABLE):
            raise RuntimeError(outcome.detail)
        return True, {c: dict(r) for c, r in outcome.before.items()}, outcome.status is OutcomeStatus.UNCHANGED
    return False, None, False
