"""The act stage: every effect of a Plan applied through the actuator registered for its type.

The engine knows no effect type by name. Each type a Plan carries (`structs.plan.EFFECT_FIELDS`) has one
`EffectActuator`, registered at the composition root (`engine.root.register_actuators`), that owns what
is particular to the type: the intent recorded before the call, whether there is a call to make and how
long it may take, the call itself, its audit row, which outcomes put the effect in effect, and reading an
intent back after a restart (the decider state an outcome confirms is committed from those answers in one
place for every type, `engine.settlement`). What holds for every type lives here once: record-then-act
(intents come from `intents`, committed by the reconciler before `act` runs), the fence asked before
each call (the Lease's remaining time and the pass's own deadline), an actuator that raises being that
effect's failure and not the pass's, and a dry run never reporting a write.

The registry is complete or refused: a Plan effect type without an actuator, or an actuator for a type
no Plan carries, raises `UnregisteredEffect` when the controller is built, so an effect can never be
decided, recorded as intended and then silently not applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Protocol, TypeVar

from tenantops.act.base import OutcomeStatus
from tenantops.structs.plan import EFFECT_FIELDS, Decision, Effect, Plan

log = logging.getLogger(__name__)

E_contra = TypeVar("E_contra", contravariant=True)
Out = TypeVar("Out")

IN_EFFECT = (OutcomeStatus.APPLIED, OutcomeStatus.UNCHANGED)
"""The outcomes that leave an effect in effect: written now, or already as asked (a patch's requests, a
report already in the outbox); what `EffectActuator.confirmed` settles from, for the types that have no
rule of their own (a scale write counts only when made)."""

class NotTried:
    """The value of `NOT_TRIED`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_TRIED"


NOT_TRIED: Final = NotTried()
"""What `EffectActuator.confirmed` answers for an outcome that made nothing and asked nothing of the target
either (a call fenced or skipped for time, no client to make it with): nothing refused the effect, so its
concern's rule is told it was not tried (`engine.settlement`)."""

Fence = Callable[[float], "str | None"]
"""Asked with a call's deadline before the call: a reason means "do not start it"."""


class EffectActuator(Protocol[E_contra, Out]):
    """What the act stage needs of the actuator of one effect type (`E_contra`, outcomes `Out`).

    Outcomes are frozen dataclasses with a `status` (`OutcomeStatus`) and a `detail`.
    """

    @property
    def name(self) -> str:
        """The intent kind this actuator's intents carry (and reads back after a restart)."""
        ...

    def available(self) -> list[str]:
        """The clients it can reach, by name (what `describe` lists as the controller's actuators)."""
        ...

    def intent(self, effect: E_contra, now: datetime) -> tuple[str, dict[str, Any]] | None:
        """The intent to commit before acting (key, JSON), or None when the effect writes nothing."""
        ...

    def deadline(self, effect: E_contra) -> float | None:
        """Seconds the call may take, asked only to fence it (not in a dry run, nor without a fence);
        None when there is no call to make (a no-op, or no client to make it with), so no fence is asked
        and `apply` answers at once."""
        ...

    def apply(self, effect: E_contra, *, dry_run: bool) -> Out: ...

    def refused(self, effect: E_contra, status: OutcomeStatus, detail: str) -> Out:
        """The outcome of a call not made (fenced) or that raised."""
        ...

    def audit(self, outcome: Out, now: datetime) -> Decision | None:
        """The outcome's audit row, or None for one not worth a row (a no-op)."""
        ...

    def confirmed(self, outcome: Out) -> Effect | NotTried | None:
        """The effect as this outcome put it in effect (a scale write: from the count it started at), None
        when nothing was made, or `NOT_TRIED` when nothing was asked of the target either (for a type whose
        concern tells the two apart: a request patch); what the concern's state is settled from
        (`engine.settlement`)."""
        ...

    def label(self, outcome: Out) -> str:
        """The target label of the controller's actuations counter (`ControllerMetrics.actuations`)."""
        ...

    def read_back(self, intent: Mapping[str, Any]) -> tuple[bool, Any, bool]:
        """An intent without outcome read against the live state: (readable, live value, as intended).
        May raise when the target cannot be read now (the intent is then kept for the next pass)."""
        ...

    def recorded(self, intent: Mapping[str, Any]) -> Effect:
        """The effect an intent records, with the concern and state key it settles (settled from the
        read-back after a restart: made if the live state is as intended, else not)."""
        ...

    def made(self, intent: Mapping[str, Any], live: Any) -> Effect:
        """The effect as an intent read back as made put it in effect (`live` from `read_back`): what its
        concern's state is settled from, as `confirmed` is for an outcome (a scale write: the count written)."""
        ...


class UnregisteredEffect(LookupError):
    """The actuator registry does not cover exactly the effect types a Plan carries."""


