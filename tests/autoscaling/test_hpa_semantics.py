"""The Kubernetes HPA's own table tests, ported (docs/benchmarks.md §4).

Each case names the Go test it came from in kubernetes/kubernetes `pkg/controller/podautoscaler/`
(`horizontal_test.go`, `replica_calculator_test.go`) and its case name where the Go table has one. Values
are the Go test's; only the plumbing differs: the Go tests build pods and metric clients, these build the
workload-level readings tenantops observes (totals, the ready and current counts).

Not ported, because they need per-pod observations tenantops does not collect (declared unsupported):
pods without a metric (TestReplicaCalcMissingMetrics*, TestReplicaCalcScaleUpCMUnreadyHotCpu*), unready
pods counted at 0% on scale-up (TestReplicaCalcScaleUpUnready*, *IgnoresUnreadyPods for Resource and Pods
metrics), the CPU initialisation period (TestReplicaCalcScaleUpHotCpu*, TestReplicaCalcScaleHotCpuNoScale),
pods being deleted or failed (TestReplicaCalcScaleDownIgnoresDeletionPods, *IgnoresFailedPods), container
resources (TestReplicaCalc*ContainerMetric*), metric-client errors (TestReplicaCalcEmptyMetrics,
TestReplicaCalcEmptyCPURequest, TestReplicaCalcDisjointResourcesMetrics) and the int32 overflow cases.
The `horizontal_test.go` controller cases that drive a fake API server (TestScaleUp*, TestConditionFailed*)
exercise client plumbing; their rules are covered by the family tables below.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from tenantops.config.kinds.scaling import Behavior, Rule, ScalingSpec
from tenantops.decide.autoscaling.behavior import (
    DOWN,
    UP,
    Limits,
    rate_limit,
    record_scale,
    scale_down_limit,
    scale_up_limit,
    stabilize,
)
from tenantops.decide.autoscaling.reactive import MetricLoad, hpa_recommendation, metric_recommendation
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Tuning, recommend
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.sim.hpa import hpa_policy

NOW = 1_000_000.0
TOL = 0.1  # defaultTestingTolerance


# --- horizontal_test.go: TestScalingWithRules (convertDesiredReplicasWithBehaviorRate) -----------------------

def rules(pods: int, pods_period: int, percent: int, percent_period: int, window: int) -> Behavior:
    """`generateScalingRules(pods, podsPeriod, percent, percentPeriod, stabilizationWindow)` (selectPolicy Max)."""
    policies = []
    if pods:
        policies.append(Rule(type="pods", value=pods, period_seconds=pods_period))
    if percent:
        policies.append(Rule(type="percent", value=percent, period_seconds=percent_period))
    return Behavior(policies=policies, stabilization_seconds=window)


def uniform(changes: list[int], period: int) -> list[tuple[float, int]]:
    """`generateEventsUniformDistribution`: events spread over the last `period` seconds, centred in equal
    segments, oldest first."""
    segment = period / len(changes)
    return [(NOW - (period - segment * (i + 1) + segment / 2), c) for i, c in enumerate(changes)]


def converted(current: int, desired: int, lo: int, hi: int, up: Behavior | None = None,
              down: Behavior | None = None, up_events: list[tuple[float, int]] = (),  # type: ignore[assignment]
              down_events: list[tuple[float, int]] = ()) -> int:  # type: ignore[assignment]
    state = WorkloadState(events=[[at, float(c)] for at, c in up_events] + [[at, float(-c)] for at, c in down_events])
    limited = rate_limit(state, desired, current, NOW, Limits.of(up or Behavior(), UP, TOL),
                         Limits.of(down or Behavior(), DOWN, TOL))
    return min(hi, max(lo, limited))


SCALING_WITH_RULES = [
    # (case name, current, prenormalized desired, min, max, scaleUp rules, scaleDown rules, up events, down events,
    #  expected)
    ("prenormalized desired replicas within range", 5, 7, 3, 8, None, None, [], [], 7),
    ("prenormalized desired replicas < minReplicas", 3, 1, 2, 8, None, None, [], [], 2),
    ("prenormalized desired replicas within range when minReplicas is 0", 1, 0, 0, 10, None, None, [], [], 0),
    ("maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, None, None, [], [], 10),
    ("desired replica count is more than the maximum replica count", 100, 1000, 100, 150, None, None, [], [], 150),
    ("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", 3, 1000, 1, 2000,
     rules(0, 0, 1, 60, 0), None, [], [], 4),
    ("scaleUp with default behavior", 10, 50, 1, 1000, None, None, [], [], 20),
    ("scaleUp with pods policy larger than percent policy", 10, 500, 1, 1000, rules(100, 60, 100, 60, 0), None,
     [], [], 110),
    ("scaleUp with percent policy larger than pods policy", 10, 500, 1, 1000, rules(2, 60, 100, 60, 0), None,
     [], [], 20),
    ("scaleUp with spec MaxReplicas limitation with large pod policy", 10, 50, 1, 1000, rules(100, 60, 0, 0, 0),
     None, [], [], 50),
    ("scaleUp with spec MaxReplicas limitation with large percent policy", 10, 50, 1, 1000,
     rules(10000, 60, 0, 0, 0), None, [], [], 50),
    ("scaleUp with pod policy limitation", 10, 50, 1, 1000, rules(30, 60, 0, 0, 0), None, [], [], 40),
    ("scaleUp with percent policy limitation", 10, 50, 1, 1000, rules(0, 0, 200, 60, 0), None, [], [], 30),
    ("scaleDown with percent policy larger than pod policy", 100, 2, 1, 1000, None, rules(20, 60, 1, 60, 300),
     [], [], 80),
    ("scaleDown with pod policy larger than percent policy", 100, 2, 1, 1000, None, rules(2, 60, 1, 60, 300),
     [], [], 98),
    ("scaleDown with spec MinReplicas=nil limitation with large pod policy", 10, 0, 1, 1000, None,
     rules(100, 60, 0, 0, 300), [], [], 1),
    ("scaleDown with spec MinReplicas limitation with large pod policy", 10, 0, 1, 1000, None,
     rules(100, 60, 0, 0, 300), [], [], 1),
    ("scaleDown with spec MinReplicas limitation with large percent policy", 10, 2, 5, 1000, None,
     rules(0, 0, 100, 60, 300), [], [], 5),
    ("scaleDown with pod policy limitation", 10, 2, 1, 1000, None, rules(5, 60, 0, 0, 300), [], [], 5),
    ("scaleDown with percent policy limitation", 10, 5, 1, 1000, None, rules(0, 0, 50, 60, 300), [], [], 5),
    ("scaleUp with spec MaxReplicas limitation with large pod policy and events", 100, 500, 1, 200,
     rules(300, 60, 0, 0, 0), None, uniform([1, 5, 9], 120), [], 200),
    ("scaleUp with spec MaxReplicas limitation with large percent policy and events", 100, 500, 1, 200,
     rules(0, 0, 10000, 60, 0), None, uniform([1, 5, 9], 120), [], 200),
    ("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", 100,
     500, 1, 1000, rules(5, 120, 0, 0, 0), None, uniform([1, 5, 9], 120), [], 100),
    ("scaleUp with pod policy and previous scale up events", 100, 500, 1, 1000, rules(150, 120, 0, 0, 0), None,
     uniform([1, 5, 9], 120), [], 235),
    ("scaleUp with percent policy and previous scale up events", 100, 500, 1, 1000, rules(0, 0, 200, 120, 0), None,
     uniform([1, 5, 9], 120), [], 255),
    ("scaleDown with default policy and previous events", 10, 5, 1, 1000, None, None, [], uniform([1, 5, 9], 120),
     5),
    ("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", 100, 0, 1, 1000,
     None, rules(115, 120, 0, 0, 300), [], uniform([1, 5, 9], 120), 1),
    ("scaleDown with spec MinReplicas limitation with large pod policy and previous events", 100, 0, 5, 1000, None,
     rules(130, 120, 0, 0, 300), [], uniform([1, 5, 9], 120), 5),
    ("scaleDown with spec MinReplicas limitation with large percent policy and previous events", 100, 2, 5, 1000,
     None, rules(0, 0, 100, 120, 300), [], uniform([1, 5, 9], 120), 5),
    ("scaleDown with pod policy limitation and previous events", 100, 2, 1, 1000, None, rules(5, 120, 0, 0, 300),
     [], uniform([1, 5, 9], 120), 100),
    ("scaleDown with percent policy limitation and previous events", 100, 0, 1, 1000, None,
     rules(0, 0, 50, 120, 300), [], uniform([2, 4, 6], 120), 56),
    ("scaleDown with previous events preventing further scale down", 100, 0, 1, 1000, None,
     rules(0, 0, 10, 120, 300), [], uniform([10, 10, 10], 120), 100),
    ("scaleDown with with previous events still allowing more scale down", 10, 5, 1, 1000, None,
     rules(0, 0, 1000, 120, 300), [], uniform([10, 10, 10], 120), 5),
    ("check 'outdated' flag for events for one behavior for up", 100, 200, 1, 1000, rules(1000, 60, 0, 0, 0), None,
     uniform([8, 12, 9, 11], 120), [], 200),
    ("check that events were not marked 'outdated' for two different policies in the behavior for up", 100, 200, 1,
     1000, rules(1000, 120, 100, 60, 0), None, uniform([8, 12, 9, 11], 120), [], 200),
    ("check that events were marked 'outdated' for two different policies in the behavior for up", 100, 200, 1,
     1000, rules(1000, 30, 100, 60, 0), None, uniform([8, 12, 9, 11], 120), [], 200),
    ("check 'outdated' flag for events for one behavior for down", 100, 5, 1, 1000, None,
     rules(1000, 60, 0, 0, 300), [], uniform([8, 12, 9, 11], 120), 5),
    ("check that events were not marked 'outdated' for two different policies in the behavior for down", 100, 5,
     1, 1000, None, rules(1000, 120, 100, 60, 300), [], uniform([8, 12, 9, 11], 120), 5),
    ("check that events were marked 'outdated' for two different policies in the behavior for down", 100, 5, 1,
     1000, None, rules(1000, 30, 100, 60, 300), [], uniform([8, 12, 9, 11], 120), 5),
]


@pytest.mark.parametrize(("name", "current", "desired", "lo", "hi", "up", "down", "up_events", "down_events",
                          "expected"), SCALING_WITH_RULES, ids=[c[0] for c in SCALING_WITH_RULES])
def test_scaling_with_rules(name: str, current: int, desired: int, lo: int, hi: int, up: Behavior | None,
                            down: Behavior | None, up_events: list[tuple[float, int]],
                            down_events: list[tuple[float, int]], expected: int) -> None:
    """horizontal_test.go TestScalingWithRules (the case marked `testThis`, which Go skips, is left out)."""
    assert converted(current, desired, lo, hi, up, down, up_events, down_events) == expected


@pytest.mark.parametrize(("direction", "current", "expected"), [(UP, 1, 2), (DOWN, 5, 3)])
def test_limit_with_min_select_policy(direction: str, current: int, expected: int) -> None:
    """horizontal_test.go TestCalculateScaleUpLimitWithScalingRules (from 1: 2) and
    TestCalculateScaleDownLimitWithBehaviors (from 5: 3): the least permissive of 2 pods / 50% per 60 s."""
    limits = Limits.of(Behavior(policies=[Rule(type="pods", value=2, period_seconds=60),
                                          Rule(type="percent", value=50, period_seconds=60)],
                                select_policy="min", stabilization_seconds=300), direction, TOL)
    limit = scale_up_limit if direction == UP else scale_down_limit
    assert limit(WorkloadState(), current, NOW, limits) == expected


def test_period_start_counts_the_events_of_both_directions() -> None:
    """horizontal.go calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors (current
    version): periodStartReplicas = current - added + deleted in each rule's period, for either direction."""
    state = WorkloadState(events=[[NOW - 30, 10.0], [NOW - 20, -4.0]])  # +10 then -4 within the minute
    up = Limits.of(Behavior(policies=[Rule(type="pods", value=4, period_seconds=60)]), UP, TOL)
    down = Limits.of(Behavior(policies=[Rule(type="pods", value=4, period_seconds=60)]), DOWN, TOL)
    assert scale_up_limit(state, 16, NOW, up) == 16 - 10 + 4 + 4
    assert scale_down_limit(state, 16, NOW, down) == 16 - 10 + 4 - 4
    # each rule counts only its own period: a 15 s rule sees neither event
    short = Limits.of(Behavior(policies=[Rule(type="pods", value=4, period_seconds=15)]), UP, TOL)
    assert scale_up_limit(state, 16, NOW, short) == 20


