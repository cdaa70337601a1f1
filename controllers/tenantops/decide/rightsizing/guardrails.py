"""Damping between a recommendation and a change: the step cap, the minimum change and the interval.

Kept apart from the recommender (as VPA keeps its updater apart) so the estimate can be tested for
being right and these rules for being safe, each on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Step:
    """What to do with one resource's request this pass, and why."""

    apply: bool
    value: float
    reason: str


def capped(current: float, desired: float, max_change_percent: float) -> float:
    """`desired`, moved at most `max_change_percent` of `current` away from it (no cap from zero)."""
    if current <= 0:
        return desired
    limit = current * max_change_percent / 100.0
    return min(max(desired, current - limit), current + limit)


def plan_step(
    *,
    current: float,
    desired: float,
    now: datetime,
    last_change: datetime | None,
    min_interval: timedelta,
    max_change_percent: float,
    min_change_percent: float,
    urgent: bool = False,
    fmt: Callable[[float], str] = "{:g}".format,
    cap_from: float | None = None,
    hourly: bool = False,
) -> Step:
    """Decide whether to move `current` towards `desired` now.

    `urgent` (memory below an OOM floor) skips the interval but not the step cap: after a kill the
    request must grow at once, yet a single OOM should not double a pod in one rollout.
    `cap_from` is what the step cap measures from when it is not `current`: for a daily schedule, the
    request applied at this hour before (see `RightsizingDecider._patch`).
    `hourly` (a daily schedule, whose request is the UTC hour's): at most one change per UTC hour, made on
    its first pass, whenever in the hour before the last change was; `min_interval` is not read. An hour
    counted from the last change held each hour's request into the next (a change at 02:40 kept 02:00's
    request until 03:40), and every hour's change drifted later by the lateness of the pass that made it.
    """
    if current > 0 and abs(desired - current) / current * 100.0 < min_change_percent:
        return Step(False, current, f"within {min_change_percent:g}% of the current request")
    if not urgent and last_change is not None:
        next_allowed = (datetime.fromtimestamp((last_change.timestamp() // 3600 + 1) * 3600, UTC) if hourly
                        else last_change + min_interval)
        if now < next_allowed:
            wait = next_allowed - now
            return Step(False, current, f"changed {last_change.isoformat()}; next change allowed in {wait}")
    value = capped(current if cap_from is None else cap_from, desired, max_change_percent)
    note = "" if value == desired else f" (capped at {max_change_percent:g}% per step)"
    return Step(True, value, ("urgent after OOM kill: " if urgent else "") + f"{fmt(current)} -> {fmt(value)}{note}")
