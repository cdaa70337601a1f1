"""The facts step: live counts are "current", values outside sane ranges and a replicas metric that
contradicts the live count hold the workload with one alert per cause, sleeping workloads owe no series,
and a burst of workloads without metrics is one summarised alert."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config import Config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.base import PassInput
from tenantops.decide.facts import SUMMARY_AFTER, FactsDecider
from tenantops.engine.reconcile import restrict
from tenantops.observe.facts import REPORTED, FactChecker, SaneLimits
from tenantops.observe.replicas import LiveReplicas
from tenantops.structs.plan import ScaleTarget, TargetKind
from tenantops.structs.replicas import ReplicaCount
from tenantops.structs.snapshot import Quality, Reading, Snapshot, WorkloadMetrics

from .conftest import shared_config

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Counts:
    """A `ReplicaReader` over a dict of (namespace or region, name) -> desired replicas."""

    def __init__(self, counts: Mapping[str, int], fail: bool = False) -> None:
        self.counts = dict(counts)
        self.fail = fail
        self.calls = 0

    def describe_many(self, targets: Sequence[ScaleTarget]) -> dict[ScaleTarget, ReplicaCount]:
        self.calls += 1
        if self.fail:
            raise ConnectionError("API unreachable")
        return {t: ReplicaCount(self.counts[t.name], self.counts[t.name]) for t in targets if t.name in self.counts}


def _readings(**values: float) -> dict[str, Reading]:
    return {name: Reading.classify(value, NOW) for name, value in values.items()}


def _snapshot(workloads: Mapping[tuple[str, str], dict[str, Reading]]) -> Snapshot:
    return Snapshot(NOW, {k: WorkloadMetrics(k[0], k[1], r) for k, r in workloads.items()})


def _full(replicas: float, cpu: float = 0.5) -> dict[str, Reading]:
    return _readings(replicas=replicas, ready_replicas=replicas, cpu=cpu, memory=2e8, cpu_request=0.2 * replicas,
                     memory_request=1e8 * replicas, requests=5.0)


def _checker(kube: Mapping[str, int], asg: Mapping[str, int] | None = None) -> tuple[FactChecker, Counts, Counts]:
    k, a = Counts(kube), Counts(asg or {})
    return FactChecker(LiveReplicas.of({TargetKind.KUBERNETES: k, TargetKind.ASG: a})), k, a


def _decide(config: Config, snapshot: Snapshot) -> tuple[list, list]:
    config = restrict(config, [config.tenant(t) for t, _ in snapshot.workloads])
    inp = PassInput(snapshot=snapshot, config=config, now=NOW)
    scaling = AutoscalingDecider().decide(inp, {})
    facts = FactsDecider().decide(inp, {})
    return list(scaling.scale), [*scaling.alerts, *facts.alerts]


def test_live_count_replaces_the_metric_and_the_metric_is_kept(config: Config) -> None:
    checker, kube, _ = _checker({"api": 6, "worker": 2})
    tenants = [config.tenant("alpha")]
    snap = checker.establish(_snapshot({("alpha", "api"): _full(6), ("alpha", "worker"): _full(2)}), config,
                             tenants, NOW)
    assert snap.reading("alpha", "api", "replicas").value == 6.0
    assert snap.reading("alpha", "api", REPORTED).value == 6.0
    assert not snap.holds
    assert kube.calls == 1  # one call for every pooled workload, not one per workload


def test_silo_counts_come_per_region(config: Config) -> None:
    seen: list[str | None] = []

    def reader_for(kind: TargetKind, region: str | None) -> Counts:
        seen.append(region)
        return Counts({"tenantops-test-delta-api": 4})

    checker = FactChecker(LiveReplicas(reader_for, frozenset({TargetKind.ASG})))
    snap = checker.establish(_snapshot({("delta", "api"): _full(9)}), config, [config.tenant("delta")], NOW)
    assert seen == ["eu-west-1"]
    assert snap.reading("delta", "api", "replicas").value == 4.0
    assert snap.holds[("delta", "api")].cause == "disagrees"


def test_a_failed_reader_makes_the_count_unknown_not_the_metric(config: Config) -> None:
    checker = FactChecker(LiveReplicas.of({TargetKind.KUBERNETES: Counts({}, fail=True)}))
    snap = checker.establish(_snapshot({("beta", "api"): _full(5)}), config, [config.tenant("beta")], NOW)
    assert snap.reading("beta", "api", "replicas").quality is Quality.MISSING
    assert any("API unreachable" in e for e in snap.errors)


@pytest.mark.parametrize("reported", [0.0, 120.0, 1e300, math.nan, math.inf, -3.0])
def test_a_lying_replicas_metric_holds_with_exactly_one_alert(config: Config, reported: float) -> None:
    checker, _, _ = _checker({"api": 16})
    readings = _full(16, cpu=30.0)  # heavy load: unheld, this would scale up
    readings["replicas"] = Reading.classify(reported, NOW)
    snap = checker.establish(_snapshot({("beta", "api"): readings}), config, [config.tenant("beta")], NOW)
    assert snap.holds[("beta", "api")].blocks
    actions, alerts = _decide(config, snap)
    assert actions == []
    assert len([a for a in alerts if a.tenant == "beta"]) == 1


def test_lag_of_the_replicas_metric_is_not_a_disagreement(config: Config) -> None:
    checker, kube, _ = _checker({"api": 10})
    tenants = [config.tenant("beta")]
    checker.establish(_snapshot({("beta", "api"): _full(10)}), config, tenants, NOW)
    kube.counts["api"] = 15  # the controller scaled it; kube-state-metrics has not caught up
    snap = checker.establish(_snapshot({("beta", "api"): _full(10)}), config, tenants, NOW)
    assert not snap.holds
    assert snap.reading("beta", "api", "replicas").value == 15.0


def test_1e300_cpu_is_implausible_and_held(config: Config) -> None:
    checker, _, _ = _checker({"api": 3})
    snap = checker.establish(_snapshot({("beta", "api"): _full(3, cpu=1e300)}), config, [config.tenant("beta")],
                             NOW)
    assert snap.reading("beta", "api", "cpu").quality is Quality.IMPLAUSIBLE
    assert snap.holds[("beta", "api")].cause == "implausible"


def test_a_sleeping_workload_owes_no_series(config: Config) -> None:
    config = restrict(config, [config.tenant("beta")])
    checker, _, _ = _checker({"api": 0})
    scaling, facts, state = AutoscalingDecider(), FactsDecider(), {}
    for i in range(10):  # ten passes asleep: no alert at all
        at = NOW + timedelta(seconds=30 * i)
        raw = Snapshot(at, {("beta", "api"): WorkloadMetrics("beta", "api", {"replicas": Reading(0.0, Quality.OK,
                                                                                                  at)})})
        snap = checker.establish(raw, config, config.tenants, at)
        assert snap.reading("beta", "api", "cpu").value == 0.0
        assert not snap.holds
        out = scaling.decide(PassInput(snap, config, at), state)
        state.update(out.state)
        assert not out.alerts
        assert not facts.decide(PassInput(snap, config, at), {}).alerts


def test_many_workloads_without_metrics_are_one_summarised_alert(config: Config) -> None:
    tenants = [config.tenant(t) for t in ("alpha", "beta", "gamma")]
    n = SUMMARY_AFTER + 5
    many = Config(config.catalog.model_copy(update={"tenants": [
        tenants[0].model_copy(update={"id": f"new-{i}"}) for i in range(n)]}), config.policies, config.catalog_path)
    checker, _, _ = _checker({"api": 2, "worker": 1})
    snap = checker.establish(_snapshot({}), many, many.tenants, NOW)
    assert {h.cause for h in snap.holds.values()} == {"no-metrics"}
    facts = FactsDecider()
    first = facts.decide(PassInput(snap, many, NOW), {})
    assert not first.alerts  # grace: series of a new tenant arrive a scrape or two after its pods
    later = NOW + timedelta(minutes=10)
    out = facts.decide(PassInput(snap, many, later), dict(first.state))
    assert len(out.alerts) == 1 and out.alerts[0].details["tenants"] == n
    scaling = AutoscalingDecider()
    state: dict = {}
    for i in range(5):
        at = later + timedelta(seconds=30 * i)
        step = scaling.decide(PassInput(checker.establish(Snapshot(at, {}), many, many.tenants, at), many, at), state)
        state.update(step.state)
        assert not step.alerts  # the per-workload metrics alerts are the facts decider's summary


@settings(max_examples=60, deadline=None)
@given(live=st.integers(0, 30), reported=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                                   st.integers(0, 10**6).map(float)),
       cpu=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 64)))
def test_property_no_write_outside_bounds_or_beyond_the_step_from_the_live_count(
        live: int, reported: float, cpu: float) -> None:
    config = shared_config()
    tenant = config.tenant("beta")
    workload = tenant.workloads[0]
    checker, _, _ = _checker({"api": live})
    readings = _full(float(live), cpu=cpu)
    readings["replicas"] = Reading.classify(reported, NOW)
    snap = checker.establish(_snapshot({("beta", "api"): readings}), config, [tenant], NOW)
    actions, alerts = _decide(config, snap)
    brk = config.for_tenant(tenant).breakers
    for action in actions:
        assert action.current == live
        assert workload.min_replicas <= action.desired <= workload.max_replicas
        inside = min(max(live, workload.min_replicas), workload.max_replicas)
        assert action.desired == inside or live - brk.max_step_down <= action.desired <= live + brk.max_step_up
    if ("beta", "api") in snap.holds:
        assert not actions and len([a for a in alerts if a.tenant == "beta"]) == 1


def test_sane_limits_by_metric_name() -> None:
    limits = SaneLimits()
    assert limits.limit("cpu") == limits.limit("cpu_request") == limits.cpu_cores
    assert limits.limit("spend_mtd_usd") == limits.usd
    assert limits.limit("ready_replicas") == limits.replicas
    assert limits.agrees(10, 11) and not limits.agrees(0, 16)


def test_after_a_metrics_gap_no_scale_down_until_the_rate_windows_are_full(config: Config) -> None:
    config = restrict(config, [config.tenant("beta")])
    checker, _, _ = _checker({"api": 16})
    scaling, state = AutoscalingDecider(), {}

    def step(i: int, readings: dict[str, Reading]) -> tuple[Snapshot, list]:
        at = NOW + timedelta(seconds=30 * i)
        fresh = {k: Reading(r.value, r.quality, at) for k, r in readings.items()}
        snap = checker.establish(Snapshot(at, {("beta", "api"): WorkloadMetrics("beta", "api", fresh)}), config,
                                 config.tenants, at)
        out = scaling.decide(PassInput(snap, config, at), state)
        state.update(out.state)
        return snap, list(out.scale)

    idle = _full(16, cpu=0.01)
    idle["requests"] = Reading(0.1, Quality.OK, NOW)
    step(0, idle)
    gap = {"replicas": Reading(16.0, Quality.OK, NOW)}  # Prometheus down: only the live count is known
    for i in range(1, 4):
        step(i, gap)
    downs = []
    for i in range(4, 8):  # back, with under-reading rates, for two minutes
        snap, actions = step(i, idle)
        assert snap.holds[("beta", "api")].cause == "recovering"
        downs += [a for a in actions if a.desired < a.current]
    assert not downs
    assert not FactsDecider().decide(PassInput(snap, config, NOW), {}).alerts  # recovering is not a fault
    later = [a for i in range(8, 40) for a in step(i, idle)[1] if a.desired < a.current]
    assert later, "once the windows are full the idle workload does scale down"
