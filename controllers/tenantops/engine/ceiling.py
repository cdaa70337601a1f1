"""The installation-wide replica ceiling (ControllerPolicy `global_replica_ceiling`).

Per-tenant limits cannot stop many tenants from scaling up at once on a bad signal (a broken exporter,
a metrics pipeline replaying old load). This last guard runs across all tenants before acting: when
the scale-ups of a pass would take the total past the ceiling, the smallest increases are admitted
first (so the most tenants get some of what they asked for) and the rest are held back with an audit
record and one alert. Scale-downs are never held. With sharding, each replica applies the ceiling to its
own shard. This is the only ceiling: the engine applies it to the whole plan, whichever decider scaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from tenantops.structs.plan import Alert, Decision, ScaleAction, Severity

RULE = "breaker:global-ceiling"
"""The one audit name of the ceiling, like every breaker's (`breaker:<name>`)."""


def ceiling_alert(records: Sequence[Decision], ceiling: int) -> Alert:
    """One alert while the ceiling holds scale-ups back (an episode, not a mail per pass)."""
    held = ", ".join(f"{r.tenant}/{r.workload}" for r in records[:10]) + (" …" if len(records) > 10 else "")
    return Alert("breaker:global-ceiling", None, Severity.CRITICAL, "breaker",
                 f"{len(records)} scale-up(s) held at the installation ceiling of {ceiling} replicas: {held}",
                 "Raise global_replica_ceiling if the demand is real, else find the runaway signal.",
                 details={"ceiling": ceiling, "held": len(records)})


def apply_ceiling(
    actions: Sequence[ScaleAction], current_total: int, ceiling: int, now: datetime
) -> tuple[list[ScaleAction], list[Decision]]:
    """Actions with excess scale-ups turned into holds (desired = current), and a breaker record for each.

    `current_total` is the number of replicas running now across every workload in scope.
    """
    budget = ceiling - current_total + sum(max(0, a.current - a.desired) for a in actions)
    ups = sorted((a for a in actions if a.desired > a.current),
                 key=lambda a: (a.desired - a.current, a.tenant, a.workload))
    held: set[int] = set()
    for action in ups:
        increase = action.desired - action.current
        if increase <= budget:
            budget -= increase
        else:
            held.add(id(action))
    if not held:
        return list(actions), []
    out, records = [], []
    for action in actions:
        if id(action) not in held:
            out.append(action)
            continue
        out.append(replace(action, desired=action.current, rule=RULE,
                           reason=f"held at {action.current}: installation ceiling of {ceiling} replicas"))
        records.append(Decision(now, action.tenant, action.workload, "breaker", RULE,
                                f"scale-up {action.current} -> {action.desired} held: total replicas would pass "
                                f"the ceiling of {ceiling}", action.current, action.current,
                                {"wanted": action.desired, "ceiling": ceiling, "current_total": current_total}))
    return out, records
