"""Allocation conserves money exactly and follows OpenCost's model."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.cost.helpers import make_config, snapshot, tenant

from tenantops.config.kinds.cost import AllocationSpec, PoolSpec, PricingSpec
from tenantops.decide.cost.allocation import allocate
from tenantops.decide.cost.money import to_micro
from tenantops.decide.cost.usage import WorkloadUsage, workload_usages

PRICING = PricingSpec.model_validate({
    "regions": {
        "us-east-1": {
            "cpu_core_hour": 0.03, "memory_gib_hour": 0.004, "storage_gb_month": 0.073,
            "instances": {"m6i.xlarge": {"vcpu": 4, "memory_gib": 16, "on_demand": 0.2, "spot": 0.08},
                          "m6i.large": {"vcpu": 2, "memory_gib": 8, "on_demand": 0.1}},
        },
        "eu-west-1": {"cpu_core_hour": 0.04, "memory_gib_hour": 0.005, "storage_gb_month": 0.1,
                      "instances": {"m6i.large": {"vcpu": 2, "memory_gib": 8, "on_demand": 0.12}}},
    }
})


def pool(tenant: str, cpu: float, mem: float, storage: float = 0.0, region: str = "us-east-1") -> WorkloadUsage:
    return WorkloadUsage(tenant, "api", region, "pool", cpu, mem, storage, 0.0, None)


def silo(tenant: str, instances: float, itype: str | None = "m6i.large", region: str = "us-east-1") -> WorkloadUsage:
    return WorkloadUsage(tenant, "api", region, "silo", 0.0, 0.0, 0.0, instances, itype)


def rules(idle: str = "proportional", shared: str = "even", nodes: int = 2, shared_cpu: float = 1.0,
          shared_mem: float = 4.0) -> AllocationSpec:
    return AllocationSpec.model_validate({
        "idle": idle, "shared": shared,
        "pools": {"us-east-1": {"instance_type": "m6i.xlarge", "nodes": nodes, "shared_cpu_cores": shared_cpu,
                                "shared_memory_gib": shared_mem}},
    })


def test_prices_scale_so_a_full_node_costs_its_instance_price() -> None:
    # List price of an m6i.xlarge from unit prices: 4*0.03 + 16*0.004 = 0.184; the node costs 0.2.
    a = allocate([pool("a", 4, 16)], PRICING, rules(nodes=1, shared_cpu=0, shared_mem=0), 1.0)
    assert a.tenants["a"].cpu + a.tenants["a"].memory == to_micro(0.2)
    assert a.idle_total == 0
    assert abs(a.pools["us-east-1"].price_factor - 0.2 / 0.184) < 1e-12


def test_idle_and_shared_are_reported_and_spread_by_rule() -> None:
    # Two nodes cost 0.4/h; tenants hold one node's worth between them, shared services hold 1 core + 4 GiB.
    a = allocate([pool("a", 3, 12), pool("b", 1, 4)], PRICING, rules(), 1.0)
    factor = 0.2 / 0.184
    shared = to_micro((1 * 0.03 + 4 * 0.004) * factor)
    assert a.shared_total == shared
    assert a.idle_total == to_micro(0.4) - (a.tenants["a"].cpu + a.tenants["a"].memory
                                            + a.tenants["b"].cpu + a.tenants["b"].memory) - shared
    # Idle proportional to own cost (3:1), shared even.
    assert abs(a.tenants["a"].idle - 3 * a.tenants["b"].idle) <= 3
    assert abs(a.tenants["a"].shared - a.tenants["b"].shared) <= 1
    assert a.idle_bucket == a.shared_bucket == 0
    assert a.total == to_micro(0.4)
    assert a.conserved()


def test_separate_rule_keeps_idle_and_shared_in_their_buckets() -> None:
    a = allocate([pool("a", 1, 4)], PRICING, rules(idle="separate", shared="separate"), 1.0)
    assert a.tenants["a"].idle == a.tenants["a"].shared == 0
    assert a.idle_bucket == a.idle_total > 0
    assert a.shared_bucket == a.shared_total > 0
    assert a.conserved()


def test_silo_tenants_pay_instance_hours_and_no_pool_share() -> None:
    a = allocate([silo("s", 3), pool("p", 1, 4)], PRICING, rules(), 2.0)
    assert a.tenants["s"].instances == to_micro(3 * 0.1 * 2.0)
    assert a.tenants["s"].idle == a.tenants["s"].shared == 0
    assert a.conserved()


def test_storage_is_charged_per_gib_month() -> None:
    a = allocate([pool("a", 0, 0, storage=100)], PRICING, AllocationSpec(), 730.0)
    assert a.tenants["a"].storage == to_micro(100 * 0.073)


def test_storage_bytes_read_are_priced_per_gib_month_as_aws_bills_them(tmp_path: Path) -> None:
    """AWS's billing "GB" is 2^30 bytes: a 100 GiB volume at $0.023 per GB-month costs $2.30 a month."""
    config = make_config(tmp_path, [tenant("a")])
    now = datetime(2026, 11, 2, tzinfo=UTC)
    snap = snapshot(now, {("a", "api"): {"cpu": 0.0, "cpu_request": 0.0, "memory": 0.0, "memory_request": 0.0,
                                         "replicas": 1, "storage_bytes": 100 * 2**30}})
    prices = config.policies.pricing
    a = allocate(workload_usages(snap, config), prices, AllocationSpec(), 730.0)
    assert a.tenants["a"].storage == to_micro(100 * prices.regions["us-east-1"].storage_gb_month)


