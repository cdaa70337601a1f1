"""The shipped metrics policy reads demand as the rate between the last two samples, against a real Prometheus.

metrics-server gives the HPA the CPU used between its last two samples; a two-minute `rate` averages the
last two minutes instead, so a step in demand reads in full only two minutes after it and a ramp a minute
late, before the start-up of the replicas asked for even begins. Read over the last two samples, a step is
read in full one scrape after it, and a missed scrape still leaves a reading.
"""

from __future__ import annotations

import time

import pytest

from tenantops.observe.prometheus import PrometheusSource
from tenantops.structs.snapshot import Quality
from tenantops_lab.sandbox.prometheus import Series

from .conftest import utc

pytestmark = pytest.mark.integration

T = float(int(time.time()) - 1800)
SCRAPE = 30.0  # a kube-prometheus default for cAdvisor
STEP_AT = T - 60  # demand triples two scrapes before the pass


def _counter(per_second_before: float, per_second_after: float, stamps: list[float]) -> list[tuple[float, float]]:
    """A counter of a rate that steps at STEP_AT, sampled at `stamps`."""
    return [(t, per_second_before * (min(t, STEP_AT) - stamps[0]) + per_second_after * max(0.0, t - STEP_AT))
            for t in stamps]


def _series(workload: str, stamps: list[float]) -> list[Series]:
    pod = {"namespace": "tenant-alpha", "pod": f"{workload}-7d9f8b6c5-x2x9k", "container": "app"}
    return [Series("container_cpu_usage_seconds_total", pod, _counter(1.0, 3.0, stamps)),
            Series("http_requests_total", {"tenant": "alpha", "workload": workload}, _counter(50.0, 150.0, stamps))]


def test_a_step_in_demand_is_read_in_full_one_scrape_after_it(prometheus, config) -> None:
    every = [T - 1200 + SCRAPE * i for i in range(int(1200 / SCRAPE) + 1)]
    missed = [t for t in every if t != T - SCRAPE]  # the worker's exporter missed the scrape before the pass
    prom = prometheus(series=[*_series("api", every), *_series("worker", missed)])
    snap = PrometheusSource(prom.url).observe(config, utc(T))
    for workload in ("api", "worker"):
        cpu, requests = (snap.reading("alpha", workload, name) for name in ("cpu", "requests"))
        assert cpu.quality is Quality.OK and requests.quality is Quality.OK, workload
        # a two-minute rate reads (1 + 3) / 2 = 2 cores and 100 requests/s here
        assert cpu.value == pytest.approx(3.0, rel=1e-6), workload
        assert requests.value == pytest.approx(150.0, rel=1e-6), workload