def test_disabled_select_policy_forbids_the_direction() -> None:
    """horizontal.go: selectPolicy Disabled returns the current count as the limit."""
    off = Behavior(select_policy="disabled")
    assert converted(10, 50, 1, 1000, up=off) == 10
    assert converted(10, 2, 1, 1000, down=off) == 10


# --- horizontal_test.go: TestNormalizeDesiredReplicas (stabilisation over the 300 s window) ------------------

NORMALIZE = [
    ("empty log", [], 3 + 2, 5),
    ("stabilize", [(4, -120), (5, -60)], 3, 5),
    ("no stabilize", [(1, -120), (2, -60)], 3, 3),
    ("no stabilize - old recommendations", [(10, -600), (9, -540)], 3, 3),
    ("stabilize - old recommendations", [(10, -600), (4, -60), (5, -120), (9, -540)], 3, 5),
]


@pytest.mark.parametrize(("name", "recs", "desired", "expected"), NORMALIZE, ids=[c[0] for c in NORMALIZE])
def test_normalize_desired_replicas(name: str, recs: list[tuple[int, int]], desired: int, expected: int) -> None:
    """horizontal_test.go TestNormalizeDesiredReplicas (the stabilised count; the Go test's log length is a
    storage detail: tenantops drops recommendations older than every window instead of reusing one slot)."""
    state = WorkloadState(recommendations=[[NOW + ago, float(r)] for r, ago in recs])
    up, down = Limits.of(Behavior(), UP, TOL), Limits.of(Behavior(), DOWN, TOL)
    assert stabilize(state, desired, 100, NOW, up, down) == expected
    assert [NOW, float(desired)] in state.recommendations


