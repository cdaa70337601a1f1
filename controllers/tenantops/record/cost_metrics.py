"""Per-tenant cost on the controller's /metrics, so cost history lives in Prometheus.

A custom collector renders the latest cost findings at scrape time instead of keeping thousands of Gauge
children up to date every pass: `update(findings)` is one reference swap plus adding the pass's cost to the
running totals, and a scrape costs one walk over the tenants. Tenant ids are label values; Prometheus' text
format escapes them.

`tenantops_tenant_cost_usd_total{tenant,component}` is a counter of the cost allocated since the process
started, so PromQL can ask for spend over any window (`increase(tenantops_tenant_cost_usd_total[30d])`),
across restarts as with every counter; the idle and shared cost kept apart is counted under the tenants
`__idle__` and `__shared__`, so the sum over all series is the whole bill.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tenantops.structs.cost_findings import CostFindings

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
        self._totals: dict[tuple[str, str], float] = {}
        self._counted_at: str | None = None  # the pass whose cost was last added (a repeat adds nothing)
        self._created = time.time()
        if registry is not None:
            registry.register(self)

    def update(self, findings: CostFindings) -> None:
        with self._lock:
            self._findings = findings
            if findings.at != self._counted_at:
                self._counted_at = findings.at
                self._count(findings)

    def _count(self, f: CostFindings) -> None:
        spent = [((tenant, c), usd) for tenant, finding in f.tenants.items() for c, usd in finding.components.items()]
        spent += [(("__idle__", "idle"), f.idle_bucket_usd), (("__shared__", "shared"), f.shared_bucket_usd)]
        for key, usd in spent:
            if math.isfinite(usd) and usd > 0:  # a counter only goes up
                self._totals[key] = self._totals.get(key, 0.0) + usd

    def describe(self) -> list[Any]:
        return []  # collected lazily; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            f = self._findings
            totals = dict(self._totals)
        if f is None:
            return
        total = CounterMetricFamily("tenantops_tenant_cost_usd", "Cost allocated to the tenant since the "
                                    "controller started, by component, USD.", labels=["tenant", "component"])
        for (tenant, component), usd in sorted(totals.items()):
            total.add_metric([tenant, component], usd, created=self._created)
        yield total
        for name, doc, attr in _TENANT_GAUGES:
            family = GaugeMetricFamily(name, doc, labels=["tenant"])
            for tenant, finding in f.tenants.items():
                family.add_metric([tenant], float(getattr(finding, attr)))
            yield family
        burn = GaugeMetricFamily("tenantops_tenant_budget_burn_rate",
                                 "Spend pace over budget pace this month (1 = exactly on budget).", labels=["tenant"])
        components = GaugeMetricFamily("tenantops_tenant_cost_component_usd_per_hour",
                                       "Cost to serve by component (cpu, memory, storage, instances, network "
                                       "where measured, idle, shared).",
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
