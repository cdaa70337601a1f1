"""Cost allocation for one interval, after OpenCost: workloads, idle capacity and shared services.

Pooled tenants pay for CPU and memory at max(request, usage) and for their storage. The pool's nodes cost
what they cost whether or not tenants use them: the unit prices are scaled by one factor so that a full
node costs exactly its instance price, what the shared namespaces hold is *shared*, and what nobody holds is
*idle*. Both are spread over the pool's tenants by the CostAllocation rule (`proportional` to each tenant's
own cost, `even`, or kept `separate`) and always reported as their own lines. Silo tenants pay for the
instance-hours of their own groups. Pooled tenants also pay for the network transfer the network-costs
daemonset measured (`observe.network`), by OpenCost's classes, at the region's `transfer_gb` prices per
GiB: internet, inter-region and inter-zone egress, same-zone traffic free; where it is not measured the
tenant has no `network` component at all (unknown, not $0). Every amount is whole micro-dollars, so
    sum(tenant totals) + idle bucket + shared bucket == total
holds exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tenantops.config.kinds.cost import AllocationSpec, InstancePrice, PricingSpec, RegionPrices
from tenantops.decide.cost.money import split_mapping, to_micro
from tenantops.decide.cost.usage import NetworkUsage, WorkloadUsage
from tenantops.quantities import gib

IDLE = "__idle__"
SHARED = "__shared__"
HOURS_PER_MONTH = 730.0  # AWS bills storage per GB-month of 730 hours
COMPONENTS = ("cpu", "memory", "storage", "instances", "network", "idle", "shared")

Purchase = Literal["on_demand", "spot", "reserved"]


def instance_price(instance: InstancePrice, purchase: Purchase) -> float:
    """Hourly price of an instance for a purchase option, on-demand when the option is not listed."""
    price = getattr(instance, purchase)
    return float(price if price is not None else instance.on_demand)


def cheapest_fit(prices: RegionPrices, cpu: float, memory_gib: float) -> str | None:
    """The cheapest instance type with at least `cpu` cores and `memory_gib` GiB, for silo workloads
    whose catalogue entry names no instance type."""
    fits = [(p.on_demand, name) for name, p in prices.instances.items() if p.vcpu >= cpu and p.memory_gib >= memory_gib]
    return min(fits)[1] if fits else None


@dataclass
class TenantCost:
    """One tenant's cost for the interval, by component, in micro-dollars."""

    tenant: str
    cpu: int = 0
    memory: int = 0
    storage: int = 0
    instances: int = 0
    network: int = 0
    idle: int = 0
    shared: int = 0
    estimated: bool = False
    network_measured: bool = False  # False: `network` is unknown and left out of `components()`
    workloads: dict[str, int] = field(default_factory=dict)  # direct cost per workload

    @property
    def direct(self) -> int:
        return self.cpu + self.memory + self.storage + self.instances + self.network

    @property
    def total(self) -> int:
        return self.direct + self.idle + self.shared

    def components(self) -> dict[str, int]:
        """Cost by component; `network` only where it was measured."""
        return {c: getattr(self, c) for c in COMPONENTS if c != "network" or self.network_measured}


@dataclass(frozen=True)
class PoolCost:
    """What one region's shared pool cost and where it went."""

    region: str
    asset: int  # what the nodes cost (or what tenants held, when no pool is configured or it is over-committed)
    workloads: int
    shared: int
    idle: int
    price_factor: float
    overcommitted: bool


@dataclass
class Allocation:
    """Result of `allocate`: per-tenant costs, undistributed idle/shared, and the total they add up to."""

    hours: float
    tenants: dict[str, TenantCost]
    idle_bucket: int
    shared_bucket: int
    idle_total: int
    shared_total: int
    total: int
    pools: dict[str, PoolCost]
    issues: tuple[str, ...] = ()

    def conserved(self) -> bool:
        return sum(t.total for t in self.tenants.values()) + self.idle_bucket + self.shared_bucket == self.total


def _spread(amount: int, rule: str, held: dict[str, int], tenants: dict[str, TenantCost], attr: str) -> int:
    """Add `amount` to the tenants' `attr` by `rule` (weights: what each holds in this pool); returns what
    stays in the bucket."""
    if amount == 0 or rule == "separate" or not held:
        return amount
    weights = {t: float(h) if rule == "proportional" else 1.0 for t, h in held.items()}
    for name, part in split_mapping(amount, weights).items():
        setattr(tenants[name], attr, getattr(tenants[name], attr) + part)
    return 0


def _charge_network(region: str, prices: RegionPrices, usages: Iterable[NetworkUsage],
                    costs: dict[str, TenantCost], issues: list[str]) -> int:
    """Price each tenant's egress at the region's `transfer_gb` (per GiB); returns what was charged. A
    class without a price charges nothing, said once per region and class."""
    charged = 0
    for n in usages:
        cost = costs[n.tenant]
        cost.network_measured = True
        cost.estimated = cost.estimated or n.untrusted > 0
        for kind, sent in sorted(n.bytes.items()):
            price = prices.transfer_gb.get(kind)
            if price is None:
                missing = (f"region {region}: no transfer_gb price for {kind} in the Pricing policy; "
                           "that egress is not charged")
                if sent > 0 and missing not in issues:
                    issues.append(missing)
                continue
            amount = to_micro(gib(sent) * price)
            cost.network += amount
            charged += amount
    return charged


