"""The capacity plan: per tenant and for the fleet, what the coming months will need and cost.

Pure: the cost ledger's history (read by the caller), the configuration and the time come in; the plan
comes out. Forecasts are of daily spend from the ledger (`forecast.forecast_daily`), summed into calendar
months with this month's known spend added. Replica-hours (pooled tenants) and instance-hours (silo tenants)
are derived from the same forecast through the tenant's component split and its workloads' unit prices, so
the two views can never disagree.
"""

from __future__ import annotations

import calendar
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tenantops.config.catalog import Tenant, Workload
from tenantops.config.kinds.capacity import DEFAULT_CAPACITY, CapacitySpec, Scenario
from tenantops.config.kinds.common import parse_quantity
from tenantops.config.kinds.cost import AllocationSpec, PricingSpec, RegionPrices
from tenantops.config.loader import Config
from tenantops.decide.capacity import unit_cost
from tenantops.decide.capacity.commitments import CommitmentAdvice, SpotAdvice, advise, spot_saving
from tenantops.decide.capacity.forecast import forecast_daily
from tenantops.decide.capacity.scenarios import Monthly, ScenarioResult, apply, total
from tenantops.decide.cost.history import month_key
from tenantops.decide.cost.ledger import Ledger
from tenantops.quantities import gib

HOURS_PER_MONTH = 730.0
BUCKETS = ("__idle__", "__shared__")


@dataclass(frozen=True, slots=True)
class History:
    """What the ledger knows of one tenant (or bucket): known daily spend by UTC date, closed hours of the
    last two weeks (USD per hour, oldest first), this month's spend by component, and the closed days as a
    whole day's spend each (a day seen in part scaled, or left out) for the forecast; without `rates` the
    daily spend is forecast from as it is."""

    daily: Mapping[date, float]
    hourly: Sequence[float] = ()
    components: Mapping[str, float] = field(default_factory=dict)
    rates: Mapping[date, float] | None = None  # closed days as a day's spend (`Ledger.tenant_day_rates`)


@dataclass(frozen=True, slots=True)
class TenantPlan:
    tenant: str
    tier: str
    isolation: str
    cost: Monthly
    usage: Monthly  # replica-hours (pool) or instance-hours (silo), estimated from the cost
    usage_unit: str
    method: str
    history_days: int


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    at: datetime
    months: tuple[str, ...]
    tenants: tuple[TenantPlan, ...]
    buckets: Mapping[str, Monthly]
    fleet: Monthly
    scenarios: tuple[ScenarioResult, ...]
    curve: unit_cost.Curve
    commitments: tuple[CommitmentAdvice, ...]
    spot: tuple[SpotAdvice, ...]
    notes: tuple[str, ...]


def capacity_policy(config: Config) -> CapacitySpec:
    """The CapacityPolicy named `default`, or the defaults when the policies have none."""
    found = config.policies.docs.get(("CapacityPolicy", "default"))
    return found.spec if found is not None and isinstance(found.spec, CapacitySpec) else DEFAULT_CAPACITY


def ledger_history(ledger: Ledger, now: datetime) -> dict[str, History]:
    """Each tenant's (and bucket's) known days, last two weeks of closed hours, and month-to-date split.

    The split is `now`'s month's only: a ledger last written in an earlier month (the controller stopped)
    still holds that month's, which is nothing spent yet this month (as `Ledger.budget` reads it)."""
    month = month_key(now.date())
    mtd = {t: m for t, m in ledger.month_to_date(include_buckets=True).items() if m.month == month}
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    out: dict[str, History] = {}
    for tenant in ledger.tenants(include_buckets=True):
        daily = ledger.tenant_daily(tenant, date(1970, 1, 2), now.date() + timedelta(days=1))
        hourly = [h.usd for h in ledger.hourly(tenant, now - timedelta(days=14)) if h.hour < this_hour]
        comps = dict(mtd[tenant].components) if tenant in mtd else {}
        out[tenant] = History(daily, hourly, comps, ledger.tenant_day_rates(tenant))
    return out


