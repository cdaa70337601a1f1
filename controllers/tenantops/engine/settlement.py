"""Decision state is committed only from a confirmed outcome: one mechanism for every effect type.

An effect may name a key of its concern's state that only its outcome settles (`state_key`; `concern` is
set by the engine from the decider that asked). The autoscaler holds each scale change as proposed in its
rate-limit periods until the write is known to have been made; a request patch names the state its
application implies (`on_applied`). Whatever the type, the engine commits that key here and nowhere
else: after the act stage, from each effect's outcome as its actuator reads it
(`EffectActuator.confirmed`), and after a restart from each intent read back against the live state
(`intents.recover`, through `EffectActuator.recorded`).

What the key becomes is the concern's pure rule (`decide.base.Confirms.confirm`; `confirm_applied` for a
concern without one). This module finds, for each effect proposed, what became of it, and hands the rule
the key's committed value (the state the pass committed with its plan, or the stored state after a
restart). An effect the guard stage left out of the plan (lost to another decider for its workload) is
settled as not made and not tried: it was never asked of its target, so nothing refused it. A dry run
settles nothing (the reconciler does not ask).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tenantops.decide.base import KEEP, ConfirmRule, Confirms, Decider, confirm_applied
from tenantops.engine.effects import NOT_TRIED, NotTried
from tenantops.structs.plan import Effect

Settled = dict[str, dict[str, Any]]
"""Concern → state key → its value once settled, as `StateStore.commit` takes them."""

StateOf = Callable[[str], Mapping[str, Any]]
"""A concern's committed state (`StateStore.state`)."""


def _subject(effect: Effect) -> tuple[type[Any], str, str]:
    """What an effect settles: its type, and the concern's state key it names."""
    return type(effect), effect.concern, effect.state_key


class Settlement:
    """The deciders' confirmation rules, by concern, over the committed state they settle."""

    def __init__(self, deciders: Sequence[Decider], state: StateOf) -> None:
        self._rules: dict[str, ConfirmRule] = {d.name: d.confirm for d in deciders if isinstance(d, Confirms)}
        self._state = state

    def rule(self, concern: str) -> ConfirmRule:
        """The rule of `concern` (`confirm_applied` when it has none of its own, or is not running)."""
        return self._rules.get(concern, confirm_applied)

    def one(self, proposed: Effect, made: Effect | None, at: datetime, *, tried: bool = True) -> Settled:
        """The state one effect settles now that its outcome is known: `made` is the effect as it took
        effect (None: nothing was made; `tried` False: nor asked of its target); `at` the pass that decided
        it. Empty when the effect names no state, or its concern's rule keeps the state as it is."""
        if not proposed.concern or not proposed.state_key:
            return {}
        state = self._state(proposed.concern).get(proposed.state_key)
        value = self.rule(proposed.concern)(proposed, made, at, state, tried)
        if value is KEEP:
            return {}
        return {proposed.concern: {proposed.state_key: value}}

    def of_pass(self, proposed: Iterable[Effect], confirmed: Iterable[tuple[Effect, Effect | NotTried | None]],
                at: datetime) -> Settled:
        """Every effect the deciders proposed in the pass at `at` (each marked with its concern), settled
        from the act stage's outcomes: `confirmed` pairs each effect of the plan with what took effect
        (`NOT_TRIED`: nothing, and nothing was asked of its target). One the plan left out was not tried."""
        made = {_subject(effect): as_made for effect, as_made in confirmed}
        changes: Settled = {}
        for effect in proposed:
            as_made = made.get(_subject(effect), NOT_TRIED)
            if isinstance(as_made, NotTried):
                settled = self.one(effect, None, at, tried=False)
            else:
                settled = self.one(effect, as_made, at)
            for concern, values in settled.items():
                changes.setdefault(concern, {}).update(values)
        return changes
