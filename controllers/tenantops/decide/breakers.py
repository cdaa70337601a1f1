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
    breaker: str  # "max-step", "freeze", "bounds" (the global ceiling is the engine's: `engine.ceiling`)
    detail: str


def frozen(desired: int, current: int, incomplete: bool) -> bool:
    """The freeze rule: a scale-down while any configured metric is missing, stale or invalid is refused
    (no data is not no load). `freeze` applies it; the recommender asks it to keep a refused count out of
    the stabilisation window (`recommender.recommend`)."""
    return incomplete and desired < current


def freeze(desired: int, current: int, problems: Sequence[str]) -> tuple[int, Trip | None]:
    """No scale-down while any configured metric is missing, stale or invalid (`frozen`)."""
    if frozen(desired, current, bool(problems)):
        return current, Trip("freeze", f"scale-down to {desired} blocked: {', '.join(problems)}")
    return desired, None


def limit_step(desired: int, current: int, max_up: int, max_down: int) -> tuple[int, Trip | None]:
    """At most `max_up` replicas added and `max_down` removed in one pass, whatever the estimate says."""
    if desired > current + max_up:
        return current + max_up, Trip("max-step", f"{current}->{desired} exceeds +{max_up} per pass")
    if desired < current - max_down:
        return current - max_down, Trip("max-step", f"{current}->{desired} exceeds -{max_down} per pass")
    return desired, None


@dataclass(frozen=True, slots=True)
class Guarded:
    """What the guards let through for one workload, and each breaker that intervened with its value."""

    desired: int
    trips: tuple[tuple[Trip, int], ...] = ()


def guard_scale(
    desired: int,
    current: int,
    *,
    problems: Sequence[str],
    max_up: int,
    max_down: int,
    min_replicas: int,
    max_replicas: int,
) -> Guarded:
    """The one single-workload guard, used by the controller's decider and by `simulate` alike.

    `current` must be the live count (the scale subresource or the Auto Scaling group), never a metric:
    step limits computed from a lagging or lying metric move real replicas the wrong way. Order: freeze on
    bad metrics, then the step limit from the live count, then the workload's bounds, which always win, so
    no write ever leaves [min, max] (a workload found outside them is brought back in one step).
    """
    trips: list[tuple[Trip, int]] = []
    frozen, trip = freeze(desired, current, problems)
    if trip is not None:
        trips.append((trip, frozen))
    stepped, trip = limit_step(frozen, current, max_up, max_down)
    if trip is not None:
        trips.append((trip, stepped))
    bounded = min(max(stepped, min_replicas), max_replicas)
    if bounded != stepped:
        trips.append((Trip("bounds", f"{stepped} is outside [{min_replicas}, {max_replicas}]"), bounded))
    return Guarded(bounded, tuple(trips))
