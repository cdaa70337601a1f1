"""Cost gauges exposed in Prometheus' text format from the decider's findings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.cost.helpers import make_config, snapshot, tenant

from tenantops.decide.base import PassInput
from tenantops.decide.cost import CostDecider
from tenantops.record.cost_metrics import CostMetrics
from tenantops.structs.cost_findings import CostFindings


def test_gauges_follow_the_latest_findings(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tenant("acme"), tenant("beta", budget=10)])
    now = datetime(2026, 11, 23, 8, tzinfo=UTC)
    out = CostDecider().decide(PassInput(snapshot(now, {("acme", "api"): {"cpu": 2.0}}), config, now), {})
    registry = CollectorRegistry()
    metrics = CostMetrics(registry)
    assert b"tenantops_tenant_cost" not in generate_latest(registry)  # nothing before the first pass
    assert isinstance(out.findings, CostFindings)
    metrics.update(out.findings)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    acme = out.findings.tenants["acme"]
    assert samples[("tenantops_tenant_cost_usd_per_hour", (("tenant", "acme"),))] == acme.usd_per_hour
    assert samples[("tenantops_tenant_budget_usd", (("tenant", "beta"),))] == 10.0
    per_component = sum(v for (name, labels), v in samples.items()
                        if name == "tenantops_tenant_cost_component_usd_per_hour" and ("tenant", "acme") in labels)
    assert abs(per_component - acme.usd_per_hour) < 1e-4
    assert ("tenantops_cost_unallocated_usd_per_hour", (("bucket", "__idle__"),)) in samples


def test_cost_counter_adds_each_pass_once(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tenant("acme")])
    registry = CollectorRegistry()
    metrics = CostMetrics(registry)
    totals = []
    for minute in (0, 0, 1):  # the same pass reported twice counts once
        now = datetime(2026, 11, 23, 8, minute, tzinfo=UTC)
        out = CostDecider().decide(PassInput(snapshot(now, {("acme", "api"): {"cpu": 2.0}}), config, now), {})
        assert isinstance(out.findings, CostFindings)
        metrics.update(out.findings)
        totals.append(sum(s.value for f in text_string_to_metric_families(generate_latest(registry).decode())
                          if f.name == "tenantops_tenant_cost_usd" for s in f.samples if s.name.endswith("_total")))
    assert totals[0] > 0 and totals[1] == totals[0] and totals[2] > totals[1]