def test_first_sight_seeds_the_window_so_there_is_no_immediate_scale_down() -> None:
    """horizontal.go recordInitialRecommendation: the current count is the first recommendation."""
    tuning = Tuning.of(ScalingSpec.model_validate({"algorithm": "reactive",
                                                   "metrics": [{"metric": "cpu", "target": 0.5}]}))
    state = WorkloadState()
    low = (MetricLoad("cpu", 1.0, 0.5, 1.0),)  # 10 ready replicas at 10% for a 50% target
    first = recommend(tuning, Bounds(1, 100), Observation(NOW, 10, 10, low), state, NOW)
    assert first.desired == 10 and first.estimate == 2
    later = recommend(tuning, Bounds(1, 100), Observation(NOW + 301, 10, 10, low), state, NOW + 301)
    assert later.desired == 2


def test_unset_window_in_a_partial_block_takes_the_direction_default() -> None:
    """autoscaling/v2 defaults (GenerateHPAScaleDownRules): a scaleDown block without a window takes 300 s,
    scaleUp 0 s; a block without policies takes the direction's default policies."""
    spec = ScalingSpec.model_validate({"metrics": [{"metric": "cpu", "target": 0.5}],
                                       "scale_down": {"max_percent": 50}, "scale_up": {"select_policy": "max"}})
    tuning = Tuning.of(spec)
    assert tuning.down.stabilization_seconds == 300 and tuning.up.stabilization_seconds == 0
    assert tuning.up.rules == (("pods", 4.0, 15.0), ("percent", 100.0, 15.0))