def test_without_a_pool_there_is_no_idle_and_total_is_what_tenants_hold() -> None:
    a = allocate([pool("a", 2, 8, region="eu-west-1")], PRICING, rules(), 1.0)
    assert a.pools["eu-west-1"].idle == a.pools["eu-west-1"].shared == 0
    assert a.tenants["a"].total == to_micro(2 * 0.04) + to_micro(8 * 0.005)
    # us-east-1's pool has nobody on it: its nodes are the rest of the total, all in the buckets
    assert a.total == a.tenants["a"].total + a.pools["us-east-1"].asset


def test_overcommitted_pool_is_flagged_not_negative_idle() -> None:
    a = allocate([pool("a", 40, 100)], PRICING, rules(nodes=1), 1.0)
    assert a.idle_total == 0
    assert a.pools["us-east-1"].overcommitted
    assert any("more than the pool" in i for i in a.issues)
    assert a.conserved()


def test_unknown_region_is_reported_not_silently_free() -> None:
    a = allocate([pool("a", 1, 1, region="ap-south-1")], PRICING, rules(), 1.0)
    assert any("ap-south-1" in i for i in a.issues)


_usage = st.builds(
    WorkloadUsage,
    tenant=st.sampled_from(["a", "b", "c", "d", "e"]),
    workload=st.sampled_from(["api", "worker"]),
    region=st.sampled_from(["us-east-1", "eu-west-1"]),
    isolation=st.sampled_from(["pool", "silo"]),
    cpu_cores=st.floats(0, 64, allow_nan=False),
    memory_gib=st.floats(0, 256, allow_nan=False),
    storage_gib=st.floats(0, 5000, allow_nan=False),
    instances=st.floats(0, 50, allow_nan=False),
    instance_type=st.sampled_from([None, "m6i.large", "m6i.xlarge", "unknown.type"]),
)


@settings(max_examples=300, deadline=None)
@given(
    usages=st.lists(_usage, max_size=25),
    idle=st.sampled_from(["proportional", "even", "separate"]),
    shared=st.sampled_from(["proportional", "even", "separate"]),
    nodes=st.integers(0, 20),
    purchase=st.sampled_from(["on_demand", "spot", "reserved"]),
    shared_cpu=st.floats(0, 8, allow_nan=False),
    hours=st.floats(0, 744, allow_nan=False),
)
def test_tenant_costs_plus_idle_plus_shared_equal_total_exactly(
    usages: list[WorkloadUsage], idle: str, shared: str, nodes: int, purchase: str, shared_cpu: float, hours: float,
) -> None:
    spec = AllocationSpec(idle=idle, shared=shared, pools={  # type: ignore[arg-type]
        "us-east-1": PoolSpec(instance_type="m6i.xlarge", nodes=nodes, purchase=purchase,  # type: ignore[arg-type]
                              shared_cpu_cores=shared_cpu, shared_memory_gib=2)})
    a = allocate(usages, PRICING, spec, hours, tenants=["z"])
    assert sum(t.total for t in a.tenants.values()) + a.idle_bucket + a.shared_bucket == a.total
    assert a.idle_total >= 0 and a.shared_total >= 0
    assert all(min(t.components().values()) >= 0 for t in a.tenants.values())
    # Region totals add up: pools' assets plus everything not held on pool nodes.
    direct_outside_pool = sum(t.storage + t.instances for t in a.tenants.values())
    assert a.total == sum(p.asset for p in a.pools.values()) + direct_outside_pool
    assert "z" in a.tenants


def test_a_pool_no_tenant_runs_on_any_more_is_all_idle_not_free() -> None:
    """A region's pool keeps its nodes (and its shared services) after its last tenant has moved: they
    are billed, so they are cost, all of it idle or shared in the buckets. Before, a region was costed only
    when a workload ran in it, and the emptied pool's nodes left the total short of the bill."""
    spec = AllocationSpec.model_validate({
        "idle": "proportional", "shared": "even",
        "pools": {"us-east-1": {"instance_type": "m6i.xlarge", "nodes": 2, "shared_cpu_cores": 1,
                                "shared_memory_gib": 4},
                  "eu-west-1": {"instance_type": "m6i.large", "nodes": 3, "shared_cpu_cores": 0.5,
                                "shared_memory_gib": 2}},
    })
    a = allocate([pool("a", 3, 12)], PRICING, spec, 2.0)
    empty = a.pools["eu-west-1"]
    assert empty.asset == to_micro(3 * 0.12 * 2.0) and empty.workloads == 0
    assert empty.idle + empty.shared == empty.asset and empty.shared > 0
    assert a.total == a.pools["us-east-1"].asset + empty.asset
    assert a.idle_bucket == empty.idle and a.shared_bucket == empty.shared  # nobody there to spread them on
    assert a.conserved()