def _type_names(types: Iterable[type[Any]]) -> str:
    return ", ".join(t.__name__ for t in types)


class Actuators:
    """Effect type → its actuator, for every effect type a Plan carries and no other."""

    def __init__(self, registered: Mapping[type[Any], EffectActuator[Any, Any]]) -> None:
        missing = [t for t in EFFECT_FIELDS if t not in registered]
        if missing:
            raise UnregisteredEffect(
                f"no actuator registered for {_type_names(missing)}: its effects would be decided and never "
                f"applied (registered: {_type_names(registered) or 'none'})")
        unknown = [t for t in registered if t not in EFFECT_FIELDS]
        if unknown:
            raise UnregisteredEffect(
                f"{_type_names(unknown)} is not an effect type a Plan carries (those are "
                f"{_type_names(EFFECT_FIELDS)}): its actuator would never run")
        self._by_type = {t: registered[t] for t in EFFECT_FIELDS}
        self._by_intent = {a.name: a for a in self._by_type.values()}
        if len(self._by_intent) != len(self._by_type):
            raise UnregisteredEffect("two effect types' actuators share one intent kind: "
                                     + ", ".join(a.name for a in self._by_type.values()))

    def __iter__(self) -> Iterator[tuple[type[Any], EffectActuator[Any, Any]]]:
        return iter(self._by_type.items())

    def get(self, kind: type[Any]) -> EffectActuator[Any, Any]:
        return self._by_type[kind]

    def for_intent(self, kind: object) -> EffectActuator[Any, Any] | None:
        """The actuator whose intents are of `kind` (None for an intent kind no actuator writes)."""
        return self._by_intent.get(kind) if isinstance(kind, str) else None

    def available(self) -> list[str]:
        return sorted(name for _, actuator in self for name in actuator.available())

    def intents(self, plan: Plan, now: datetime) -> dict[str, Any]:
        """One intent per write the plan is about to make, by key (committed before `act`)."""
        pending: dict[str, Any] = {}
        for kind, actuator in self:
            for effect in plan.effects(kind):
                intent = actuator.intent(effect, now)
                if intent is not None:
                    pending[intent[0]] = intent[1]
        return pending


@dataclass
class Acted:
    """What the act stage did: each effect type's outcomes in plan order, their audit rows, each effect
    paired with what of it took effect (None: nothing) and the (target label, status) of each outcome for
    the controller's metrics."""

    outcomes: dict[type[Any], tuple[Any, ...]] = field(default_factory=dict)
    rows: list[Decision] = field(default_factory=list)
    confirmed: list[tuple[Effect, Effect | NotTried | None]] = field(default_factory=list)
    labels: list[tuple[str, OutcomeStatus]] = field(default_factory=list)

    def of(self, kind: type[Any]) -> tuple[Any, ...]:
        return self.outcomes.get(kind, ())


def act(plan: Plan, actuators: Actuators, *, dry_run: bool, fence: Fence | None, now: datetime) -> Acted:
    """Apply every effect of `plan`, type by type in `EFFECT_FIELDS` order, each through its actuator."""
    acted = Acted()
    for kind, actuator in actuators:
        outcomes = []
        for effect in plan.effects(kind):
            outcome = _apply_one(actuator, effect, dry_run=dry_run, fence=fence)
            outcomes.append(outcome)
            row = actuator.audit(outcome, now)
            if row is not None:
                acted.rows.append(row)
            acted.labels.append((actuator.label(outcome), outcome.status))
            acted.confirmed.append((effect, None if dry_run else actuator.confirmed(outcome)))
        acted.outcomes[kind] = tuple(outcomes)
    return acted


def _apply_one(actuator: EffectActuator[Any, Any], effect: Any, *, dry_run: bool, fence: Fence | None) -> Any:
    deadline = actuator.deadline(effect) if fence is not None and not dry_run else None
    if deadline is not None and fence is not None:
        reason = fence(deadline)
        if reason is not None:  # this replica may not start the call (lease or pass deadline)
            log.warning("not acting on %s/%s: %s", getattr(effect, "tenant", None), getattr(effect, "workload", None),
                        reason)
            return actuator.refused(effect, OutcomeStatus.RETRYABLE, f"not acted: {reason}")
    try:
        outcome = actuator.apply(effect, dry_run=dry_run)
    except Exception as exc:  # an actuator bug is that effect's failure, not the pass's
        log.exception("%s actuator raised on %s/%s", actuator.name, getattr(effect, "tenant", None),
                      getattr(effect, "workload", None))
        return actuator.refused(effect, OutcomeStatus.FAILED, f"{type(exc).__name__}: {exc}")
    if dry_run and outcome.status is OutcomeStatus.APPLIED:  # defensive: a dry run never reports a write
        outcome = replace(outcome, status=OutcomeStatus.DRY_RUN)
    return outcome