def test_min_and_max_are_enforced_with_no_usable_metric() -> None:
    """horizontal.go reconcileAutoscaler: a count outside [min, max] is moved to the bound before metrics are
    read, so even a pass without any metric does it."""
    tuning = Tuning.of(ScalingSpec.model_validate({"metrics": [{"metric": "cpu", "target": 0.5}]}))
    rec = recommend(tuning, Bounds(2, 8), Observation(NOW, 12, 12, ()), WorkloadState(), NOW)
    assert rec.desired == 8
    rec = recommend(tuning, Bounds(2, 8), Observation(NOW, 1, 1, ()), WorkloadState(), NOW)
    assert rec.desired == 2


def test_a_change_stopped_later_is_not_a_scale_event() -> None:
    """horizontal.go storeScaleEvent runs only after the rescale: only the count asked for is recorded."""
    state = WorkloadState()
    up = Limits.of(Behavior(policies=[Rule(type="pods", value=4, period_seconds=60)]), UP, TOL)
    assert rate_limit(state, 50, 10, NOW, up, Limits.of(Behavior(), DOWN, TOL)) == 14
    assert state.events == []  # nothing recorded until the final count is known
    record_scale(state, NOW, 10, 12)  # a breaker or bound let only +2 through
    assert scale_up_limit(state, 12, NOW + 1, up) == 14