def plan_for(config: Config, ledger: Ledger, now: datetime, scenarios: Sequence[Scenario] = (),
             months: int | None = None, *, per_tenant: bool = True) -> CapacityPlan:
    """The plan from a configuration and the cost ledger, as `tenantops plan` and the weekly report show it
    (the report forecasts the fleet's total only: one series, whatever the number of tenants)."""
    return build_plan(config.tenants, ledger_history(ledger, now), config.policies.pricing,
                      config.policies.allocation, capacity_policy(config), now, scenarios, months,
                      per_tenant=per_tenant)


def month_keys(today: date, months: int) -> list[str]:
    out = []
    y, m = today.year, today.month
    for _ in range(months):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _last_day(months: Sequence[str]) -> date:
    y, m = (int(p) for p in months[-1].split("-"))
    return date(y, m, calendar.monthrange(y, m)[1])


def monthly_forecast(daily: Mapping[date, float], today: date, months: Sequence[str],
                     coverage: float, rates: Mapping[date, float] | None = None) -> tuple[Monthly, str, int]:
    """Closed days before `today` forecast to the end of the last month; known days of this month added.

    `rates` are the days to forecast from, a day seen in part as the day's spend it was part of (default:
    `daily` as it is); the month's known days add what was spent."""
    known = {d: v for d, v in daily.items() if d < today}
    if not known:
        return Monthly.zero(months), "none", 0
    basis = known if rates is None else {d: v for d, v in rates.items() if d < today}
    start = min(known)
    history = [basis.get(start + timedelta(days=i)) for i in range((today - start).days)]
    horizon = (_last_day(months) - today).days + 1
    fc = forecast_daily(history, horizon, coverage)
    point = dict.fromkeys(months, 0.0)
    low = dict.fromkeys(months, 0.0)
    high = dict.fromkeys(months, 0.0)
    for d, v in known.items():
        key = f"{d.year:04d}-{d.month:02d}"
        if key == months[0]:
            for acc in (point, low, high):
                acc[key] += v
    for i in range(horizon):
        d = today + timedelta(days=i)
        key = f"{d.year:04d}-{d.month:02d}"
        point[key] += fc.point[i]
        low[key] += fc.low[i]
        high[key] += fc.high[i]
    return (Monthly(tuple(months), tuple(point[m] for m in months), tuple(low[m] for m in months),
                    tuple(high[m] for m in months)), fc.method, sum(1 for v in history if v is not None))


def _prices(pricing: PricingSpec, region: str) -> RegionPrices | None:
    return pricing.regions.get(region)


def replica_hour_usd(workload: Workload, prices: RegionPrices) -> float:
    """What one replica of `workload` costs per hour at its declared requests."""
    cores = parse_quantity(workload.cpu_request)
    memory = gib(parse_quantity(workload.memory_request))
    return cores * prices.cpu_core_hour + memory * prices.memory_gib_hour


def _instance_price(workload: Workload, prices: RegionPrices) -> tuple[str, float] | None:
    if workload.silo_instance_type in prices.instances:
        return workload.silo_instance_type, prices.instances[workload.silo_instance_type].on_demand
    return None


def _usage_from_cost(tenant: Tenant, cost: Monthly, components: Mapping[str, float],
                     pricing: PricingSpec) -> tuple[Monthly, str]:
    prices = _prices(pricing, tenant.region)
    total_mtd = sum(components.values())
    if tenant.isolation == "silo":
        share = components.get("instances", 0.0) / total_mtd if total_mtd > 0 else 1.0
        priced = [p for p in (_instance_price(w, prices) for w in tenant.workloads) if p] if prices else []
        if not priced:
            return Monthly.zero(cost.months), "instance-hours"
        mean_price = sum(p for _, p in priced) / len(priced)
        return cost.scaled(share / mean_price), "instance-hours"
    share = (components.get("cpu", 0.0) + components.get("memory", 0.0)) / total_mtd if total_mtd > 0 else 1.0
    if prices is None:
        return Monthly.zero(cost.months), "replica-hours"
    per_replica = [replica_hour_usd(w, prices) for w in tenant.workloads]
    mean_price = sum(per_replica) / len(per_replica)
    if mean_price <= 0:
        return Monthly.zero(cost.months), "replica-hours"
    return cost.scaled(share / mean_price), "replica-hours"


