"""The loop: interval and jitter, hot reload keeping the last good configuration, leadership, stopping."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tenantops.config import load_config
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.runner import Runner
from tenantops.engine.shards import parse_shard, shard_filter, shard_of
from tenantops.record.http import Health
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.ports import free_port

from .conftest import CATALOG, StaticSource, TargetTracking, shared_config

VALUES = {("alpha", "api"): (40.0, 2.0), ("beta", "api"): (10.0, 1.0)}


def _runner(config_files, **kw) -> tuple[Runner, StaticSource]:
    catalog, policies = config_files
    source = StaticSource(VALUES)
    reconciler = Reconciler(source, StateStore(":memory:"), [TargetTracking()], register_actuators())
    return Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies, dry_run=True,
                  **kw), source


def _fast(policies: Path) -> None:
    path = policies / "reports.yaml"
    path.write_text(path.read_text().replace("interval_seconds: 30", "interval_seconds: 0.01")
                    .replace("jitter_seconds: 3", "jitter_seconds: 0"))


def test_runs_passes_until_max_and_marks_ready(config_files) -> None:
    _fast(config_files[1])
    health = Health()
    runner, source = _runner(config_files, health=health)
    assert runner.run(max_passes=3) == 0
    assert runner.stats.passes == 3 and len(source.calls) == 3
    assert health.ready() == (True, "ok")


def test_hot_reload_applies_good_edits_and_keeps_the_last_good_config(config_files, caplog) -> None:
    catalog, _ = config_files
    runner, source = _runner(config_files, confirm_removals=True)  # half the tenants go: confirmed here
    runner.tick()
    assert source.calls[-1] == ["alpha", "beta", "gamma", "delta"]
    edited = {**CATALOG, "tenants": CATALOG["tenants"][:2]}
    catalog.write_text(yaml.safe_dump(edited, sort_keys=False))
    runner.tick()
    assert source.calls[-1] == ["alpha", "beta"] and runner.stats.reloads == 1
    broken = {**CATALOG, "tenants": [{**CATALOG["tenants"][0], "tier": "platinum"}]}
    catalog.write_text(yaml.safe_dump(broken, sort_keys=False))
    with caplog.at_level(logging.ERROR, logger="tenantops.engine.runner"):
        result = runner.tick()
    assert result is not None and source.calls[-1] == ["alpha", "beta"]  # still running on the last good one
    assert runner.stats.rejected_reloads == 1
    assert any("platinum" in r.getMessage() and str(catalog) in r.getMessage() for r in caplog.records)
    runner.tick()  # the same broken file is not reloaded (nor logged) again every pass
    assert runner.stats.rejected_reloads == 1


def test_a_reload_with_an_alias_loop_keeps_the_last_good_config(config_files, caplog) -> None:
    """An alias inside its own anchor used to recurse until RecursionError, which left `tick` (and the
    controller) instead of being a rejected reload."""
    catalog, _ = config_files
    runner, source = _runner(config_files)
    runner.tick()
    before = list(source.calls[-1])
    catalog.write_text(catalog.read_text() + "loop: &loop\n  - *loop\n")
    with caplog.at_level(logging.ERROR, logger="tenantops.engine.runner"):
        result = runner.tick()
    assert result is not None and source.calls[-1] == before
    assert runner.stats.rejected_reloads == 1
    assert any("a loop" in r.getMessage() and str(catalog) in r.getMessage() for r in caplog.records)


class Leader:
    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.released = 0

    def try_acquire(self) -> bool:
        return self.answers.pop(0) if self.answers else True

    def release(self) -> None:
        self.released += 1


def test_only_the_leader_acts_and_releases_on_exit(config_files) -> None:
    _fast(config_files[1])
    leader = Leader([False, False, True, True])
    metrics = ControllerMetrics()
    runner, source = _runner(config_files, leader=leader, metrics=metrics)
    runner.run(max_passes=4)
    assert runner.stats.skipped_not_leader == 2 and runner.stats.passes == 2 and len(source.calls) == 2
    assert leader.released == 1
    assert metrics.registry.get_sample_value("tenantops_leader") == 0


def test_stop_during_a_pass_finishes_it_then_exits(config_files) -> None:
    runner, _ = _runner(config_files)
    seen = []
    runner.on_pass.append(lambda result: (seen.append(result), runner.stop()))
    assert runner.run() == 0  # interval is 30 s: returning at all shows the wait was interrupted
    assert len(seen) == 1 and runner.stats.passes == 1


def test_a_failing_hook_or_pass_does_not_stop_the_loop(config_files) -> None:
    _fast(config_files[1])
    runner, source = _runner(config_files)
    runner.on_pass.append(lambda result: 1 / 0)
    original = source.observe
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk on fire")
        return original(*args, **kwargs)

    source.observe = flaky  # the test double's own method, not project code
    runner.run(max_passes=2)
    assert runner.stats.failed_passes == 1 and runner.stats.passes == 2


@given(st.floats(0, 100), st.integers(0, 2**32))
def test_property_delay_is_interval_plus_bounded_jitter_minus_elapsed(elapsed: float, seed: int) -> None:
    import random

    config = shared_config()
    ctl = config.policies.controller
    runner = Runner.__new__(Runner)
    runner.config, runner.rng = config, random.Random(seed)
    delay = runner.next_delay(elapsed)
    assert delay >= 0
    assert delay <= max(0.0, ctl.interval_seconds + ctl.jitter_seconds - elapsed) + 1e-9
    assert delay >= ctl.interval_seconds - elapsed - 1e-9


@given(st.lists(st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True), unique=True, max_size=30),
       st.integers(1, 6))
def test_property_shards_partition_the_tenants(ids: list[str], count: int) -> None:
    owners = [[i for i in range(count) if shard_of(t, count) == i] for t in ids]
    assert all(len(o) == 1 for o in owners)
    assert shard_of("acme", 3) == shard_of("acme", 3)


def test_parse_shard() -> None:
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x/2", "1", "-1/2", "0/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    with pytest.raises(ValueError):
        shard_filter(2, 2)


@pytest.mark.integration
@pytest.mark.slow
def test_run_command_serves_probes_and_exits_0_on_sigterm(config_files, tmp_path) -> None:
    catalog, policies = config_files
    _fast(policies)
    port = free_port()
    env = {**os.environ, "TENANTOPS_STATE": str(tmp_path / "state.db"),
           "TENANTOPS_PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}"}  # nothing there: degraded passes
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenantops.cli.main", "run", "--dry-run", "--catalog", str(catalog), "--policies",
         str(policies), "--http-port", str(port), "--http-host", "127.0.0.1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and not ready:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                    ready = resp.status == 200
            except OSError:
                time.sleep(0.2)
        assert ready, "controller never became ready"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert b"tenantops_passes_total" in resp.read()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output.decode()
    assert b"SIGTERM" in output


@pytest.mark.integration
def test_two_controllers_one_lease_only_one_acts_then_the_other_takes_over(config_files, kube_api) -> None:
    from kubernetes import client

    from tenantops.act.kubeclient import api_client
    from tenantops.engine.lease import LeaseElector

    kube_api.add_namespace("tenantops")

    def elector(identity: str) -> LeaseElector:
        return LeaseElector(client.CoordinationV1Api(api_client(kube_api.url)), "tenantops", "controller", identity)

    a, source_a = _runner(config_files, leader=elector("replica-a"))
    b, source_b = _runner(config_files, leader=elector("replica-b"))
    for _ in range(3):
        a.tick()
        b.tick()
    assert len(source_a.calls) == 3 and source_b.calls == []  # b stands by
    a.stop()
    a.run()  # exits at once and releases the Lease
    b.tick()
    assert len(source_b.calls) == 1  # b took over without waiting for expiry


def test_post_pass_hooks_put_cost_findings_on_metrics(config_files, tmp_path) -> None:
    from tenantops.config.settings import Settings
    from tenantops.engine.deciders import load_decider
    from tenantops.engine.wiring import post_pass_hooks

    catalog, policies = config_files
    config = load_config(catalog, policies)
    metrics = ControllerMetrics()
    hooks = post_pass_hooks(Settings(state=str(tmp_path / "s.db")), lambda: config, metrics, dry_run=True)
    assert len(hooks) == 1  # dry-run: cost gauges only, no alert delivery
    reconciler = Reconciler(StaticSource(VALUES), StateStore(":memory:"), [load_decider("cost")], register_actuators())
    result = reconciler.run_pass(config, datetime.now(UTC), dry_run=True)
    assert result.findings.cost is not None
    for hook in hooks:
        hook(result)
    assert metrics.registry.get_sample_value("tenantops_tenant_budget_usd", {"tenant": "alpha"}) == 500