# --- replica_calculator_test.go: workload-level metrics ----------------------------------------------------

def loads(kind: str, total: float, target: float) -> MetricLoad:
    return MetricLoad("qps", total, target, target, kind)


# replica_calculator_cases.csv: one row per Go test (named in the `test` column); metric totals as the Go test's
# levels add up, its target, the current and ready counts, its tolerances (down, up) and expected replicas.
with open(Path(__file__).with_name("replica_calculator_cases.csv"), newline="", encoding="utf-8") as _cases:
    REPLICA_CALC = [
        (r["test"], r["kind"], int(r["current"]), int(r["ready"]), float(r["total"]), float(r["target"]),
         (float(r["tolerance_down"]), float(r["tolerance_up"])), int(r["expected"]))
        for r in csv.DictReader(_cases)
    ]


@pytest.mark.parametrize(("test", "kind", "current", "ready", "total", "target", "tolerances", "expected"),
                         REPLICA_CALC, ids=[c[0] for c in REPLICA_CALC])
def test_replica_calculator_metrics(test: str, kind: str, current: int, ready: int, total: float, target: float,
                                    tolerances: tuple[float, float], expected: int) -> None:
    down, up = tolerances
    assert metric_recommendation(loads(kind, total, target), ready, current, down, up) == expected


# Resource (CPU) utilisation with every pod ready and reporting: usage and requests as totals, in millicores.
RESOURCE = [
    # (Go test / case, current, requests total, usage total, target %, (tolerance down, up), expected)
    ("TestReplicaCalcTolerance", 3, 900 + 1000 + 1100, 1010 + 1030 + 1020, 100, (TOL, TOL), 3),
    ("TestReplicaCalcConfigurableTolerance/Outside of a 0% tolerance", 3, 3000, 909 + 1010 + 1111, 100, (0.0, 0.0),
     4),
    ("TestReplicaCalcConfigurableTolerance/Within a 200% scale-up tolerance", 3, 3000, 1890 + 1910 + 1900, 100,
     (TOL, 2.0), 3),
    ("TestReplicaCalcConfigurableTolerance/Outside 8% scale-up tolerance (and superfuous scale-down tolerance)", 3,
     3000, 1100 + 1080 + 1090, 100, (2.0, 0.08), 4),
    ("TestReplicaCalcConfigurableTolerance/Within a 36% scale-down tolerance", 3, 3000, 660 + 640 + 650, 100,
     (0.36, TOL), 3),
    ("TestReplicaCalcConfigurableTolerance/Outside a 34% scale-down tolerance", 3, 3000, 660 + 640 + 650, 100,
     (0.34, TOL), 2),
]


