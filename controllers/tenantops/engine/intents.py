"""Record, then act: the intended writes of a pass are committed before any actuator call, and their
outcomes after.

A pass commits its plan (decisions, the decider state it implies, and one intent per write it is about
to make, in the `STATE` namespace) in one transaction; only then do the actuators run; their outcomes
are committed next, and each outcome clears its intent. A commit that fails stops the pass before it
acts, so nothing is ever written that the audit cannot show. A process killed between the two commits
leaves intents without outcome: the next pass (after a restart, the first one) reads each against the
live state first and audits what it found, so every write the cluster received has an audit row.
Intents are plain state keys, so any store backend holds them; each effect type's actuator writes its
own and reads them back (`engine.effects.EffectActuator`). An intent whose effect names a key of its
concern's state (a scale write the autoscaler's rate-limit periods hold as proposed, a patch's applied
state) settles that key from the read-back, made or not, by the same mechanism as an outcome does
(`engine.settlement`), so a write that was never made is never a scale event.

An intent of a tenant no longer in the catalogue in effect is never read back nor settled: the tenant's
namespace or group may be gone or, worse, belong to someone else by now, and no decider keeps state for
it. It is cleared, with one audit row saying what was intended and that whether it was made is unknown
(`removed`, `dropped`), as the outbox drops such a tenant's pending mail.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenantops.structs.plan import Decision

if TYPE_CHECKING:
    from tenantops.engine.effects import Actuators
    from tenantops.engine.settlement import Settlement

log = logging.getLogger(__name__)

STATE = "intents"
"""The state namespace of writes decided and not yet known to have been made."""

def recover(
    intents: Mapping[str, Any],
    actuators: Actuators,
    tenants: Collection[str],
    now: datetime,
    settlement: Settlement,
) -> tuple[dict[str, dict[str, Any]], list[Decision]]:
    """Each intent of these tenants read against the live state by the actuator of its kind: the state
    changes (intents cleared, and the concern state each one's effect settles, made or not) and one audit
    row each. An intent whose target cannot be read now is kept for the next pass."""
    changes: dict[str, dict[str, Any]] = {STATE: {}}
    decisions: list[Decision] = []
    for key, intent in intents.items():
        if not isinstance(intent, Mapping) or intent.get("tenant") not in tenants:
            continue
        actuator = actuators.for_intent(intent.get("kind"))
        if actuator is None:
            continue
        try:
            found, live, applied = actuator.read_back(intent)
        except Exception as exc:  # the target cannot be read: try again next pass, never guess
            log.warning("intent %s: live state unreadable (%s); kept for the next pass", key, exc)
            continue
        if not found:
            continue
        changes[STATE][key] = None
        effect = actuator.recorded(intent)
        made = actuator.made(intent, live) if applied else None
        settled = settlement.one(effect, made, datetime.fromisoformat(str(intent["at"])))
        for namespace, values in settled.items():
            changes.setdefault(namespace, {}).update(values)
        rule = "recovered-applied" if applied else "recovered-not-applied"
        decisions.append(Decision(
            now, str(intent.get("tenant")), str(intent.get("workload")), "act", rule,
            f"intent of {intent.get('at')} had no recorded outcome (the controller stopped between deciding and "
            f"recording); live state {live!r} {'matches' if applied else 'does not match'} the intended "
            f"{intent.get('to', intent.get('patch', {}).get('requests'))!r}"
            f"{' as the target bounds clamp it' if made is not None and made != effect else ''}",
            old=intent.get("from"), new=live, inputs={"intent": key, "rule": intent.get("rule")},
        ))
    if not changes[STATE]:
        return {}, decisions
    return changes, decisions


def removed(intents: Mapping[str, Any], catalogue: Collection[str]) -> list[str]:
    """The keys of the intents of tenants not in `catalogue` (the ids of the whole catalogue in effect, not a
    shard's: another shard's tenant is not gone)."""
    return sorted(key for key, intent in intents.items()
                  if isinstance(intent, Mapping) and isinstance(intent.get("tenant"), str)
                  and intent["tenant"] not in catalogue)


def dropped(key: str, intent: Any, now: datetime) -> Decision | None:
    """The audit row of an intent cleared because its tenant left the catalogue (None: not an intent)."""
    if not isinstance(intent, Mapping):
        return None
    tenant = str(intent.get("tenant"))
    patch = intent.get("patch")
    wanted = intent.get("to", patch.get("requests") if isinstance(patch, Mapping) else None)
    return Decision(
        now, tenant, str(intent.get("workload")), "act", "dropped:tenant-removed",
        f"intent of {intent.get('at')} ({intent.get('kind')} to {wanted!r}) had no recorded outcome and is dropped "
        f"without reading it back: tenant {tenant} is no longer in the catalogue, so nothing is written, read "
        "or settled for it; whether the write was made is unknown",
        old=intent.get("from"), new=None, inputs={"intent": key, "rule": intent.get("rule"), "recorded": dict(intent)},
    )
