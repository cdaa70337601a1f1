"""The controller's own Prometheus metrics: is it passing, how long passes take, what it decides and does.

A private `CollectorRegistry` (not the process-global one) so that two controllers in one test process
never share counters; cost metrics register their collectors into the same `registry`. The standard
`process_*` (CPU, memory, open files, start time), `python_info` and `python_gc_*` collectors are in it
too, so the controller is watched like any other exporter.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

_PASS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)


class ControllerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if registry is None:  # a registry passed in may already hold them
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self.pass_duration = Histogram(
            "tenantops_pass_duration_seconds", "Wall time of one reconciliation pass.", buckets=_PASS_BUCKETS,
            registry=r,
        )
        self.passes = Counter("tenantops_passes", "Reconciliation passes, by result.", ["result"], registry=r)
        self.decisions = Counter("tenantops_decisions", "Audit decisions recorded, by kind.", ["kind"], registry=r)
        self.actuations = Counter(
            "tenantops_actuator_outcomes", "Scale actions dispatched, by target kind and outcome.",
            ["target", "status"], registry=r,
        )
        self.query_errors = Counter("tenantops_query_errors", "Metrics queries that failed.", registry=r)
        self.queries = Counter("tenantops_queries", "Metrics queries sent.", registry=r)
        self.breaker_trips = Counter(
            "tenantops_breaker_trips", "Decisions held back by a circuit breaker, by rule.", ["rule"], registry=r
        )
        self.decider_failures = Counter(
            "tenantops_decider_failures", "Deciders that raised instead of deciding, by decider.", ["decider"],
            registry=r,
        )
        self.reload_failures = Counter(
            "tenantops_config_reload_failures", "Reloads rejected; the last good configuration stayed.", registry=r
        )
        self.last_success = Gauge(
            "tenantops_last_pass_success_timestamp_seconds", "Unix time the last pass completed.", registry=r
        )
        self.tenants = Gauge("tenantops_tenants", "Tenants this replica reconciles.", registry=r)
        self.workloads = Gauge("tenantops_workloads", "Workloads this replica reconciles.", registry=r)
        self.leader = Gauge("tenantops_leader", "1 while this replica holds the leader lease.", registry=r)
        self.state_keys = Gauge("tenantops_state_keys", "Decider state keys held.", registry=r)
