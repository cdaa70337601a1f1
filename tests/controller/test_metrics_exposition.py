"""/metrics after real passes: process collectors, OpenMetrics negotiation, the cumulative cost counter, and
`promtool check metrics` (Prometheus' own linter) clean on the whole exposition."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text
from tests.faults.helpers import workload_series, write_config

from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.engine.root import build_controller
from tenantops.record.http import Health, HealthServer

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def scrape(url: str, accept: str | None = None) -> tuple[str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.headers["Content-Type"], response.read().decode()


def counter_values(families: Any, name: str) -> dict[tuple[str, str], float]:
    return {(s.labels["tenant"], s.labels["component"]): s.value
            for f in families if f.name == name for s in f.samples if s.name.endswith("_total")}


@pytest.mark.integration
def test_exposition_after_real_passes(prometheus: Any, tmp_path: Path) -> None:
    now = float(int(time.time()))
    prom = prometheus(series=workload_series("alpha", "api", 80, 2, now - 900, now)
                      + workload_series("beta", "api", 5, 3, now - 900, now))
    catalog, policies = write_config(tmp_path)
    settings = Settings(catalog=str(catalog), policies=str(policies), prometheus_url=prom.url,
                        state=str(tmp_path / "state.db"))
    controller = build_controller(settings, dry_run=True)
    config = load_config(catalog, policies)
    clock = iter([datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=30)])
    runner = controller.runner(config, clock=lambda: next(clock))
    server = HealthServer(Health(), controller.metrics.registry, host="127.0.0.1", port=0).start()
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        assert runner.tick() is not None
        _, after_one = scrape(url)
        assert runner.tick() is not None
        text_type, text = scrape(url)
        om_type, om = scrape(url, accept=OPENMETRICS)
    finally:
        server.stop()
        controller.close()

    assert text_type.startswith("text/plain; version=0.0.4")
    assert om_type.startswith("application/openmetrics-text")
    assert om.rstrip().endswith("# EOF") and "# EOF" not in text
    for needed in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds",
                   "python_info", "tenantops_passes_total"):
        assert needed in text, needed

    first = counter_values(parse_text(after_one), "tenantops_tenant_cost_usd")
    second = counter_values(parse_text(text), "tenantops_tenant_cost_usd")
    assert ("alpha", "cpu") in first and {t for t, _ in second} >= {"alpha", "beta"}
    assert all(second[k] >= v for k, v in first.items())  # cumulative: never down
    assert sum(second.values()) > sum(first.values())  # the second pass added its cost
    assert counter_values(parse_openmetrics(om), "tenantops_tenant_cost_usd") == second
    assert "# TYPE tenantops_tenant_cost_usd counter" in om and "tenantops_tenant_cost_usd_created" in om

    # promtool lints the text format Prometheus scrapes by default (it reads OpenMetrics families as text,
    # so the OpenMetrics body is checked by the strict OpenMetrics parser above instead).
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian's prometheus package) is needed"
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
