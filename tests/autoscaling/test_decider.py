"""The autoscaling concern of a pass, over the example catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tenantops.config import Config, load_config
from tenantops.decide.autoscaling.decider import AutoscalingDecider, state_key
from tenantops.decide.base import PassInput
from tenantops.structs import naming
from tenantops.structs.plan import TargetKind
from tenantops.structs.snapshot import Quality, Reading, Snapshot, WorkloadMetrics

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> Config:
    root = Path(__file__).resolve().parents[2]
    return load_config(root / "stacks" / "dev.catalog.yaml", root / "policies")


def snapshot(config: Config, at: datetime, cpu: float, replicas: int = 4, drop: str | None = None,
             quality: Quality = Quality.MISSING) -> Snapshot:
    workloads = {}
    for tenant in config.tenants:
        for w in tenant.workloads:
            readings = {
                "cpu": Reading(cpu, sampled_at=at), "cpu_request": Reading(0.5 * replicas, sampled_at=at),
                "replicas": Reading(float(replicas), sampled_at=at),
                "ready_replicas": Reading(float(replicas), sampled_at=at),
                "requests": Reading(cpu * 10, sampled_at=at),
            }
            if drop:
                readings[drop] = Reading(None, quality, at)
            workloads[(tenant.id, w.name)] = WorkloadMetrics(tenant.id, w.name, readings)
    return Snapshot(at, workloads)


def run_passes(config: Config, decider: AutoscalingDecider, passes: int, **kw: Any) -> tuple[Any, dict[str, Any]]:
    state: dict[str, Any] = {}
    out = None
    for i in range(passes):
        at = NOW + timedelta(seconds=30 * i)
        out = decider.decide(PassInput(snapshot(config, at, **kw), config, at), state)
        state.update(out.state)
    return out, state


def test_every_workload_gets_a_decision_and_state(config: Config) -> None:
    out, state = run_passes(config, AutoscalingDecider(), 1, cpu=1.0)
    pairs = {(t.id, w.name) for t in config.tenants for w in t.workloads}
    assert {(d.tenant, d.workload) for d in out.decisions} == pairs
    assert all(d.reason and d.rule for d in out.decisions)
    assert set(state) == {state_key(*p) for p in pairs}


def test_targets_follow_isolation(config: Config) -> None:
    out, _ = run_passes(config, AutoscalingDecider(), 1, cpu=30.0)
    assert out.scale, "a heavy load must scale something"
    for action in out.scale:
        tenant = config.tenant(action.tenant)
        if tenant.isolation == "pool":
            assert action.target.kind is TargetKind.KUBERNETES
            assert action.target.namespace == naming.namespace(tenant.id)
            assert action.target.name == action.workload
        else:
            assert action.target.kind is TargetKind.ASG
            assert action.target.name == naming.asg_name(config.catalog.environment, tenant.id, action.workload)
        assert action.desired != action.current


def test_actions_only_when_desired_differs(config: Config) -> None:
    out, _ = run_passes(config, AutoscalingDecider(), 3, cpu=1.0)
    scaled = {(a.tenant, a.workload) for a in out.scale}
    for d in out.decisions:
        assert (d.kind == "scale") == ((d.tenant, d.workload) in scaled)
        assert (d.old != d.new) == (d.kind == "scale")


def test_missing_metric_freezes_scale_down_and_alerts(config: Config) -> None:
    decider = AutoscalingDecider()
    # past the first sight's 300 s window (the HPA never scales down a workload it has just met)
    out, _ = run_passes(config, decider, 12, cpu=0.01, replicas=8, drop="requests")
    assert all(a.desired >= min(a.current, _max_of(config, a.tenant, a.workload)) for a in out.scale)
    assert any(a.desired < a.current and a.rule == "breaker:bounds" for a in out.scale)  # bounds still win
    assert any(a.key.startswith("metrics:") for a in out.alerts)
    frozen = [d for d in out.decisions if d.rule == "breaker:freeze"]
    assert frozen and all("requests missing" in d.reason for d in frozen)


def test_nan_metric_counts_as_missing(config: Config) -> None:
    out, _ = run_passes(config, AutoscalingDecider(), 12, cpu=0.01, replicas=8, drop="cpu", quality=Quality.NAN)
    assert all(a.desired >= min(a.current, _max_of(config, a.tenant, a.workload)) for a in out.scale)


def _max_of(config: Config, tenant: str, workload: str) -> int:
    """The workload's upper bound (the catalogue's, or the tier's if that is lower): the freeze never keeps a
    workload above it."""
    out = AutoscalingDecider().decide(PassInput(snapshot(config, NOW, 0.0, replicas=10_000), config, NOW), {})
    return next(a.desired for a in out.scale if (a.tenant, a.workload) == (tenant, workload))


def test_unknown_replica_count_holds(config: Config) -> None:
    out, _ = run_passes(config, AutoscalingDecider(), 1, cpu=5.0, drop="replicas")
    assert not out.scale
    assert all(d.kind == "skip" and d.rule == "hold" for d in out.decisions)


def test_step_breaker_trips_with_an_alert(config: Config) -> None:
    out, _ = run_passes(config, AutoscalingDecider(), 12, cpu=0.01, replicas=20)  # past the first-sight window
    stepped = [a for a in out.scale if a.rule == "breaker:max-step"]
    assert stepped
    brk = config.for_tenant(stepped[0].tenant).breakers
    assert all(a.current - a.desired == brk.max_step_down for a in stepped)
    assert any(a.key.startswith("breaker:max-step:") for a in out.alerts)


def test_over_budget_is_never_silent(config: Config) -> None:
    tenant = config.tenants[0]
    decider = AutoscalingDecider(spend_mtd_usd={tenant.id: tenant.budget_usd_month + 100})
    out, _ = run_passes(config, decider, 1, cpu=30.0, replicas=2)
    action = config.for_tenant(tenant).scaling.budget_action
    if action == "none":
        assert any("over budget" in d.reason for d in out.decisions if d.tenant == tenant.id)
    else:
        assert any(a.key == f"budget-scaling:{tenant.id}" for a in out.alerts)
    if action == "cap":
        assert all(a.desired <= a.current for a in out.scale if a.tenant == tenant.id)
