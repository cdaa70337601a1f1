"""Guardrails between a recommendation and an action: they stop a bad input from becoming a bad action.

Each breaker is a pure function returning the value it let through and, when it had to intervene, a
`Trip` saying why, so the decider can raise an alert: a breaker that trips silently hides exactly the
failure it exists to catch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Trip:
    breaker: str  # "max-step", "freeze", "global-ceiling"
    detail: str


def freeze(desired: int, current: int, problems: Sequence[str]) -> tuple[int, Trip | None]:
    """No scale-down while any configured metric is missing, stale or invalid: no data is not no load."""
    if problems and desired < current:
        return current, Trip("freeze", f"scale-down to {desired} blocked: {', '.join(problems)}")
    return desired, None


def limit_step(desired: int, current: int, max_up: int, max_down: int) -> tuple[int, Trip | None]:
    """At most `max_up` replicas added and `max_down` removed in one pass, whatever the estimate says."""
    if desired > current + max_up:
        return current + max_up, Trip("max-step", f"{current}->{desired} exceeds +{max_up} per pass")
    if desired < current - max_down:
        return current - max_down, Trip("max-step", f"{current}->{desired} exceeds -{max_down} per pass")
    return desired, None


def global_ceiling(currents: Sequence[int], desireds: Sequence[int], ceiling: int) -> tuple[list[int], Trip | None]:
    """Keep the total of replicas asked for across every tenant within `ceiling`.

    Scale-downs always pass; scale-ups share what is left under the ceiling in proportion to their
    size (rounded down), so one runaway tenant cannot take the whole cluster and none is starved to zero
    while others grow.
    """
    total = sum(desireds)
    if total <= ceiling:
        return list(desireds), None
    base = sum(min(c, d) for c, d in zip(currents, desireds, strict=True))
    wanted = sum(d - c for c, d in zip(currents, desireds, strict=True) if d > c)
    room = max(0, ceiling - base)
    share = min(1.0, room / wanted) if wanted else 0.0
    out = [c + int((d - c) * share) if d > c else d for c, d in zip(currents, desireds, strict=True)]
    return out, Trip(
        "global-ceiling",
        f"{total} replicas asked for across tenants exceeds the ceiling {ceiling}; scale-ups trimmed to {sum(out)}",
    )
