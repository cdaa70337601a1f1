"""Right-sizing in the live loop: usage history from a real (backfilled) Prometheus at the first pass, reused
by the passes of the next hour without a single range query, refetched after it, kept when a fetch fails."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.decide.rightsizing import RightsizingDecider
from tenantops.engine.inputs import HistoryRefresh
from tenantops.engine.reconcile import PassResult, Reconciler
from tenantops.engine.root import pass_inputs, register_actuators
from tenantops.engine.runner import Runner
from tenantops.record.store import StateStore
from tenantops.structs.rightsizing_findings import HistoryWindow
from tenantops_lab.sandbox.prometheus import Series

from .conftest import StaticSource

pytestmark = pytest.mark.integration

MI = 2.0**20
VALUES = {("alpha", "api"): (40.0, 2.0), ("beta", "api"): (10.0, 1.0)}


def _pod(tenant: str, workload: str, pod: str, start: float, end: float, cores: float, memory: float) -> list[Series]:
    labels = {"namespace": f"tenant-{tenant}", "pod": f"{workload}-{pod}", "container": workload}
    stamps = [start + 60 * i for i in range(int((end - start) // 60))]
    return [
        Series("container_cpu_usage_seconds_total", labels, [(t, cores * (t - start)) for t in stamps]),
        Series("container_memory_working_set_bytes", labels, [(t, memory) for t in stamps]),
    ]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _history(result: PassResult) -> HistoryWindow:
    """The usage history window a pass's right-sizing findings were made from."""
    found = result.findings.rightsizing
    assert found is not None and found.history is not None
    return found.history


def _history_end(result: PassResult) -> datetime:
    return _history(result).end


def test_decider_gets_history_from_prometheus_and_it_is_not_refetched_within_the_hour(
    prometheus, config_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    end = float(int(time.time()) // 60 * 60) - 60
    start = end - 8 * 3600
    server = prometheus(series=[
        *_pod("alpha", "api", "5d8f7c9b4-abcde", start, end, 0.25, 300 * MI),
        *_pod("alpha", "api", "5d8f7c9b4-fghij", start, end, 0.75, 500 * MI),
        *_pod("beta", "api", "7c6d5b4a3-klmno", start, end, 0.1, 200 * MI),
    ])
    catalog, policies = config_files
    decider = RightsizingDecider()
    inputs = pass_inputs(Settings(prometheus_url=server.url), [decider])
    refresh = next(p for p in inputs if isinstance(p, HistoryRefresh))
    reconciler = Reconciler(StaticSource(VALUES), StateStore(":memory:"), [decider],
                            register_actuators(), inputs=inputs)
    first = datetime.fromtimestamp(end - 2 * 3600, UTC)
    clock = Clock(first)
    runner = Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies, dry_run=True,
                    clock=clock)

    before = server.query_count()
    result = runner.tick()
    per_fetch = server.query_count() - before
    assert per_fetch >= 3  # cpu, memory, OOM kills (and replicas): batched for every tenant together
    assert result is not None
    assert _history_end(result) == first and not _history(result).errors
    findings = result.findings.rightsizing
    assert findings is not None
    rows = {(r.tenant, r.workload): r for r in findings.recommendations}
    assert rows[("alpha", "api")].cpu.history_hours > 1  # what the backfilled samples cover
    assert rows[("alpha", "api")].cpu.target == pytest.approx(0.5, rel=0.3)  # mean per pod of .25 and .75
    assert rows[("gamma", "api")].cpu.recommended is None  # no samples for gamma at all

    for minutes in (1, 20, 59):  # the rest of the hour: same history, no range query sent
        clock.now = first + timedelta(minutes=minutes)
        result = runner.tick()
        assert result is not None and _history_end(result) == first
    assert server.query_count() - before == per_fetch

    clock.now = first + timedelta(minutes=61)
    result = runner.tick()
    assert server.query_count() - before == 2 * per_fetch
    assert result is not None and _history_end(result) == clock.now
    kept = refresh.history

    server.stop()  # Prometheus goes away: the last history stays, the failure is logged
    clock.now = first + timedelta(minutes=125)
    with caplog.at_level(logging.WARNING, logger="tenantops.engine.inputs"):
        result = runner.tick()
    assert refresh.history is kept and refresh.failures == 1
    assert result is not None and kept is not None and _history_end(result) == kept.end
    assert any("keeping the history from" in r.getMessage() for r in caplog.records)
    fetches = refresh.fetches
    clock.now += timedelta(minutes=1)
    runner.tick()
    assert refresh.fetches == fetches  # retried after a pause, not on every pass


def test_no_refresh_without_a_rightsizing_decider(config_files: tuple[Path, Path]) -> None:
    from tenantops.engine.deciders import load_decider

    inputs = pass_inputs(Settings(), [load_decider("cost")])
    assert not any(isinstance(p, HistoryRefresh) for p in inputs)
