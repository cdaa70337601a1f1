"""The one small interface every actuator implements.

Actuators are idempotent: applying an action whose target already has the desired replicas writes
nothing and says so. Errors are classified so the engine knows whether to retry now, later, or never.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind


class OutcomeStatus(StrEnum):
    APPLIED = "applied"  # the target now has the desired replicas, written by us
    UNCHANGED = "unchanged"  # it already had them: no write was made
    DRY_RUN = "dry_run"  # would have written; dry-run mode
    RETRYABLE = "retryable"  # transient failure (throttling, 5xx, timeout) after bounded retries
    FAILED = "failed"  # permanent failure (not found, forbidden, invalid)


@dataclass(frozen=True, slots=True)
class ActOutcome:
    action: ScaleAction
    status: OutcomeStatus
    observed: int | None = None  # replicas the target had when we read it
    detail: str = ""
    attempts: int = 1
    written: int | None = None  # replicas written, when a write was made (an ASG's clamped to its bounds)
    uid: str | None = None  # the target object's uid, when it was read (what its Kubernetes Events name)


class Actuator(Protocol):
    """Applies scale actions for one kind of target."""

    kind: TargetKind

    def current(self, target: ScaleTarget) -> int | None:
        """Replicas the target has now, or None when it does not exist."""
        ...

    def apply(self, action: ScaleAction, *, dry_run: bool = False) -> ActOutcome: ...


@runtime_checkable
class BoundedActuator(Actuator, Protocol):
    """An actuator whose targets hold bounds of their own that a write is clamped to (an Auto Scaling
    group's MinSize/MaxSize), so the count it writes may not be the count asked."""

    def written_for(self, target: ScaleTarget, desired: int) -> tuple[int, int] | None:
        """(the target's count now, the count `apply` would write for `desired`); None when it does not exist."""
        ...
