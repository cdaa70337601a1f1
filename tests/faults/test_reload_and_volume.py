"""A large reload and alert volume: a catalogue that loses most of its tenants at once is held (the last
good configuration keeps running) and alerted until confirmed; 5,000 tenants added without metrics are
one summarised alert, not thousands."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tenantops.config import load_config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.facts import FactsDecider
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.runner import Runner
from tenantops.observe.replicas import LiveReplicas
from tenantops.record.store import StateStore
from tenantops.structs.plan import ScaleTarget, TargetKind
from tenantops.structs.replicas import ReplicaCount
from tenantops.structs.snapshot import Snapshot

from .conftest import FaultLedger
from .helpers import TENANTS, dump_yaml, write_config

CLASS_RELOAD = "a large reload"
CLASS_VOLUME = "alert volume under persistent faults"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class NoMetrics:
    """Prometheus with no series at all for anyone (new tenants' exporters not scraped yet)."""

    def observe(self, config: Any, now: datetime, tenants: Any = None) -> Snapshot:
        return Snapshot(now, {})


class Running:
    """Every Deployment exists with 2 replicas (the tenants were provisioned; only metrics are missing)."""

    def describe_many(self, targets: Any) -> dict[ScaleTarget, ReplicaCount]:
        return {t: ReplicaCount(2, 2) for t in targets}


def _tenants(n: int) -> list[dict[str, Any]]:
    return [{**TENANTS[0], "id": f"t{i:05d}", "contacts": [f"ops@t{i}.example"]} for i in range(n)]


def _runner(tmp_path: Path, tenants: list[dict[str, Any]], **options: Any) -> tuple[Runner, Path]:
    catalog, policies = write_config(tmp_path, tenants)
    reconciler = Reconciler(NoMetrics(), StateStore(tmp_path / "state.db"), [FactsDecider(), AutoscalingDecider()],
                            register_actuators(),
                            replica_reader=LiveReplicas.of({TargetKind.KUBERNETES: Running()}))
    clock = iter(START + timedelta(seconds=30 * i) for i in range(1000))
    runner = Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies,
                    clock=lambda: next(clock), **options)
    return runner, catalog


def _rewrite(catalog: Path, tenants: list[dict[str, Any]]) -> None:
    catalog.write_text(dump_yaml({"environment": "test", "tenants": tenants}))
    later = time.time() + 5
    os.utime(catalog, (later, later))


@pytest.mark.parametrize("confirm", [False, True])
def test_a_catalogue_cut_short_is_held_and_alerted(tmp_path: Path, confirm: bool, fault_ledger: FaultLedger) -> None:
    runner, catalog = _runner(tmp_path, _tenants(40), confirm_removals=confirm)
    runner.tick()
    _rewrite(catalog, _tenants(40)[:12])  # valid YAML, cut at a tenant boundary: 28 of 40 tenants "removed"
    result = runner.tick()
    assert result is not None
    if confirm:
        assert len(runner.config.tenants) == 12 and runner.stats.held_reloads == 0
        return
    alerts = [a for a in result.active_alerts if a.cause == "controller-reload-held"]
    held = len(runner.config.tenants) == 40 and runner.stats.held_reloads == 1 and len(alerts) == 1
    fault_ledger.case(CLASS_RELOAD, held, f"40 -> 12 tenants: config keeps {len(runner.config.tenants)},"
                      f" {len(alerts)} alert(s): {alerts[0].summary if alerts else ''}")
    assert held
    _rewrite(catalog, _tenants(38))  # a small removal is an ordinary reload, and the hold clears
    result = runner.tick()
    assert result is not None and len(runner.config.tenants) == 38
    assert not [a for a in result.active_alerts if a.cause == "controller-reload-held"]


def test_five_thousand_tenants_without_metrics_are_one_alert(tmp_path: Path, fault_ledger: FaultLedger) -> None:
    runner, catalog = _runner(tmp_path, _tenants(2))
    runner.tick()
    _rewrite(catalog, _tenants(5002))  # a burst of 5,000 new tenants, none scraped yet
    notified: list[Any] = []
    active_counts = []
    for _ in range(12):  # six minutes of passes
        result = runner.tick()
        assert result is not None
        notified += result.alerts
        active_counts.append(len(result.active_alerts))
    assert len(runner.config.tenants) == 5002
    # The two tenants from before the burst had their own alerts (without metrics too); what the burst
    # adds is the one summary, which takes theirs in (resolving them), and nothing per new tenant.
    old = {"t00000", "t00001"}
    burst = [a for a in notified if not a.details.get("resolved") and a.tenant not in old]
    summary = [a for a in burst if a.details.get("summarised")]
    ok = len(burst) == 1 and len(summary) == 1 and summary[0].details["tenants"] == 5002 and \
        active_counts[-1] == 1 and max(active_counts) <= 3
    fault_ledger.case(CLASS_VOLUME, ok, f"5,000 new tenants without metrics, 12 passes: {len(burst)} new"
                      f" alert(s) ({len(notified)} notifications in all), active per pass {active_counts}")
    assert ok, [a.key for a in notified][:5]
