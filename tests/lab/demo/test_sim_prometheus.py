"""The simulator scraped by a real Prometheus answers the default metrics policy's queries for every workload."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tenantops.config import load_config
from tenantops.config.kinds.metrics import reading_names, split_of
from tenantops.sim.trace import list_traces, load_trace
from tenantops_lab.demo.timescale import write_compressed
from tenantops_lab.demo.workloads import plan_workloads
from tenantops_lab.sandbox.workload_sim import BURST, WorkloadSimulator, WorkloadSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


def test_every_policy_query_returns_every_workload(prometheus, traces_dir: Path, tmp_path: Path) -> None:
    catalog, policies = write_compressed(REPO / "policies", REPO / "stacks" / "dev.catalog.yaml", tmp_path, 60,
                                         interval=1.0, scrape_seconds=1)
    config = load_config(catalog, policies)
    traces = [load_trace(p) for p in list_traces(traces_dir)]
    specs = plan_workloads(config, traces, 30)
    expected = {(s.tenant, s.workload) for s in specs}
    assert len(expected) == sum(len(t.workloads) for t in config.tenants)
    with WorkloadSimulator(specs, speed=1.0) as sim:
        server = prometheus([sim.target], scrape_interval="1s")
        queries = config.for_tenant("acme").metrics.queries
        # Rates need two scrapes inside their window.
        server.wait_for_series(queries["cpu"], timeout=30, min_results=len(expected))
        by_metric = {}
        for name, query in queries.items():
            result = server.query(query)
            split = split_of(name)
            for reading in reading_names(name):  # a split query gives each of its readings for every workload
                by_metric[reading] = {(r["metric"]["tenant"], r["metric"]["workload"]): float(r["value"][1])
                                      for r in result
                                      if split is None or split.names[r["metric"][split.label]] == reading}
                assert set(by_metric[reading]) == expected, reading
        status = {(s.tenant, s.workload): s for s in sim.status()}
    for key, st in status.items():
        assert by_metric["replicas"][key] == st.desired
        assert by_metric["cpu_request"][key] == pytest.approx(st.cpu_request * st.desired)
        assert by_metric["cpu_limit"][key] == pytest.approx(BURST * st.cpu_request * st.desired)
    assert sum(by_metric["cpu"].values()) > 0
    for spec in specs:  # the two demand signals, in replica units at capacity, say the same
        key = spec.key
        if spec.requests_per_replica is not None and by_metric["cpu"][key] > 0.05 * spec.cpu_request:
            assert by_metric["requests"][key] / spec.requests_per_replica == pytest.approx(
                by_metric["cpu"][key] / spec.cpu_request, rel=0.1), key


def test_cpu_counters_carry_the_time_they_were_counted(prometheus) -> None:
    """The CPU counters are exposed with the time of the tick that advanced them, as the kubelet's cAdvisor
    endpoint stamps its samples, so a rate over the last two scrapes (what `irate` and metrics-server read)
    is the usage. Stamped at the scrape instead, a 0.5 s scrape of counters that move every 0.2 s holds two
    or three ticks of usage in turn, and reads 0.8 or 1.2 times the usage."""
    demand = 1.0  # cores, constant: two pods at their 0.5-core request
    spec = WorkloadSpec("acme", "api", "pool", 0.5, 2.0**29, 1, 4, 0.7, np.full(60, demand), initial_replicas=2)
    with WorkloadSimulator([spec], speed=1.0) as sim:
        server = prometheus([sim.target], scrape_interval="500ms")
        query = 'sum(irate(container_cpu_usage_seconds_total{namespace="tenant-acme"}[3s]))'
        server.wait_for_series(query, timeout=30)
        time.sleep(3.0)
        now = time.time() - 0.6
        read = [float(server.query(query, at=now - 0.25 * i)[0]["value"][1]) for i in range(8)]
    assert read == pytest.approx([demand] * len(read), rel=0.05)
