"""Per-tenant cost gauges on the controller's /metrics, so cost history lives in Prometheus.

A custom collector renders the latest cost findings at scrape time instead of keeping thousands of Gauge
children up to date every pass: `update(findings)` is one reference swap, and a scrape costs one walk over
the tenants. Tenant ids are label values; Prometheus' text format escapes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tenantops.decide.cost.findings import CostFindings

_TENANT_GAUGES = (
    ("tenantops_tenant_cost_usd_per_hour", "Cost to serve the tenant, USD per hour, at the last pass.", "usd_per_hour"),
    ("tenantops_tenant_cost_today_usd", "Tenant's spend so far today (UTC), USD.", "today_usd"),
    ("tenantops_tenant_cost_month_to_date_usd", "Tenant's spend this month so far, USD.", "month_to_date_usd"),
    ("tenantops_tenant_budget_usd", "Tenant's monthly budget, USD.", "budget_usd"),
    ("tenantops_tenant_cost_forecast_usd", "Forecast spend of the tenant by month end, USD.", "forecast_usd"),
    ("tenantops_tenant_cost_forecast_high_usd", "Upper end of the 80% forecast interval, USD.", "forecast_high_usd"),
)


class CostMetrics(Collector):
    """Registers into `registry` (the controller's own); call `update` with each pass's cost findings."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._lock = threading.Lock()
        self._findings: CostFindings | None = None
        if registry is not None:
            registry.register(self)

    def update(self, findings: CostFindings | Mapping[str, Any]) -> None:
        parsed = findings if isinstance(findings, CostFindings) else CostFindings.from_json(findings)
        with self._lock:
            self._findings = parsed

    def describe(self) -> list[Any]:
        return []  # collected lazily; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            f = self._findings
        if f is None:
            return
        for name, doc, attr in _TENANT_GAUGES:
            family = GaugeMetricFamily(name, doc, labels=["tenant"])
            for tenant, finding in f.tenants.items():
                family.add_metric([tenant], float(getattr(finding, attr)))
            yield family
        burn = GaugeMetricFamily("tenantops_tenant_budget_burn_rate",
                                 "Spend pace over budget pace this month (1 = exactly on budget).", labels=["tenant"])
        components = GaugeMetricFamily("tenantops_tenant_cost_component_usd_per_hour",
                                       "Cost to serve by component (cpu, memory, storage, instances, idle, shared).",
                                       labels=["tenant", "component"])
        hours = f.interval_seconds / 3600
        for tenant, finding in f.tenants.items():
            if finding.burn_rate is not None:
                burn.add_metric([tenant], float(finding.burn_rate))
            if hours > 0:
                for component, usd in finding.components.items():
                    components.add_metric([tenant, component], usd / hours)
        yield burn
        yield components
        pool = GaugeMetricFamily("tenantops_cost_unallocated_usd_per_hour",
                                 "Idle capacity and shared services cost, USD per hour (distributed or not).",
                                 labels=["bucket"])
        if hours > 0:
            pool.add_metric(["__idle__"], f.idle_usd / hours)
            pool.add_metric(["__shared__"], f.shared_usd / hours)
        yield pool