def allocate(
    usages: Sequence[WorkloadUsage],
    pricing: PricingSpec,
    rules: AllocationSpec,
    hours: float,
    tenants: Iterable[str] = (),
    network: Sequence[NetworkUsage] = (),
) -> Allocation:
    """Allocate `hours` of cost. `tenants` lists tenants to report even when they hold nothing; `network`
    is the egress measured over the same interval."""
    issues: list[str] = []
    costs: dict[str, TenantCost] = {t: TenantCost(t) for t in tenants}
    by_region: dict[str, list[WorkloadUsage]] = {}
    for u in usages:
        by_region.setdefault(u.region, []).append(u)
        costs.setdefault(u.tenant, TenantCost(u.tenant))
    egress: dict[str, list[NetworkUsage]] = {}
    for n in network:
        egress.setdefault(n.region, []).append(n)
        costs.setdefault(n.tenant, TenantCost(n.tenant))
    pools: dict[str, PoolCost] = {}
    idle_bucket = shared_bucket = idle_total = shared_total = total = 0
    # A pool's nodes are billed whether or not any tenant runs there: a region is costed when it has a
    # pool or a workload, so an emptied pool is all idle (and shared) rather than missing from the total.
    for region in sorted(set(by_region) | set(rules.pools) | set(egress)):
        prices = pricing.regions.get(region)
        if prices is None:
            issues.append(f"region {region}: no prices in the Pricing policy; its workloads are not costed")
            continue
        pool_spec = rules.pools.get(region)
        factor, asset = 1.0, None
        node = prices.instances.get(pool_spec.instance_type) if pool_spec else None
        if pool_spec is not None and node is None:
            issues.append(f"region {region}: pool instance type {pool_spec.instance_type!r} has no price")
        if pool_spec is not None and node is not None:
            list_price = node.vcpu * prices.cpu_core_hour + node.memory_gib * prices.memory_gib_hour
            node_price = instance_price(node, pool_spec.purchase)
            factor = node_price / list_price if list_price > 0 else 1.0
            asset = to_micro(pool_spec.nodes * node_price * hours)
        cpu_price, mem_price = prices.cpu_core_hour * factor, prices.memory_gib_hour * factor
        storage_price = prices.storage_gb_month / HOURS_PER_MONTH
        pooled: dict[str, int] = {}  # CPU and memory each tenant holds on this region's pool
        region_total = 0
        for u in by_region.get(region, ()):
            cost = costs[u.tenant]
            cost.estimated = cost.estimated or u.estimated
            storage = to_micro(u.storage_gib * storage_price * hours)
            if u.isolation == "pool":
                cpu = to_micro(u.cpu_cores * cpu_price * hours)
                mem = to_micro(u.memory_gib * mem_price * hours)
                cost.cpu += cpu
                cost.memory += mem
                direct = cpu + mem + storage
                pooled[u.tenant] = pooled.get(u.tenant, 0) + cpu + mem
            else:
                itype = u.instance_type
                if itype is None or itype not in prices.instances:
                    if itype is not None:
                        issues.append(f"{u.tenant}/{u.workload}: instance type {itype!r} has no price in {region}")
                    itype = cheapest_fit(prices, 0.0, 0.0)
                inst = to_micro(u.instances * instance_price(prices.instances[itype], rules.silo_purchase) * hours) \
                    if itype is not None else 0
                cost.instances += inst
                direct = inst + storage
            cost.storage += storage
            cost.workloads[u.workload] = cost.workloads.get(u.workload, 0) + direct
            region_total += direct
        region_total += _charge_network(region, prices, egress.get(region, ()), costs, issues)
        held = sum(pooled.values())
        shared = to_micro(
            (pool_spec.shared_cpu_cores * cpu_price + pool_spec.shared_memory_gib * mem_price) * hours
        ) if pool_spec is not None and asset is not None else 0
        overcommitted = asset is not None and held + shared > asset
        if overcommitted:
            issues.append(f"region {region}: tenants and shared services hold more than the pool's nodes provide")
        effective_asset = held + shared if asset is None or overcommitted else asset
        idle = effective_asset - held - shared
        region_total += shared + idle
        idle_total += idle
        shared_total += shared
        idle_bucket += _spread(idle, rules.idle, pooled, costs, "idle")
        shared_bucket += _spread(shared, rules.shared, pooled, costs, "shared")
        pools[region] = PoolCost(region, effective_asset, held, shared, idle, factor, overcommitted)
        total += region_total
    return Allocation(hours, costs, idle_bucket, shared_bucket, idle_total, shared_total, total, pools, tuple(issues))
