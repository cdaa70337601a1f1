"""Instance types for silo tenants: the cheapest type that fits the recommendation with headroom.

Like AWS Compute Optimizer, the answer comes with the monthly saving and a performance risk from 0
(very low) to 4 (very high): how close the workload's upper bound comes to the new type's capacity,
raised one step while the recommendation has little history behind it.
"""

from __future__ import annotations

from tenantops.config.kinds.cost import InstancePrice, RegionPrices
from tenantops.decide.rightsizing.pricing import HOURS_PER_MONTH
from tenantops.quantities import GIB, gib
from tenantops.structs.rightsizing_findings import InstanceRecommendation

RISK_LABELS = ("very low", "low", "medium", "high", "very high")


def _choice(current: str | None, recommended: str | None, current_month: float | None,
            recommended_month: float | None, saving_month: float | None, risk: int,
            reason: str) -> InstanceRecommendation:
    return InstanceRecommendation(current, recommended, current_month, recommended_month, saving_month, risk,
                                  RISK_LABELS[risk], reason, change=None)


def _risk(cpu_upper: float, mem_upper: float, price: InstancePrice, confidence: float) -> int:
    pressure = max(cpu_upper / price.vcpu, mem_upper / (price.memory_gib * GIB))
    risk = 0 if pressure <= 0.6 else 1 if pressure <= 0.8 else 2 if pressure <= 1.0 else 3 if pressure <= 1.25 else 4
    if confidence < 0.5:
        risk += 1
    return min(risk, 4)


def recommend_instance(
    prices: RegionPrices,
    *,
    cpu: float,
    memory: float,
    cpu_upper: float,
    memory_upper: float,
    headroom: float,
    replicas: float,
    confidence: float,
    current_type: str | None,
) -> InstanceRecommendation:
    """The cheapest on-demand type with vcpu >= cpu x (1 + headroom) and memory >= memory x (1 + headroom).

    `cpu` is in cores and `memory` in bytes, per instance. Ties in price go to the larger memory, then the
    name, so the choice is deterministic. The change to make (`change`) is the caller's to say.
    """
    need_cpu = cpu * (1.0 + headroom)
    need_mem = gib(memory * (1.0 + headroom))
    fitting = sorted(
        ((p.on_demand, -p.memory_gib, name, p) for name, p in prices.instances.items()
         if p.vcpu >= need_cpu and p.memory_gib >= need_mem),
    )
    current = prices.instances.get(current_type) if current_type else None
    current_month = current.on_demand * replicas * HOURS_PER_MONTH if current else None
    if not fitting:
        return _choice(
            current_type, None, current_month, None, None, 4,
            f"no instance type in the price list has {need_cpu:.2f} vCPU and {need_mem:.1f} GiB",
        )
    _, _, name, price = fitting[0]
    month = price.on_demand * replicas * HOURS_PER_MONTH
    saving = current_month - month if current_month is not None else None
    risk = _risk(cpu_upper, memory_upper, price, confidence)
    reason = (
        f"cheapest type with >= {need_cpu:.2f} vCPU and >= {need_mem:.1f} GiB "
        f"(recommendation + {headroom:.0%} headroom)"
    )
    if current_type and current is None:
        reason += f"; current type {current_type} is not in the price list"
    return _choice(current_type, name, current_month, month, saving, risk, reason)
