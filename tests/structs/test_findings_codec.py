"""Each findings type's codec: JSON and back is the same value, and what cannot be read names its field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.structs import rightsizing_findings as rs
from tenantops.structs.cost_findings import CostFindings, PoolFinding, TenantFinding
from tenantops.structs.findings import AutoscalingFindings, FactsFindings, Findings
from tenantops.structs.jsonread import FindingsUnreadable
from tenantops.structs.requests import RequestPatch
from tenantops.structs.rightsizing_findings import RightsizingFindings, WorkloadRecommendation

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)
words = st.text(max_size=40)
money = st.floats(min_value=-1e7, max_value=1e7, allow_nan=False)
amount = st.floats(min_value=0, max_value=1e12, allow_nan=False)
times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
counts = st.integers(min_value=0, max_value=10_000)

tenant_findings = st.builds(
    TenantFinding, tenant=names, usd=money, usd_per_hour=money,
    components=st.dictionaries(st.sampled_from(["cpu", "memory", "storage", "instances", "idle", "shared"]), money),
    estimated=st.booleans(), today_usd=money, month=st.just("2026-03"), month_to_date_usd=money, budget_usd=money,
    forecast_usd=money, forecast_low_usd=money, forecast_high_usd=money, burn_rate=st.none() | money,
    forecast_method=st.sampled_from(["none", "linear", "seasonal"]),
)
pool_findings = st.builds(PoolFinding, region=names, asset_usd=money, workloads_usd=money, shared_usd=money,
                          idle_usd=money, price_factor=money, overcommitted=st.booleans())
cost_findings = st.builds(
    CostFindings, at=times.map(datetime.isoformat), interval_seconds=amount, total_usd=money, idle_usd=money,
    shared_usd=money, idle_bucket_usd=money, shared_bucket_usd=money,
    tenants=st.lists(tenant_findings, max_size=4).map(lambda ts: {t.tenant: t for t in ts}),
    pools=st.lists(pool_findings, max_size=2).map(lambda ps: {p.region: p for p in ps}),
    issues=st.lists(words, max_size=3).map(tuple),
)

optional = st.none() | amount
resources = st.builds(
    rs.ResourceRecommendation, current=amount, recommended=optional, target=optional, lower=optional, upper=optional,
    confidence=st.floats(0, 1), history_hours=amount,
    schedule=st.none() | st.lists(amount, min_size=24, max_size=24).map(tuple), reason=words,
)
changes = st.builds(rs.InstanceChange, resource=words, name=names, property=st.just("instanceType"),
                    from_type=st.none() | names, to_type=names, apply=words)
instances = st.builds(
    rs.InstanceRecommendation, current=st.none() | names, recommended=st.none() | names, current_month=optional,
    recommended_month=optional, saving_month=st.none() | money, risk=st.integers(0, 4), risk_label=words,
    reason=words, change=st.none() | changes,
)
quantities = st.dictionaries(st.sampled_from(["cpu", "memory"]), st.sampled_from(["250m", "1", "512Mi"]))
statuses = st.builds(rs.VpaStatus, times, st.lists(st.builds(
    rs.ContainerRecommendation, names, quantities, quantities, quantities, quantities), max_size=2).map(tuple))
recommendations = st.builds(
    WorkloadRecommendation, tenant=names, workload=names, isolation=st.sampled_from(["pool", "silo"]),
    mode=st.sampled_from(["recommend", "apply"]), policy=names, replicas=amount, cpu=resources, memory=resources,
    status=statuses, confidence=st.floats(0, 1), saving_month=st.none() | money,
    applied=st.dictionaries(st.sampled_from(["cpu", "memory"]), words), current_month=optional,
    recommended_month=optional, instance=st.none() | instances,
)
patches = st.builds(
    RequestPatch, tenant=names, workload=names, namespace=names, deployment=names,
    requests=quantities,
    reason=words, raise_limits=st.booleans(),
    containers=st.dictionaries(names, st.dictionaries(st.sampled_from(["cpu", "memory"]), st.just("100m")),
                               max_size=2),
)
windows = st.builds(lambda start, hours, errors: rs.HistoryWindow(start, start + timedelta(hours=hours), errors),
                    times, st.integers(0, 24 * 30), st.lists(words, max_size=2).map(tuple))
rightsizing_findings = st.builds(
    RightsizingFindings, recommendations=st.lists(recommendations, max_size=3).map(tuple),
    patches=st.lists(patches, max_size=2).map(tuple), saving_month=money, currency=st.sampled_from(["USD", "EUR"]),
    history=windows,
) | words.map(RightsizingFindings.unavailable)
findings = st.builds(
    Findings, cost=st.none() | cost_findings, rightsizing=st.none() | rightsizing_findings,
    autoscaling=st.none() | st.builds(AutoscalingFindings, counts, counts),
    facts=st.none() | st.builds(FactsFindings, st.dictionaries(names, counts, max_size=3)),
)


def _through_json(value: Any) -> Any:
    """What an edge writes and a reader later loads: real JSON text, not the in-memory dict."""
    return json.loads(json.dumps(value.to_json(), sort_keys=True))


@settings(max_examples=150, deadline=None)
@given(findings)
def test_every_findings_type_survives_json(value: Findings) -> None:
    assert Findings.from_json(_through_json(value)) == value


@settings(max_examples=100, deadline=None)
@given(rightsizing_findings)
def test_rightsizing_findings_survive_json(value: RightsizingFindings) -> None:
    decoded = RightsizingFindings.from_json(_through_json(value))
    assert decoded == value
    assert decoded.to_json() == value.to_json()


@settings(max_examples=100, deadline=None)
@given(cost_findings)
def test_cost_findings_survive_json(value: CostFindings) -> None:
    assert CostFindings.from_json(_through_json(value)) == value


@given(recommendations)
def test_absent_parts_are_absent_keys_not_nulls(row: WorkloadRecommendation) -> None:
    """`rightsize --json` never had `instance: null` or `current_month: null`: a pool row has no such key."""
    out = row.to_json()
    assert ("instance" in out) == (row.instance is not None)
    assert ("current_month" in out) == (row.current_month is not None)
    assert "saving_month" in out and "applied" in out  # these two are always there, null or not


def test_findings_of_the_deciders_keep_the_first_of_a_concern() -> None:
    first, second = AutoscalingFindings(3, 1), AutoscalingFindings(9, 9)
    found = Findings.of([first, FactsFindings({"implausible": 2}), second])
    assert found.autoscaling is first and found.facts == FactsFindings({"implausible": 2})
    assert found.cost is None and found.rightsizing is None and found
    assert not Findings() and Findings().to_json() == {}


@pytest.mark.parametrize(("raw", "message"), [
    ({"rightsizing": {"recommendations": [{"tenant": "a"}], "patches": [], "saving_month": 0, "currency": "USD",
                      "history": {"start": "2026-03-01T00:00:00+00:00", "end": "2026-03-02T00:00:00+00:00",
                                  "errors": []}}},
     r"rightsizing\.recommendations\[0\]\.workload: missing"),
    ({"autoscaling": {"workloads": "3", "actions": 0}}, r"autoscaling\.workloads: expected an integer"),
    ({"facts": {"holds": {"implausible": True}}}, r"facts\.holds\.implausible: expected an integer"),
    ({"billing": {}}, r"unknown concern\(s\) billing"),
    ({"rightsizing": {"status": 5}}, r"rightsizing\.status: expected a string"),
    ({"cost": {"tenants": {"a": {"tenant": "a"}}, "pools": {}, "issues": []}}, r"cost: .*missing .*'usd'"),
    ({"cost": {"tenants": [], "pools": {}, "issues": []}}, r"cost\.tenants: expected an object"),
])
def test_unreadable_findings_name_the_field(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(FindingsUnreadable, match=message):
        Findings.from_json(raw)
