"""The pass's containment rules, with a static metrics source and in-memory targets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.act.base import OutcomeStatus
from tenantops.config import Config
from tenantops.decide.base import DeciderOutput, PassInput
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.targets import target_for
from tenantops.record import audit
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops.structs.plan import ScaleAction, TargetKind

from .conftest import MemoryActuator, StaticSource, TargetTracking, shared_config

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Exploding:
    name = "exploding"

    def decide(self, inp: PassInput, state: Mapping[str, Any]) -> DeciderOutput:
        raise ZeroDivisionError("bad model")


class Competing:
    """Wants every workload it sees at 7 replicas: collides with target tracking."""

    name = "competing"

    def decide(self, inp: PassInput, state: Mapping[str, Any]) -> DeciderOutput:
        t = inp.config.tenant("alpha")
        return DeciderOutput(scale=(ScaleAction("alpha", "api", target_for("test", t, "api"), 2, 7, "x", "y"),))


VALUES = {("alpha", "api"): (40.0, 2.0), ("alpha", "worker"): (25.0, 1.0), ("beta", "api"): (55.0, 3.0),
          ("delta", "api"): (50.0, 2.0)}


def _targets(config: Config) -> dict:
    return {(t.id, w.name): target_for("test", t, w.name) for t in config.tenants for w in t.workloads}


@pytest.fixture
def kube(config: Config) -> MemoryActuator:
    targets = _targets(config)
    return MemoryActuator(TargetKind.KUBERNETES, {targets[k]: v[1] for k, v in VALUES.items() if k[0] != "delta"})


def test_a_failing_decider_is_an_outcome_not_a_failed_pass(config, kube) -> None:
    metrics = ControllerMetrics()
    store = StateStore(":memory:")
    rec = Reconciler(StaticSource(VALUES), store, [Exploding(), TargetTracking()],
                     register_actuators({TargetKind.KUBERNETES: kube}),
                     metrics=metrics)
    result = rec.run_pass(config, NOW)
    assert [(d.name, d.ok) for d in result.deciders] == [("exploding", False), ("tracking", True)]
    assert "ZeroDivisionError" in result.deciders[0].detail
    assert result.count(OutcomeStatus.APPLIED) == 3  # alpha/api 2→4, alpha/worker 1→3, beta/api 3→6
    errors = list(audit.query(store.connection, kind="error"))
    assert len(errors) == 1 and errors[0].rule == "decider:exploding"
    assert metrics.registry.get_sample_value("tenantops_decider_failures_total", {"decider": "exploding"}) == 1


def test_one_targets_failure_or_bug_does_not_stop_the_others(config) -> None:
    targets = _targets(config)
    kube = MemoryActuator(TargetKind.KUBERNETES, {targets[k]: v[1] for k, v in VALUES.items()},
                          fail=[targets[("alpha", "api")]], raise_on=[targets[("alpha", "worker")]])
    asg = MemoryActuator(TargetKind.ASG, {targets[("delta", "api")]: 2})
    rec = Reconciler(StaticSource(VALUES), StateStore(":memory:"), [TargetTracking()],
                     register_actuators({TargetKind.KUBERNETES: kube, TargetKind.ASG: asg}))
    result = rec.run_pass(config, NOW)
    status = {(o.action.tenant, o.action.workload): o.status for o in result.outcomes}
    assert status == {("alpha", "api"): OutcomeStatus.FAILED, ("alpha", "worker"): OutcomeStatus.FAILED,
                      ("beta", "api"): OutcomeStatus.APPLIED, ("delta", "api"): OutcomeStatus.APPLIED}
    assert asg.replicas[targets[("delta", "api")]] == 5  # dispatched by target kind
    assert [c[0].tenant for c in asg.calls] == ["delta"]
    assert not result.ok


def test_noops_are_skipped_without_calling_the_actuator(config) -> None:
    targets = _targets(config)
    values = {("alpha", "api"): (20.0, 2.0)}  # exactly at target: desired == current
    kube = MemoryActuator(TargetKind.KUBERNETES, {targets[("alpha", "api")]: 2})
    rec = Reconciler(StaticSource(values), StateStore(":memory:"), [TargetTracking()],
                     register_actuators({TargetKind.KUBERNETES: kube}))
    result = rec.run_pass(config, NOW)
    assert [o.status for o in result.outcomes] == [OutcomeStatus.UNCHANGED]
    assert kube.calls == []


def test_dry_run_without_actuators_plans_and_keeps_state(config) -> None:
    store = StateStore(":memory:")
    rec = Reconciler(StaticSource(VALUES), store, [TargetTracking()], register_actuators())
    result = rec.run_pass(config, NOW, dry_run=True)
    assert result.count(OutcomeStatus.DRY_RUN) == 4 and result.dry_run
    assert store.key_count() == 0
    assert result.state_written == 0 and result.decisions > 0


def test_conflicting_actions_first_decider_wins_and_the_other_is_audited(config, kube) -> None:
    store = StateStore(":memory:")
    rec = Reconciler(StaticSource(VALUES), store, [TargetTracking(), Competing()],
                     register_actuators({TargetKind.KUBERNETES: kube}))
    result = rec.run_pass(config, NOW)
    alpha = [o for o in result.outcomes if (o.action.tenant, o.action.workload) == ("alpha", "api")]
    assert len(alpha) == 1 and alpha[0].action.desired == 4
    skips = list(audit.query(store.connection, kind="skip"))
    assert [s.rule for s in skips if s.rule.startswith("conflict")] == ["conflict:competing"]


def test_shard_restriction_reaches_the_source_and_the_deciders(config, kube) -> None:
    source = StaticSource(VALUES)
    rec = Reconciler(source, StateStore(":memory:"), [TargetTracking()],
                     register_actuators({TargetKind.KUBERNETES: kube}))
    result = rec.run_pass(config, NOW, tenants=[config.tenant("beta")])
    assert source.calls == [["beta"]]
    assert {o.action.tenant for o in result.outcomes} == {"beta"}
    assert result.tenants == 1 and result.workloads == 1


def test_metrics_count_passes_decisions_and_outcomes(config, kube) -> None:
    metrics = ControllerMetrics()
    rec = Reconciler(StaticSource(VALUES), StateStore(":memory:"), [TargetTracking()],
                     register_actuators({TargetKind.KUBERNETES: kube}),
                     metrics=metrics)
    rec.run_pass(config, NOW)
    get = metrics.registry.get_sample_value
    assert get("tenantops_passes_total", {"result": "degraded"}) == 1  # delta has no ASG actuator
    assert get("tenantops_actuator_outcomes_total", {"target": "kubernetes", "status": "applied"}) == 3
    assert get("tenantops_actuator_outcomes_total", {"target": "asg", "status": "failed"}) == 1
    assert get("tenantops_decisions_total", {"kind": "scale"}) == 4
    assert get("tenantops_last_pass_success_timestamp_seconds") == NOW.timestamp()


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(list(VALUES)),
                       st.tuples(st.floats(0, 500), st.integers(0, 30).map(float)), max_size=4),
       st.sets(st.sampled_from(list(VALUES))), st.booleans())
def test_property_every_action_ends_in_exactly_one_outcome(values, broken, dry_run) -> None:
    config = shared_config()
    targets = _targets(config)
    pooled = {targets[k]: int(v[1]) for k, v in values.items() if k[0] != "delta"}
    kube = MemoryActuator(TargetKind.KUBERNETES, pooled, fail=[targets[k] for k in broken])
    asg = MemoryActuator(TargetKind.ASG, {targets[k]: int(v[1]) for k, v in values.items() if k[0] == "delta"})
    rec = Reconciler(StaticSource(values), StateStore(":memory:"), [TargetTracking()],
                     register_actuators({TargetKind.KUBERNETES: kube, TargetKind.ASG: asg}))
    result = rec.run_pass(config, NOW, dry_run=dry_run)
    subjects = [(o.action.tenant, o.action.workload) for o in result.outcomes]
    assert sorted(subjects) == sorted(values)  # one outcome per workload with data, none for the rest
    for o in result.outcomes:
        if dry_run:
            assert o.status is not OutcomeStatus.APPLIED
        if o.action.is_noop:
            assert o.status is OutcomeStatus.UNCHANGED
    if dry_run:  # nothing was written anywhere
        assert kube.replicas == pooled


def test_global_replica_ceiling_holds_scale_ups_in_the_pass(config_files, kube) -> None:
    from tenantops.config import load_config

    catalog, policies = config_files
    reports = policies / "reports.yaml"
    reports.write_text(reports.read_text().replace("global_replica_ceiling: 20000", "global_replica_ceiling: 11"))
    config = load_config(catalog, policies)
    store = StateStore(":memory:")
    rec = Reconciler(StaticSource(VALUES), store, [TargetTracking()], register_actuators({TargetKind.KUBERNETES: kube}))
    result = rec.run_pass(config, NOW)
    # running: 2 + 1 + 3 + 2 = 8; room for 3 more: the +2s tie and alpha/api sorts first; nothing else fits
    applied = {(o.action.tenant, o.action.workload) for o in result.outcomes if o.status is OutcomeStatus.APPLIED}
    assert applied == {("alpha", "api")}
    held = {(d.tenant, d.workload, d.rule) for d in audit.query(store.connection, kind="breaker")}
    wanted = (("alpha", "worker"), ("beta", "api"), ("delta", "api"))
    assert held == {(t, w, "breaker:global-ceiling") for t, w in wanted}
    # One alert for the episode, through the same lifecycle as every decider's alerts.
    assert [(a.key, a.transition) for a in result.alerts] == [("breaker:global-ceiling", "fire")]
    again = rec.run_pass(config, NOW + timedelta(seconds=30))
    assert "breaker:global-ceiling" in {a.key for a in again.active_alerts}
    assert "breaker:global-ceiling" not in {a.key for a in again.alerts}


def test_decider_registry_builds_installed_deciders_and_refuses_unknown_names() -> None:
    from tenantops.engine.deciders import DECIDERS, DeciderUnavailable, build_deciders

    built = build_deciders()
    names = [d.name for d in built]
    assert len(set(names)) == len(names) and set(names) <= set(DECIDERS)
    assert all(callable(d.decide) for d in built)
    with pytest.raises(DeciderUnavailable, match="registered"):
        build_deciders(["telepathy"])


def test_reconcile_command_unknown_decider_exits_2(config_files, tmp_path) -> None:
    from tenantops.cli.main import main

    catalog, policies = config_files
    with pytest.raises(SystemExit) as exited:
        main(["reconcile", "--once", "--dry-run", "--decider", "telepathy", "--catalog", str(catalog),
              "--policies", str(policies), "--state", str(tmp_path / "s.db")])
    assert exited.value.code == 2