def _catalogue_month(tenant: Tenant, pricing: PricingSpec) -> dict[str, float]:
    """A month at minimum replicas, for tenants the ledger does not know yet (estimate, not history)."""
    prices = _prices(pricing, tenant.region)
    if prices is None:
        return {}
    if tenant.isolation == "silo":
        usd = sum(w.min_replicas * (p[1] if (p := _instance_price(w, prices)) else 0.0) for w in tenant.workloads)
        return {"instances": usd * HOURS_PER_MONTH}
    cores = sum(w.min_replicas * parse_quantity(w.cpu_request) for w in tenant.workloads)
    memory = gib(sum(w.min_replicas * parse_quantity(w.memory_request) for w in tenant.workloads))
    return {"cpu": cores * prices.cpu_core_hour * HOURS_PER_MONTH,
            "memory": memory * prices.memory_gib_hour * HOURS_PER_MONTH}


def fleet_today(tenants: Sequence[Tenant], history: Mapping[str, History], pricing: PricingSpec,
                allocation: AllocationSpec, now: datetime) -> tuple[unit_cost.Fleet, bool]:
    """Today's fleet per month by component: from this month's ledger (scaled to a month) where it has
    data, else estimated from the catalogue and the allocation's pool nodes. Second value: estimated.

    The month-to-date holds every hour of the month up to `now`, today's open hours too, so it is scaled
    by those hours: scaled by the closed days alone, 47 hours on the 2nd at 23:00 counted as one day and
    the curve showed twice the fleet's cost."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    hours = max((now - month_start).total_seconds() / 3600, 1 / 60)
    factor = HOURS_PER_MONTH / hours
    pooled = idle = shared = silo = 0.0
    have_ledger = any(sum(h.components.values()) > 0 for h in history.values())
    node_usd = 0.0
    nodes = 0
    for region, pool in allocation.pools.items():
        prices = _prices(pricing, region)
        if prices and pool.instance_type in prices.instances and pool.nodes:
            nodes += pool.nodes
            node_usd += pool.nodes * prices.instances[pool.instance_type].on_demand * HOURS_PER_MONTH
    for tenant in tenants:
        comps = dict(history[tenant.id].components) if tenant.id in history and have_ledger else {}
        comps = {k: v * factor for k, v in comps.items()} if comps else _catalogue_month(tenant, pricing)
        idle += comps.get("idle", 0.0)
        shared += comps.get("shared", 0.0)
        direct = sum(v for k, v in comps.items() if k not in ("idle", "shared"))
        if tenant.isolation == "silo":
            silo += direct
        else:
            pooled += direct
    if have_ledger:
        for bucket, name in ((BUCKETS[0], "idle"), (BUCKETS[1], "shared")):
            amount = sum(history[bucket].components.values()) * factor if bucket in history else 0.0
            if name == "idle":
                idle += amount
            else:
                shared += amount
    else:
        idle = max(0.0, node_usd - pooled) if node_usd else 0.0
        for region, pool in allocation.pools.items():
            prices = _prices(pricing, region)
            if prices:
                shared += (pool.shared_cpu_cores * prices.cpu_core_hour
                           + pool.shared_memory_gib * prices.memory_gib_hour) * HOURS_PER_MONTH
    pooled_n = sum(1 for t in tenants if t.isolation == "pool")
    fleet = unit_cost.Fleet(pooled_n, len(tenants) - pooled_n, pooled, idle, shared, silo, nodes,
                            node_usd / nodes if nodes else 0.0)
    return fleet, not have_ledger


def _spot(tenants: Sequence[Tenant], plans: Mapping[str, TenantPlan], spec: CapacitySpec,
          pricing: PricingSpec, allocation: AllocationSpec) -> list[SpotAdvice]:
    out = []
    for tenant in tenants:
        plan = plans.get(tenant.id)
        prices = _prices(pricing, tenant.region)
        if plan is not None:  # next month's forecast (this one is partly gone)
            monthly = plan.cost.point[1] if len(plan.cost.point) > 1 else plan.cost.point[0]
        else:  # no history yet: the catalogue's month at minimum replicas
            monthly = sum(_catalogue_month(tenant, pricing).values())
        weights = [w.min_replicas * (replica_hour_usd(w, prices) if prices else 1.0) or 1.0 for w in tenant.workloads]
        for workload, weight in zip(tenant.workloads, weights, strict=True):
            eligible = tenant.tier in spec.spot.tiers and (
                not spec.spot.workloads or any(fnmatch.fnmatchcase(workload.name, p) for p in spec.spot.workloads))
            cost = monthly * weight / sum(weights)
            if not eligible:
                out.append(SpotAdvice(tenant.id, workload.name, False, round(cost, 2), 0.0,
                                                  f"tier {tenant.tier} / workload {workload.name} not allowed on spot "
                                                  "by the CapacityPolicy"))
                continue
            itype = workload.silo_instance_type if tenant.isolation == "silo" else (
                allocation.pools[tenant.region].instance_type if tenant.region in allocation.pools else None)
            inst = prices.instances.get(itype) if prices and itype else None
            saving = spot_saving(cost, inst.on_demand, inst.spot) if inst else 0.0
            reason = (f"on spot {itype} at ${inst.spot}/h instead of ${inst.on_demand}/h" if inst and inst.spot
                      else "no spot price for its instance type in the pricing policy")
            out.append(SpotAdvice(tenant.id, workload.name, True, round(cost, 2), round(saving, 2),
                                              reason))
    return out


def _commitments(tenants: Sequence[Tenant], history: Mapping[str, History], spec: CapacitySpec,
                 pricing: PricingSpec, allocation: AllocationSpec,
                 trend: float) -> tuple[list[CommitmentAdvice], list[str]]:
    out: list[CommitmentAdvice] = []
    notes: list[str] = []
    for region, pool in sorted(allocation.pools.items()):
        prices = _prices(pricing, region)
        inst = prices.instances.get(pool.instance_type) if prices else None
        if inst is None or inst.reserved is None or pool.nodes == 0:
            continue
        if pool.purchase != "on_demand":
            notes.append(f"{region} pool nodes are bought {pool.purchase}: no further commitment suggested")
            continue
        usage = [float(pool.nodes)] * (14 * 24)
        out.append(advise(region, pool.instance_type, usage, trend, inst.on_demand, inst.reserved,
                                      spec.commitment.term_years))
    # Silo instances: hourly instance counts estimated from each silo tenant's hourly spend.
    by_key: dict[tuple[str, str], list[float]] = {}
    for tenant in tenants:
        if tenant.isolation != "silo" or tenant.id not in history:
            continue
        prices = _prices(pricing, tenant.region)
        priced = [(w, p) for w in tenant.workloads if prices and (p := _instance_price(w, prices))]
        hours = list(history[tenant.id].hourly)
        if not priced or not hours:
            continue
        comps = history[tenant.id].components
        share = comps.get("instances", 0.0) / sum(comps.values()) if sum(comps.values()) > 0 else 1.0
        weights = [max(1, w.min_replicas) * p[1] for w, p in priced]
        for (_w, (itype, price)), weight in zip(priced, weights, strict=True):
            counts = [usd * share * weight / sum(weights) / price for usd in hours]
            acc = by_key.setdefault((tenant.region, itype), [0.0] * len(counts))
            if len(acc) < len(counts):
                acc[:0] = [0.0] * (len(counts) - len(acc))
            offset = len(acc) - len(counts)
            for i, c in enumerate(counts):
                acc[offset + i] += c
    for (region, itype), usage in sorted(by_key.items()):
        prices = _prices(pricing, region)
        inst = prices.instances.get(itype) if prices else None
        if inst is None or inst.reserved is None:
            continue
        out.append(advise(region, itype, usage, trend, inst.on_demand, inst.reserved,
                                      spec.commitment.term_years))
    return out, notes


def build_plan(tenants: Sequence[Tenant], history: Mapping[str, History], pricing: PricingSpec,
               allocation: AllocationSpec, spec: CapacitySpec, now: datetime,
               scenarios: Sequence[Scenario] = (), months: int | None = None, *,
               per_tenant: bool = True) -> CapacityPlan:
    today = now.date()
    keys = month_keys(today, months or spec.months)
    plans: dict[str, TenantPlan] = {}
    notes: list[str] = []
    for tenant in tenants if per_tenant else ():
        h = history.get(tenant.id)
        if h is None or not any(d < today for d in h.daily):
            notes.append(f"{tenant.id}: no closed day in the cost ledger yet; not forecast")
            continue
        cost, method, days = monthly_forecast(h.daily, today, keys, spec.coverage, h.rates)
        usage, unit = _usage_from_cost(tenant, cost, h.components, pricing)
        plans[tenant.id] = TenantPlan(tenant.id, tenant.tier, tenant.isolation, cost, usage, unit, method, days)
    buckets = {b: monthly_forecast(history[b].daily, today, keys, spec.coverage, history[b].rates)[0]
               for b in BUCKETS if b in history} if per_tenant else {}
    cost_by_tenant = {t: p.cost for t, p in plans.items()}
    if per_tenant:
        fleet = total({**cost_by_tenant, **buckets}, keys)
    else:
        daily: dict[date, float] = {}
        rates: dict[date, float] = {}
        for h in history.values():
            for d, v in h.daily.items():
                daily[d] = daily.get(d, 0.0) + v
            for d, v in (h.daily if h.rates is None else h.rates).items():
                rates[d] = rates.get(d, 0.0) + v
        fleet = monthly_forecast(daily, today, keys, spec.coverage, rates)[0]
    tiers = {t.id: t.tier for t in tenants}
    results = []
    for scenario in scenarios:
        result = apply(scenario, cost_by_tenant, tiers, keys)
        with_buckets = total({**result.tenants, **buckets}, keys)
        results.append(ScenarioResult(result.name, result.tenants, with_buckets, result.customers,
                                      (*result.notes, "idle and shared buckets held as today (see the unit-cost "
                                       "curve for how they grow)") if buckets else result.notes))
    fleet_now, estimated = fleet_today(tenants, history, pricing, allocation, now)
    if estimated:
        notes.append("unit-cost curve estimated from the catalogue at minimum replicas (no ledger data yet)")
    curve = unit_cost.curve(fleet_now, spec.sizes, spec.shared_per_node_share, spec.pool_target_utilisation)
    run_rate = _fleet_run_rate(history, today)
    trend = (fleet.point[1] / (run_rate * _days_in(keys[1])) if len(keys) > 1 and run_rate > 0 else 1.0)
    advice, more = _commitments(tenants, history, spec, pricing, allocation, trend)
    notes.extend(more)
    return CapacityPlan(now, tuple(keys), tuple(plans[t.id] for t in tenants if t.id in plans), buckets, fleet,
                        tuple(results), curve, tuple(advice), tuple(_spot(tenants, plans, spec, pricing, allocation)),
                        tuple(notes))


def _days_in(month: str) -> int:
    y, m = (int(p) for p in month.split("-"))
    return calendar.monthrange(y, m)[1]


def _fleet_run_rate(history: Mapping[str, History], today: date) -> float:
    """Mean daily fleet spend over the last seven closed days."""
    week = [today - timedelta(days=i) for i in range(1, 8)]
    totals = [sum(h.daily.get(d, 0.0) for h in history.values()) for d in week]
    known = [t for t in totals if t > 0]
    return sum(known) / len(known) if known else 0.0
