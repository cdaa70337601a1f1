"""The cost-to-serve curve: flat without shared or idle cost; shared and idle amortised as the fleet grows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.capacity.unit_cost import Fleet, curve, project


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
