"""The cost-to-serve curve: what one customer costs at 100, 500, 1,000, 5,000 and 10,000 customers.

The fleet of today (its tier mix, and what each component cost per customer over the last days) is scaled
to N customers with the same mix, component by component, by how each one really grows:

- **pooled** (CPU, memory, storage the pooled tenants request): in proportion to the pooled customers;
- **pool capacity** (the shared cluster's nodes): whole nodes filled to the CapacityPolicy's target
  utilisation (the headroom a cluster autoscaler keeps), never fewer than today's nodes (the cluster's
  minimum), so the idle part is what that minimum, node granularity and the headroom leave over. A pool without a
  configured node count (see CostAllocation `pools`) is taken to cost exactly what its tenants use: no idle;
- **shared** services (the shared namespaces: the controller, monitoring, kube-system): a part that grows
  with the node count (per-node agents) and a fixed part (one of each service), split by the CapacityPolicy's
  `shared_per_node_share`;
- **silo** tenants' dedicated instances: in proportion to the silo customers.

The curve says which component makes the unit cost rise, if any: a component whose cost per customer at
the largest fleet is above its cost at the smallest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_SIZES = (100, 500, 1000, 5000, 10000)
COMPONENTS = ("pooled", "idle", "shared", "silo")


@dataclass(frozen=True, slots=True)
class Fleet:
    """Today's fleet, per month: customers by isolation and each component's monthly cost.

    `pool_node_usd` is one node's monthly price and `pool_nodes` today's node count (0 = unknown: the pool
    costs what its tenants use).
    """

    pooled_customers: int
    silo_customers: int
    pooled_usd: float
    idle_usd: float
    shared_usd: float
    silo_usd: float
    pool_nodes: int = 0
    pool_node_usd: float = 0.0

    @property
    def customers(self) -> int:
        return self.pooled_customers + self.silo_customers


@dataclass(frozen=True, slots=True)
class CurvePoint:
    customers: int
    per_customer_usd: Mapping[str, float]  # component -> USD per customer per month
    nodes: int

    @property
    def total_per_customer_usd(self) -> float:
        return sum(self.per_customer_usd.values())


@dataclass(frozen=True, slots=True)
class Curve:
    points: tuple[CurvePoint, ...]
    rising: tuple[str, ...]  # components whose unit cost rises from the smallest to the largest fleet
    summary: str


def project(fleet: Fleet, customers: int, shared_per_node_share: float = 0.5,
            target_utilisation: float = 0.7) -> CurvePoint:
    """Monthly cost per customer at `customers` with today's mix."""
    if fleet.customers <= 0 or customers <= 0:
        return CurvePoint(customers, dict.fromkeys(COMPONENTS, 0.0), 0)
    scale = customers / fleet.customers
    pooled = fleet.pooled_usd * scale
    silo = fleet.silo_usd * scale
    if fleet.pool_nodes > 0 and fleet.pool_node_usd > 0 and fleet.pooled_usd > 0 and fleet.idle_usd > 0:
        # Whole nodes, filled to the target utilisation, and never fewer than today's (the cluster's minimum).
        nodes = max(fleet.pool_nodes, math.ceil(pooled / (fleet.pool_node_usd * target_utilisation) - 1e-9))
        idle = max(0.0, nodes * fleet.pool_node_usd - pooled)
        node_ratio = nodes / fleet.pool_nodes
    else:
        nodes, idle = 0, fleet.idle_usd * scale
        node_ratio = scale
    per_node = fleet.shared_usd * shared_per_node_share
    shared = per_node * node_ratio + (fleet.shared_usd - per_node)
    values = {"pooled": pooled, "idle": idle, "shared": shared, "silo": silo}
    return CurvePoint(customers, {k: v / customers for k, v in values.items()}, nodes)


def curve(fleet: Fleet, sizes: Sequence[int] = DEFAULT_SIZES, shared_per_node_share: float = 0.5,
          target_utilisation: float = 0.7) -> Curve:
    points = tuple(project(fleet, n, shared_per_node_share, target_utilisation) for n in sorted(sizes))
    if not points or fleet.customers <= 0:
        return Curve(points, (), "no fleet cost known yet: the curve needs the cost ledger or the catalogue")
    first, last = points[0], points[-1]
    rising = tuple(c for c in COMPONENTS
                   if last.per_customer_usd[c] > first.per_customer_usd[c] * 1.01 + 1e-9)
    a, b = first.total_per_customer_usd, last.total_per_customer_usd
    if rising:
        summary = (f"unit cost rises from ${a:,.2f} to ${b:,.2f} per customer per month; "
                   f"rising: {', '.join(rising)}")
    elif b < a * 0.99:
        falling = max(COMPONENTS, key=lambda c: first.per_customer_usd[c] - last.per_customer_usd[c])
        summary = (f"unit cost falls from ${a:,.2f} to ${b:,.2f} per customer per month "
                   f"({first.customers:,} -> {last.customers:,} customers), mostly {falling} amortised")
    else:
        summary = f"unit cost is flat at ${a:,.2f} per customer per month"
    return Curve(points, rising, summary)
