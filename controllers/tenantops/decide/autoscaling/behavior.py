"""Damping after estimation, as the HPA's `behavior`: stabilisation windows, then rate limits per period.

Stabilisation keeps the recommendations of the window; scaling down goes only as low as the highest
of them, scaling up only as high as the lowest, so one noisy pass cannot move replicas. The first time a
workload is seen its current count is recorded as a recommendation (`first_sight`), so it cannot scale
down at once.

Rate limits follow `horizontal.go` (`calculateScaleUpLimitWithScalingRules`,
`calculateScaleDownLimitWithBehaviors`): each rule has its own period, and the count at the start of that
period is the current count minus the replicas added in it plus the replicas removed in it (events of
both directions count); `select_policy` max takes the most permissive rule, min the least, disabled
forbids the direction. A limit never moves the count the other way (a period that already used its
allowance holds at the current count).

Only changes actually made are scale events, as the HPA stores an event only after its update succeeded.
The decision proposes the change it sends for writing (`record_scale`, in `WorkloadState.proposed`); the
outcome of the write settles it (`settle`, called by the engine's outcome stage through the decider, and
by the simulator, whose writes are all applied): applied, it becomes a scale event of the replicas written;
failed, refused, not sent or held by a later guard, it is dropped. A proposal still unsettled when the
next decision runs (its write's outcome unknown: the target could not be read after a restart) counts
for the rate limits as an event would, because the write may have happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from tenantops.config.kinds.scaling import Behavior
from tenantops.decide.autoscaling.state import WorkloadState

UP, DOWN = "up", "down"
# The HPA's defaults for a direction whose rules are not written (autoscaling/v2 defaults).
DEFAULT_RULES = {UP: (("pods", 4.0, 15.0), ("percent", 100.0, 15.0)), DOWN: (("percent", 100.0, 15.0),)}
DEFAULT_WINDOW = {UP: 0.0, DOWN: 300.0}


@dataclass(frozen=True, slots=True)
class Limits:
    """One direction's behaviour, compiled: window, rules as (pods|percent, value, period), selection and
    tolerance."""

    stabilization_seconds: float
    rules: tuple[tuple[str, float, float], ...] = ()
    select: str = "max"
    tolerance: float = 0.1

    @classmethod
    def of(cls, behavior: Behavior, direction: str, tolerance: float) -> Limits:
        rules: tuple[tuple[str, float, float], ...]
        if behavior.policies is not None:
            rules = tuple((str(r.type), float(r.value), float(r.period_seconds)) for r in behavior.policies)
        elif behavior.max_pods is not None or behavior.max_percent is not None:
            period = float(behavior.period_seconds)
            shorthand: list[tuple[str, float, float]] = []
            if behavior.max_pods is not None:
                shorthand.append(("pods", float(behavior.max_pods), period))
            if behavior.max_percent is not None:
                shorthand.append(("percent", float(behavior.max_percent), period))
            rules = tuple(shorthand)
        else:
            rules = DEFAULT_RULES[direction]
        window = behavior.stabilization_seconds
        return cls(
            DEFAULT_WINDOW[direction] if window is None else float(window), rules, behavior.select_policy,
            tolerance if behavior.tolerance is None else behavior.tolerance,
        )

    @property
    def longest_period(self) -> float:
        return max((period for _, _, period in self.rules), default=0.0)


def stabilize(state: WorkloadState, recommendation: int, current: int, now: float, up: Limits, down: Limits,
              record: bool = True) -> int:
    """HPA `stabilizeRecommendationWithBehaviors`; records `recommendation` in the state unless `record` is
    false (a pass whose recommendation the HPA would not have reached: see `recommender.recommend`)."""
    up_cutoff = now - up.stabilization_seconds
    down_cutoff = now - down.stabilization_seconds
    up_rec = down_rec = recommendation
    for at, rec in state.recommendations:
        if at > up_cutoff and rec < up_rec:
            up_rec = int(rec)
        if at > down_cutoff and rec > down_rec:
            down_rec = int(rec)
    keep_after = min(up_cutoff, down_cutoff)
    state.recommendations = [r for r in state.recommendations if r[0] > keep_after]
    if record:
        state.recommendations.append([now, float(recommendation)])
    result = current
    if result < up_rec:
        result = up_rec
    if result > down_rec:
        result = down_rec
    return result


def first_sight(state: WorkloadState, current: int, now: float) -> None:
    """HPA `recordInitialRecommendation`: a workload never decided before starts its window at `current`."""
    if state.decided_at is None and not state.recommendations:
        state.recommendations.append([now, float(current)])


def _changed(state: WorkloadState, now: float, period: float) -> tuple[int, int]:
    """Replicas added and removed by the scale events of the last `period` seconds (and by the proposals
    whose outcome is still unknown)."""
    added = removed = 0.0
    cutoff = now - period
    for at, change in (*state.events, *state.proposed):
        if at > cutoff:
            if change > 0:
                added += change
            else:
                removed -= change
    return int(added), int(removed)


def _limit(state: WorkloadState, current: int, now: float, limits: Limits, sign: int) -> int | None:
    """The furthest count the rules allow in direction `sign` (+1 up, -1 down); None: no rule limits it.
    `max` is the most permissive rule (the largest change), `min` the least, `disabled` none at all."""
    if limits.select == "disabled":
        return current
    proposals = []
    for kind, value, period in limits.rules:
        added, removed = _changed(state, now, period)
        start = current - added + removed
        if kind == "pods":
            proposals.append(start + sign * int(value))
        elif sign > 0:  # rounded up, or a small count could never grow
            proposals.append(math.ceil(start * (1.0 + value / 100.0)))
        else:
            proposals.append(int(start * (1.0 - value / 100.0)))
    if not proposals:
        return None
    changes = [sign * (p - current) for p in proposals]
    change = max(changes) if limits.select == "max" else min(changes)
    return current + sign * change


def scale_up_limit(state: WorkloadState, current: int, now: float, up: Limits) -> int | None:
    """The most replicas the scale-up rules allow now (None: no rule limits them)."""
    return _limit(state, current, now, up, +1)


def scale_down_limit(state: WorkloadState, current: int, now: float, down: Limits) -> int | None:
    """The fewest replicas the scale-down rules allow now (None: no rule limits them)."""
    return _limit(state, current, now, down, -1)


def rate_limit(state: WorkloadState, desired: int, current: int, now: float, up: Limits, down: Limits) -> int:
    """Cap the change by the scale-up/scale-down rules (`convertDesiredReplicasWithBehaviorRate`). The change
    is remembered only once it is final (`record_scale`): a change that bounds, caps or breakers stop later
    is not a scale event."""
    horizon = max(up.longest_period, down.longest_period)
    state.events = [e for e in state.events if e[0] > now - horizon]
    if state.proposed:
        state.proposed = [e for e in state.proposed if e[0] > now - horizon]
    if desired > current:
        limit = scale_up_limit(state, current, now, up)
        if limit is not None:
            desired = min(desired, max(limit, current))
    elif desired < current:
        limit = scale_down_limit(state, current, now, down)
        if limit is not None:
            desired = max(desired, min(limit, current))
    return desired


def record_scale(state: WorkloadState, now: float, current: int, desired: int) -> None:
    """Propose the change asked for at `now`: a scale event only once `settle` hears it was made."""
    if desired != current:
        state.proposed.append([now, float(desired - current)])


SAME_PASS = 1e-3
"""Seconds within which a proposal's time is the pass time an outcome names (it went through JSON)."""


def settle(state: WorkloadState, at: float, change: int) -> WorkloadState:
    """The state once the write proposed at `at` has an outcome: `change` replicas written (the applied
    count minus the count the write started from), or 0 when nothing was written (failed, refused, not
    sent, held by a later guard). A new state; `state` is left as it was."""
    kept = [p for p in state.proposed if abs(p[0] - at) > SAME_PASS]
    if len(kept) == len(state.proposed) and (not change or any(abs(e[0] - at) <= SAME_PASS for e in state.events)):
        return state  # nothing proposed at `at`, and nothing new to record (a second outcome of one write)
    events = [list(e) for e in state.events]
    if change:
        events.append([at, float(change)])
    return replace(state, events=events, proposed=[list(p) for p in kept])