@pytest.mark.parametrize(("test", "current", "requests", "usage", "target", "tolerances", "expected"), RESOURCE,
                         ids=[c[0] for c in RESOURCE])
def test_replica_calculator_resource_utilisation(test: str, current: int, requests: float, usage: float,
                                                 target: int, tolerances: tuple[float, float], expected: int) -> None:
    per_replica = requests / current
    m = MetricLoad("cpu", usage / per_replica, target / 100.0, 1.0)
    down, up = tolerances
    assert metric_recommendation(m, current, current, down, up) == expected


def test_utilisation_is_a_whole_percent_of_requests() -> None:
    """replica_calculator.go GetResourceUtilizationRatio: utilisation is truncated to a whole percent before the
    ratio (101.9% of a 100% target is 101%, inside a 1% tolerance; 102% is not)."""
    inside = MetricLoad("cpu", 3 * 1.019, 1.0, 1.0)
    outside = MetricLoad("cpu", 3 * 1.02, 1.0, 1.0)
    assert metric_recommendation(inside, 3, 3, 0.01, 0.01) == 3
    assert metric_recommendation(outside, 3, 3, 0.01, 0.01) == math.ceil(1.02 * 3)


def test_separate_tolerances_come_from_the_behavior_blocks() -> None:
    """KEP-4951: `behavior.scaleUp.tolerance` / `scaleDown.tolerance` override the global tolerance."""
    spec = ScalingSpec.model_validate({"algorithm": "reactive", "metrics": [{"metric": "cpu", "target": 1.0}],
                                       "scale_up": {"tolerance": 0.01}, "scale_down": {"tolerance": 0.5}})
    tuning = Tuning.of(spec)
    assert (tuning.up.tolerance, tuning.down.tolerance, spec.tolerance) == (0.01, 0.5, 0.1)


def test_multi_metric_takes_the_largest() -> None:
    """horizontal.go computeReplicasForMetrics: the largest proposal over metrics."""
    metrics = [MetricLoad("cpu", 2.0, 0.5, 1.0), MetricLoad("requests", 600.0, 50.0, 50.0, "per_replica")]
    assert hpa_recommendation(metrics, 4, 4, TOL, TOL) == (12, "requests")


def test_value_targets_are_rejected_for_predictive_scaling() -> None:
    with pytest.raises(ValueError, match="no per-replica demand to forecast"):
        ScalingSpec.model_validate({"metrics": [{"metric": "queue", "type": "value", "target": 100}]})


# --- the simulator's baseline HPA follows the same rules ----------------------------------------------------

def test_baseline_hpa_holds_scale_down_for_five_minutes() -> None:
    policy = hpa_policy(target=0.5, capacity=1.0)
    assert policy(1, 5.0, 10, 10) == 10  # 10 ready replicas at utilisation 0.5, on target
    assert [policy(t, 2.5, 10, 10) for t in range(2, 6)] == [10, 10, 10, 10]  # the window still holds 10
    assert policy(6, 2.5, 10, 10) == 5


def test_baseline_hpa_scale_up_is_limited_to_double_or_four() -> None:
    policy = hpa_policy(target=0.5, capacity=1.0)
    assert policy(1, 100.0, 2, 2) == 6
    assert policy(2, 100.0, 10, 10) == 20
