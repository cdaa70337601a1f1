"""The actuator of request patches (right-sizing's apply mode) through `act.requests`.

A patch carries the state of its concern that applying it implies (`RequestPatch.state_key`,
`on_applied`): that state is committed only from an outcome saying the requests are in effect (applied,
or already so), or from an intent read back as in effect after a restart, never from the decision
(`engine.settlement`; this actuator says which outcomes are in effect). An outcome of a patch the API
server refused, or whose attempt failed, commits what the patch says its failure implies (`on_failed`), and
its audit row says when it is tried again (`retry_at`). A patch of which no attempt was made (fenced by the
Lease or the pass's deadline, no client, no time left for a first attempt: `attempts` 0) was not tried
(`NOT_TRIED`): it is no failure, commits nothing, and is proposed again next pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tenantops.act.base import OutcomeStatus
from tenantops.engine.effects import IN_EFFECT, NOT_TRIED, NotTried
from tenantops.engine.scale_effects import call_deadline
from tenantops.structs.plan import Decision
from tenantops.structs.requests import RequestPatch

if TYPE_CHECKING:
    from tenantops.act.requests import PatchOutcome


class RequestActuator(Protocol):
    """Applies request patches (`act.requests.RequestsActuator`): the client of that effect type."""

    def apply(self, patch: RequestPatch, *, dry_run: bool = False) -> PatchOutcome: ...


def patch_intent(patch: RequestPatch, now: datetime) -> tuple[str, dict[str, Any]]:
    return f"requests:{patch.namespace}/{patch.deployment}", {
        "kind": "requests", "at": now.isoformat(), "tenant": patch.tenant, "workload": patch.workload,
        "decider": patch.concern, "patch": patch.to_json(), "state_key": patch.state_key,
        "on_applied": patch.on_applied,
    }


class PatchEffects:
    """Request patches through the requests client, when there is one."""

    name = "requests"

    def __init__(self, client: RequestActuator | None = None) -> None:
        self.client = client

    def available(self) -> list[str]:
        return [] if self.client is None else ["requests"]

    def intent(self, effect: RequestPatch, now: datetime) -> tuple[str, dict[str, Any]] | None:
        return patch_intent(effect, now)

    def deadline(self, effect: RequestPatch) -> float | None:
        return None if self.client is None else call_deadline(self.client)

    def apply(self, effect: RequestPatch, *, dry_run: bool) -> PatchOutcome:
        if self.client is None:
            status = OutcomeStatus.DRY_RUN if dry_run else OutcomeStatus.FAILED
            return self.refused(effect, status, "no actuator for request patches", attempts=0)
        return self.client.apply(effect, dry_run=dry_run)

    def refused(self, effect: RequestPatch, status: OutcomeStatus, detail: str, *,
                attempts: int | None = None) -> PatchOutcome:
        from tenantops.act.requests import PatchOutcome

        if attempts is None:
            attempts = 0 if status is OutcomeStatus.RETRYABLE else 1
        return PatchOutcome(effect, status, detail=detail, attempts=attempts)

    def audit(self, outcome: PatchOutcome, now: datetime) -> Decision:
        """What was read, what was written (or why not, and when it is tried again)."""
        p = outcome.patch
        retry = p.retry_at if self.confirmed(outcome) is None and outcome.status is not OutcomeStatus.DRY_RUN else ""
        inputs: dict[str, Any] = {"target": f"deployment:{p.namespace}/{p.deployment}", "requests": dict(p.requests),
                                  "attempts": outcome.attempts}
        if retry:
            inputs["next_try"] = retry
        return Decision(
            at=now, tenant=p.tenant, workload=p.workload, kind="act", rule=outcome.status.value,
            reason=f"requests {p.namespace}/{p.deployment}: {outcome.detail or outcome.status.value} ({p.reason})"
                   + (f"; next try at {retry}" if retry else ""),
            old={c: dict(r) for c, r in outcome.before.items()}, new={c: dict(r) for c, r in outcome.after.items()},
            inputs=inputs,
        )

    def confirmed(self, outcome: PatchOutcome) -> RequestPatch | NotTried | None:
        """The patch is in effect once applied, or when the requests already were as asked; not made (None)
        when the API server refused it or its attempt failed; `NOT_TRIED` when no attempt was made."""
        if outcome.status in IN_EFFECT:
            return outcome.patch
        return NOT_TRIED if outcome.attempts == 0 else None

    def label(self, outcome: PatchOutcome) -> str:
        return "requests"

    def read_back(self, intent: Mapping[str, Any]) -> tuple[bool, Any, bool]:
        if self.client is None:
            return False, None, False
        patch = RequestPatch.from_json(intent["patch"])
        outcome = self.client.apply(patch, dry_run=True)  # reads, compares, never writes
        if outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.RETRYABLE):
            raise RuntimeError(outcome.detail)
        return True, {c: dict(r) for c, r in outcome.before.items()}, outcome.status is OutcomeStatus.UNCHANGED

    def made(self, intent: Mapping[str, Any], live: Any) -> RequestPatch:
        """A patch read back as in effect is the patch recorded."""
        return self.recorded(intent)

    def recorded(self, intent: Mapping[str, Any]) -> RequestPatch:
        """The patch an intent records, with the concern's state key it settles and that key's value."""
        return replace(RequestPatch.from_json(intent["patch"]), state_key=str(intent.get("state_key") or ""),
                       on_applied=intent.get("on_applied"), concern=str(intent.get("decider") or ""))
