"""The cost-to-serve curve: flat without shared or idle cost; shared and idle amortised as the fleet grows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config import load_config
from tenantops.config.catalog import Tenant
from tenantops.decide.capacity.plan import fleet_today, ledger_history, plan_for
from tenantops.decide.capacity.unit_cost import Fleet, curve, project
from tenantops.decide.cost.history import TenantSeries
from tenantops.decide.cost.ledger import Ledger

REPO = Path(__file__).resolve().parents[2]


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 500), st.integers(0, 500), st.floats(1, 1e6), st.floats(0, 1e6))
def test_a_fleet_with_no_shared_or_idle_cost_is_flat(pooled_n: int, silo_n: int, pooled: float, silo: float) -> None:
    fleet = Fleet(pooled_n, silo_n, pooled, 0.0, 0.0, silo, pool_nodes=4, pool_node_usd=140.0)
    result = curve(fleet)
    totals = [p.total_per_customer_usd for p in result.points]
    assert max(totals) - min(totals) <= 1e-9 * max(totals)
    assert result.rising == ()


def test_fixed_shared_services_make_unit_cost_fall() -> None:
    fleet = Fleet(10, 2, 1000.0, 0.0, 500.0, 300.0)
    result = curve(fleet, shared_per_node_share=0.0)
    assert result.points[0].per_customer_usd["shared"] > result.points[-1].per_customer_usd["shared"]
    assert "falls" in result.summary and result.rising == ()


def test_pool_nodes_are_whole_and_never_fewer_than_today() -> None:
    fleet = Fleet(10, 0, 1000.0, 400.0, 0.0, 0.0, pool_nodes=10, pool_node_usd=140.0)
    small = project(fleet, 5)
    assert small.nodes == 10  # the cluster's minimum
    big = project(fleet, 10_000, target_utilisation=0.7)
    assert big.nodes * 140.0 * 0.7 >= 1000.0 * 1000 > (big.nodes - 1) * 140.0 * 0.7


def test_a_component_that_grows_faster_than_customers_is_named() -> None:
    # Shared cost growing with nodes while nodes are pinned high for a tiny fleet does not rise; a silo-only
    # fleet is flat; the only way to rise is a component growing faster than customers, which none does:
    fleet = Fleet(0, 5, 0.0, 0.0, 0.0, 500.0)
    assert curve(fleet).rising == ()


def _steady_ledger(tenants: list[Tenant], since: datetime, now: datetime) -> Ledger:
    """Every tenant of `tenants` spending $1 an hour, every hour from `since` to `now`."""
    state: dict[str, object] = {}
    for tenant in tenants:
        series = TenantSeries(tenant.id)
        comp = "instances" if tenant.isolation == "silo" else "cpu"
        t = since
        while t < now:
            series.add(t, min(now, t + timedelta(hours=1)), {comp: 1_000_000})
            t += timedelta(hours=1)
        series.hours_changed = series.days_changed = True
        state.update(series.to_state())
    return Ledger(state)


@pytest.mark.parametrize("now", [
    datetime(2027, 3, 1, 20, tzinfo=UTC),  # the month's first day, not closed yet
    datetime(2027, 3, 2, 23, tzinfo=UTC),  # one closed day and most of the next
    datetime(2027, 3, 20, 12, tzinfo=UTC),
    datetime(2028, 2, 29, 6, tzinfo=UTC),  # a leap day
])
def test_todays_fleet_is_this_months_spend_scaled_by_the_hours_it_covers(now: datetime) -> None:
    """A tenant spending $1 an hour costs $730 a month (the curve's month), whatever the moment of the month:
    the month-to-date covers the hours gone by, today's included, not the closed days alone (on the 2nd
    at 23:00 that read 47 hours as one day and doubled every component of the curve)."""
    config = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    ledger = _steady_ledger(list(config.tenants), now.replace(day=1, hour=0) - timedelta(days=40), now)
    fleet_now, estimated = fleet_today(config.tenants, ledger_history(ledger, now), config.policies.pricing,
                                       config.policies.allocation, now)
    pooled = sum(1 for t in config.tenants if t.isolation == "pool")
    silo = len(config.tenants) - pooled
    assert not estimated
    assert fleet_now.pooled_usd == pytest.approx(730.0 * pooled)
    assert fleet_now.silo_usd == pytest.approx(730.0 * silo)


@pytest.mark.parametrize("first_hour", [18, 6])
def test_a_day_seen_in_part_is_forecast_as_the_day_of_spend_it_was_part_of(first_hour: int) -> None:
    """A tenant added at 18:00 spent 6 hours of its first day: money spent, counted in the month as it is,
    but not a day's spend to forecast from (the cost engine's `day_rates` rule). Read as a whole day it
    pulled the plan's forecast of every later month down by up to a third."""
    config = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    tenant = next(t for t in config.tenants if t.isolation == "pool")
    now = datetime(2027, 3, 6, 0, 5, tzinfo=UTC)
    since = datetime(2027, 3, 3, first_hour, tzinfo=UTC)
    ledger = _steady_ledger([tenant], since, now)
    plan = plan_for(config, ledger, now)
    row = next(p for p in plan.tenants if p.tenant == tenant.id)
    spent = (now - since).total_seconds() / 3600 - 5 / 60  # to 00:00 today: the ledger's closed days
    assert row.cost.point[0] == pytest.approx(spent + 26 * 24, rel=0.01)  # March: spent, then 26 whole days
    assert row.cost.point[1] == pytest.approx(30 * 24, rel=0.01)  # April, $24 a day


def test_a_month_to_date_of_a_month_gone_by_is_not_this_months_fleet() -> None:
    """A controller stopped on 28 November leaves November's month to date in the ledger. On 2 December
    that is not December's spend: scaled by December's 36 hours it made the fleet twenty times its cost.
    With nothing known of this month the curve is the catalogue's estimate, and says so."""
    config = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    stopped = datetime(2027, 11, 28, 12, tzinfo=UTC)
    ledger = _steady_ledger(list(config.tenants), datetime(2027, 11, 1, tzinfo=UTC), stopped)
    now = datetime(2027, 12, 2, 12, tzinfo=UTC)
    args = (config.tenants,)
    fleet_now, estimated = fleet_today(*args, ledger_history(ledger, now), config.policies.pricing,
                                       config.policies.allocation, now)
    from_catalogue, _ = fleet_today(*args, {}, config.policies.pricing, config.policies.allocation, now)
    assert estimated and fleet_now == from_catalogue
    assert ledger_history(ledger, stopped)[config.tenants[0].id].components  # November's, as of November
