"""The Prometheus sandbox: backfilled history and live scrapes are queryable; nothing outlives stop()."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from tenantops_lab.sandbox.ports import free_port, is_listening
from tenantops_lab.sandbox.prometheus import PrometheusServer, Series, escape_label_value, openmetrics_text

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_backfilled_history_is_queryable_with_awkward_label_values(prometheus) -> None:
    now = time.time()
    awkward = 'quote " back \\ slash'
    series = [
        Series("tenant_cpu", {"tenant": "acme", "workload": "api"},
               [(now - 3600 + 60 * i, float(i)) for i in range(60)]),
        Series("tenant_cpu", {"tenant": awkward, "workload": "api"}, [(now - 120, 7.5)]),
    ]
    server = prometheus(series=series)
    latest = server.query('tenant_cpu{tenant="acme"}')
    assert [r["value"][1] for r in latest] == ["59"]
    assert server.query("count_over_time(tenant_cpu{tenant=\"acme\"}[2h])")[0]["value"][1] == "60"
    odd = server.query("tenant_cpu{tenant!=\"acme\"}")
    assert odd[0]["metric"]["tenant"] == awkward


def test_scrapes_a_live_target(prometheus) -> None:
    registry = CollectorRegistry()
    gauge = Gauge("sandbox_probe", "probe", ["tenant"], registry=registry)
    gauge.labels("acme").set(42)
    port = free_port()
    httpd, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        server = prometheus([f"127.0.0.1:{port}"], scrape_interval="1s")
        result = server.wait_for_series('sandbox_probe{tenant="acme"}', timeout=20)
        assert result and result[0]["value"][1] == "42"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_counts_the_queries_it_answers(prometheus) -> None:
    server = prometheus()
    before = server.query_count()
    for _ in range(3):
        server.query("up")
    assert server.query_count() - before == 3


def test_stop_leaves_no_process_port_or_files() -> None:
    server = PrometheusServer().start()
    pid, port, workdir = server.pid, server.port, server.workdir
    assert pid is not None and port is not None
    assert _alive(pid) and is_listening(port)
    server.close()
    assert not server.running
    assert not _alive(pid)
    assert not is_listening(port)
    assert not workdir.exists()


def test_context_manager_stops_on_error() -> None:
    with pytest.raises(RuntimeError, match="boom"), PrometheusServer() as server:
        pid = server.pid
        raise RuntimeError("boom")
    assert pid is not None and not _alive(pid)


def test_backfill_after_start_is_refused(prometheus) -> None:
    server = prometheus()
    with pytest.raises(RuntimeError, match="before start"):
        server.backfill([Series("x", {}, [(time.time(), 1.0)])])


def test_invalid_metric_or_label_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="metric name"):
        openmetrics_text([Series("bad-name", {}, [(1.0, 1.0)])])
    with pytest.raises(ValueError, match="label name"):
        openmetrics_text([Series("ok", {"bad-label": "x"}, [(1.0, 1.0)])])


def test_openmetrics_text_ends_with_eof_and_sorts_samples() -> None:
    text = openmetrics_text([("m", {"a": "b"}, [(20.0, 2.0), (10.0, 1.0), (10.0, 9.0)])])
    assert text.splitlines() == ['m{a="b"} 1.0 10.000', 'm{a="b"} 2.0 20.000', "# EOF"]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_escaped_label_values_parse_back_to_the_original(value: str) -> None:
    text = f'm{{l="{escape_label_value(value)}"}} 1\n'
    family = next(iter(text_string_to_metric_families(text)))
    assert family.samples[0].labels["l"] == value
