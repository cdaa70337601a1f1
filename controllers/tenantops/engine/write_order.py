"""The order a pass makes its scale writes in: the most urgent first.

A pass does not always make every write it planned: each call is fenced (`Runner.may_act`), and once the
pass has outrun its interval the rest of its writes are skipped, to be decided again by the next pass
from fresher facts. Made in catalogue order, the writes skipped were always those of the tenants listed
last, pass after pass: on a loaded controller whose passes kept overrunning, a pooled workload asking for
1 -> 2 replicas was skipped six passes running (nine minutes) while the tenants before it were written
first every time, scale-downs included.

So the writes go in order of what a skipped write costs. Scale-ups come first, since demand above
capacity is served late or not at all until they are made, and among them the largest increase relative
to the replicas running (a wake from zero first of all: every request is refused until it is made),
then the larger increase in replicas. Scale-downs come after them (a late one costs money, not
requests), then anything left unchanged (a hold of the ceiling). Ties keep the plan's order, so the
order is deterministic. Where a pass makes every write, the order changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tenantops.structs.plan import ScaleAction


def urgency(action: ScaleAction) -> tuple[int, float, int]:
    """Sort key, smallest first: (scale-up 0 / scale-down 1 / unchanged 2, -relative increase, -increase)."""
    change = action.desired - action.current
    if change > 0:
        relative = math.inf if action.current <= 0 else change / action.current
        return 0, -relative, -change
    if change < 0:
        return 1, 0.0, 0
    return 2, 0.0, 0


def by_urgency(actions: Sequence[ScaleAction]) -> list[ScaleAction]:
    """The plan's scale actions in the order they are written (stable: ties keep the given order)."""
    return sorted(actions, key=urgency)
