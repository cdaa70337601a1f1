"""The Kubernetes HPA's own table tests, ported (docs/benchmarks.md §4).

Each case names the Go test it came from in kubernetes/kubernetes `pkg/controller/podautoscaler/`
(`horizontal_test.go`, `replica_calculator_test.go`) and its case name where the Go table has one. Values
are the Go test's; only the plumbing differs: the Go tests build pods and metric clients, these build the
workload-level readings tenantops observes (totals, the ready and current counts). The `horizontal_test.go`
controller cases that drive a fake API server are ported as one reconcile of the production decision
(`test_reconcile`): what the Go test expects the scale subresource to be written to.

Not ported, because they need per-pod observations tenantops does not collect (declared unsupported): the
controller reads each metric as a workload-level sum and the live and ready counts, never a series per pod.
Pods without a metric (TestReplicaCalcMissingMetrics*, TestMissingMetrics, TestReplicaCalcScaleUpCMUnreadyHotCpu*,
TestReplicaCalcDuringRollingUpdateWithMaxSurge*), unready pods counted at 0% on scale-up or left out on
scale-down (TestReplicaCalcResourceScale's unready cases, TestScaleUpUnready*, TestScaleDownIncludeUnreadyPods,
*IgnoresUnreadyPods for Resource and Pods metrics), the CPU initialisation period (*HotCpu*), pods being deleted
or failed (*IgnoresDeletionPods, *IgnoresFailedPods), metrics of pods outside the selection
(TestReplicaCalcSuperfluousMetrics, TestSuperfluousMetrics), container resources (*Container*,
TestCalculateRequests, TestCalculatePodRequestsFromContainers_NonExistentContainer), pod grouping
(TestGroupPods), metric-client errors (TestReplicaCalcEmptyMetrics, TestReplicaCalcEmptyCPURequest,
TestReplicaCalcDisjointResourcesMetrics) and the int32 overflow cases (*Overflow: Python integers, and every
count is held to the workload's max_replicas). Client plumbing with no rule of its own (TestConditionInvalidSelector*,
TestConditionFailedGetScale, TestConditionInvalidSourceType, TestAvoidUnnecessaryUpdates, TestMultipleHPAs) is
not ported; TestConditionFailedUpdateScale's rule (a failed write is no scale event) is `test_scale_settle.py`'s.

Declared divergences, each held by `test_declared_divergence`: an HPA whose target stands at 0 replicas with
minReplicas above 0 has autoscaling switched off (TestZeroReplicas); tenantops owns the count, and brings a
workload found at 0 to its minimum unless its tier allows scale-to-zero. An HPA with no `behavior` block at all
limits scale-up to max(2 x current, 4) (the legacy normalizeDesiredReplicas, TestConvertDesiredReplicasWithRules);
a ScalingPolicy always has behaviour, so an unwritten direction takes the autoscaling/v2 default rules (4 pods or
100% per 15 s, with the period's events), which an HPA with a `behavior` block gets: the two differ below 4
replicas (from 3: 7 against 6).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
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
from tenantops.decide.autoscaling.workload import Guards, decide_workload
from tenantops.sim.hpa import hpa_policy

NOW = 1_000_000.0
TOL = 0.1  # defaultTestingTolerance
NO_STEP_LIMIT = Guards(max_step_up=1_000_000, max_step_down=1_000_000)  # the HPA has no step breaker


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


@pytest.mark.parametrize(("case", "current", "hi", "load", "guards", "problems", "over_budget", "proposed"), [
    ("freeze breaker holds a scale-down", 10, 100, 1.0, NO_STEP_LIMIT, ("qps missing",), False, []),
    ("budget cap holds a scale-up", 4, 100, 10.0, NO_STEP_LIMIT, (), True, []),
    ("step breaker lets +2 of +16 through", 4, 100, 10.0, Guards(max_step_up=2, max_step_down=5), (), False,
     [[NOW, 2.0]]),
    ("max bound lets +2 of +16 through", 4, 6, 10.0, NO_STEP_LIMIT, (), False, [[NOW, 2.0]]),
])
def test_only_the_change_that_passes_every_guard_is_proposed(case: str, current: int, hi: int, load: float,
                                                              guards: Guards, problems: tuple[str, ...],
                                                              over_budget: bool, proposed: list[list[float]]) -> None:
    """horizontal.go storeScaleEvent records the rescale made, after bounds and rate limits: through the whole
    production decision, a change that a breaker, a bound or the budget cap stops or cuts is proposed (and so
    counted by the next pass's rate limits) only as far as it got, or not at all."""
    spec = ScalingSpec.model_validate({"algorithm": "reactive", "metrics": [{"metric": "cpu", "target": 0.5}],
                                       "budget_action": "cap"})
    state = WorkloadState(decided_at=NOW - 600)
    obs = Observation(NOW, current, current, (MetricLoad("cpu", load, 0.5, 1.0),), not problems, over_budget)
    decision = decide_workload(Tuning.of(spec), Bounds(1, hi), guards, obs, problems, state, NOW)
    assert decision.desired == current + (int(proposed[0][1]) if proposed else 0)
    assert state.proposed == proposed and state.events == []


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


@pytest.mark.parametrize("direction", ["scale_up", "scale_down"])
def test_an_empty_rule_list_is_refused(direction: str) -> None:
    """validation.go validateScalingRules: "must specify at least one Policy". An empty list was accepted
    and compiled to no rule, so the direction had no rate limit at all."""
    with pytest.raises(ValueError, match="empty list would set no rate limit"):
        ScalingSpec.model_validate({"metrics": [{"metric": "cpu", "target": 0.5}], direction: {"policies": []}})


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


# --- horizontal_test.go: TestNormalizeDesiredReplicasWithBehavior (stabilizeRecommendationWithBehaviors) ---------

NORMALIZE_WITH_BEHAVIOR = [
    # (case name, recommendations as (replicas, seconds ago), current, prenormalized desired, up window, down
    #  window, expected)
    ("empty recommendations for scaling down", [], 100, 5, 0, 0, 5),
    ("simple scale down stabilization", [(4, 120), (5, 60)], 100, 3, 0, 180, 5),
    ("simple scale up stabilization", [(4, 120), (5, 60)], 1, 7, 300, 0, 4),
    ("no scale down stabilization", [(1, 120), (2, 60)], 100, 3, 300, 0, 3),
    ("no scale up stabilization", [(4, 120), (5, 60)], 1, 3, 0, 300, 3),
    ("no scale down stabilization, reuse recommendation element", [(10, 600), (9, 540)], 100, 3, 0, 0, 3),
    ("no scale up stabilization, reuse recommendation element", [(10, 600), (9, 540)], 1, 100, 0, 0, 100),
    ("scale down stabilization, reuse one of obsolete recommendation element",
     [(10, 600), (4, 60), (5, 120), (9, 540)], 100, 3, 0, 180, 5),
    ("scale up stabilization, reuse one of obsolete recommendation element",
     [(10, 6000), (6, 60), (5, 120), (9, 180)], 1, 100, 300, 0, 5),
]


@pytest.mark.parametrize(("name", "recs", "current", "desired", "up_window", "down_window", "expected"),
                         NORMALIZE_WITH_BEHAVIOR, ids=[c[0] for c in NORMALIZE_WITH_BEHAVIOR])
def test_normalize_desired_replicas_with_behavior(name: str, recs: list[tuple[int, int]], current: int,
                                                  desired: int, up_window: int, down_window: int,
                                                  expected: int) -> None:
    """horizontal_test.go TestNormalizeDesiredReplicasWithBehavior: both windows, each set explicitly (the Go
    test's zero value is a written 0 s window). The stored log is compared as a set of kept recommendations:
    the Go test reuses outdated slots, tenantops drops them."""
    state = WorkloadState(recommendations=[[NOW - ago, float(r)] for r, ago in recs])
    up = Limits.of(Behavior(stabilization_seconds=up_window), UP, TOL)
    down = Limits.of(Behavior(stabilization_seconds=down_window), DOWN, TOL)
    assert stabilize(state, desired, current, NOW, up, down) == expected
    assert state.recommendations[-1] == [NOW, float(desired)]
    longest = max(up_window, down_window)
    assert all(NOW - at < longest or at == NOW for at, _ in state.recommendations)


# --- horizontal_test.go: TestStoreScaleEvents (getReplicasChangePerPeriod over 60 s) ----------------------------

STORED_EVENTS = [
    # (case name, events as (replicas, seconds ago), replicas changed in the last 60 s)
    ("empty entries with default behavior", [], 0),
    ("empty entries with two-policy-behavior", [], 0),
    ("one outdated entry to be kept untouched without behavior", [(7, 61)], 0),
    ("one outdated entry to be replaced with behavior", [(7, 61)], 0),
    ("one actual entry to be not touched with behavior", [(7, 58)], 7),
    ("two entries, one of them to be replaced", [(7, 61), (6, 59)], 6),
    ("replace one entry, use policies with different periods", [(8, 29), (6, 59), (7, 61), (9, 61)], 14),
    ("two entries, both actual", [(7, 58), (6, 59)], 13),
]


@pytest.mark.parametrize(("name", "events", "changed"), STORED_EVENTS, ids=[c[0] for c in STORED_EVENTS])
def test_store_scale_events_counts_the_period(name: str, events: list[tuple[int, int]], changed: int) -> None:
    """horizontal_test.go TestStoreScaleEvents: the replicas changed in the last 60 s, for scale-up and for
    scale-down events, read through a one-pod rule of that period (limit = current -+ changed +- 1). The Go
    test's slot reuse and `outdated` flag are storage details; tenantops drops events older than every period."""
    rule = Behavior(policies=[Rule(type="pods", value=1, period_seconds=60)])
    up, down = Limits.of(rule, UP, TOL), Limits.of(rule, DOWN, TOL)
    ups = WorkloadState(events=[[NOW - ago, float(c)] for c, ago in events])
    downs = WorkloadState(events=[[NOW - ago, float(-c)] for c, ago in events])
    assert scale_up_limit(ups, 100, NOW, up) == 100 - changed + 1
    assert scale_down_limit(downs, 100, NOW, down) == 100 + changed - 1


# --- replica_calculator_test.go: whole-workload resource cases ----------------------------------------------

RESOURCE_SCALE = [
    # (Go test / case, current, requests total, usage total, target %, expected): every pod ready and reporting
    ("TestReplicaCalcResourceScale/scale up", 3, 3 * 2000, 2 * (300 + 500 + 700), 30, 5),
    ("TestReplicaCalcResourceScale/scale down", 5, 5 * 2000, 2 * (100 + 300 + 500 + 250 + 250), 50, 3),
    # 10 pods of 150m against requests of about 300m (jittered, summing to 3000m): 50% of requests; a 56% target
    # leaves the tolerance (ratio 0.893), a 55% one does not (0.909).
    ("TestReplicaCalcComputedToleranceAlgImplementation/scale", 10, 2 * 3000, 2 * 1500, 56, 9),
    ("TestReplicaCalcComputedToleranceAlgImplementation/no scale", 10, 2 * 3000, 2 * 1500, 55, 10),
]


@pytest.mark.parametrize(("test", "current", "requests", "usage", "target", "expected"), RESOURCE_SCALE,
                         ids=[c[0] for c in RESOURCE_SCALE])
def test_replica_calculator_resource_scale(test: str, current: int, requests: float, usage: float, target: int,
                                           expected: int) -> None:
    m = MetricLoad("cpu", usage / (requests / current), target / 100.0, 1.0)
    assert metric_recommendation(m, current, current, TOL, TOL) == expected


# --- horizontal_test.go: whole reconcile cases (one HPA, one pass), through the production decision ---------

def reconcile(lo: int, hi: int, current: int, metrics: tuple[MetricLoad, ...], *, ready: int | None = None,
              known: bool = True, recs: Sequence[tuple[int, int]] = (), problems: tuple[str, ...] = (),
              scale_up: dict[str, object] | None = None) -> int:
    """One reconcile of the Go test's HPA as tenantops' per-workload decision (`decide_workload`, reactive rule,
    no step breaker). `known=False` is the Go test's `recommendations: nil` (first sight of the HPA); `known`
    with `recs` is a recommendation log the controller already holds."""
    policy: dict[str, object] = {"algorithm": "reactive",
                                 "metrics": [{"metric": m.metric, "type": m.kind, "target": m.target}
                                             for m in metrics] or [{"metric": "cpu", "target": 0.9}]}
    if scale_up is not None:
        policy["scale_up"] = scale_up
    tuning = Tuning.of(ScalingSpec.model_validate(policy))
    state = WorkloadState()
    if known:
        state = WorkloadState(decided_at=NOW - 600, recommendations=[[NOW - ago, float(r)] for r, ago in recs])
    obs = Observation(NOW, current, current if ready is None else ready, metrics, not problems)
    decision = decide_workload(tuning, Bounds(lo, hi, lo == 0), NO_STEP_LIMIT, obs, problems, state, NOW)
    return decision.desired


def cpu(levels: list[int], requests: list[float], target: int) -> MetricLoad:
    """The Go test's `reportedLevels` (millicores per pod) and `reportedCPURequests` (cores per pod) as a
    workload's CPU load in units of one replica's request."""
    per_replica = 1000 * sum(requests) / len(requests)
    return MetricLoad("cpu", sum(levels) / per_replica, target / 100.0, 1.0)


def obj(kind: str, level: float, target: float) -> MetricLoad:
    return MetricLoad("qps", level, target, target, kind)


ONE = [1.0, 1.0, 1.0]
FIVE = [1.0] * 5
JITTER = [0.9, 1.0, 1.1]
JITTERED_300M = [0.4, 0.2, 0.31, 0.29, 0.302, 0.298, 0.301, 0.299, 0.3, 0.3]  # perPodRequested (300m) +-100, 10, 2, 1
RECONCILE = [
    # (Go test, expected, lo, hi, current, metrics, options)
    ("TestScaleUp", 5, 2, 6, 3, (cpu([300, 500, 700], ONE, 30),), {}),
    ("TestScaleUpDeployment", 5, 2, 6, 3, (cpu([300, 500, 700], ONE, 30),), {}),
    ("TestScaleUpReplicaSet", 5, 2, 6, 3, (cpu([300, 500, 700], ONE, 30),), {}),
    ("TestScaleUpCM", 4, 2, 6, 3, (obj("per_replica", 60.0, 15.0),), {}),
    ("TestScaleUpCMObject", 4, 2, 6, 3, (obj("value", 20.0, 15.0),), {}),
    ("TestScaleUpFromZeroCMObject", 2, 0, 6, 0, (obj("value", 20.0, 15.0),), {}),
    ("TestScaleUpFromZeroIgnoresToleranceCMObject", 1, 0, 6, 0, (obj("value", 1.0, 1.0),), {}),
    ("TestScaleUpPerPodCMObject", 4, 2, 6, 3, (obj("average_value", 40.0, 10.0),), {}),
    ("TestScaleUpCMExternal", 4, 2, 6, 3, (obj("value", 8.6, 6.666),), {}),
    ("TestScaleUpPerPodCMExternal", 4, 2, 6, 3, (obj("average_value", 8.6, 2.222),), {}),
    ("TestScaleDown", 3, 2, 6, 5, (cpu([100, 300, 500, 250, 250], FIVE, 50),), {}),
    ("TestScaleDownWithScalingRules", 3, 2, 6, 5, (cpu([100, 300, 500, 250, 250], FIVE, 50),),
     {"scale_up": {"policies": [{"type": "percent", "value": 100, "period_seconds": 15}],
                   "stabilization_seconds": 30}}),
    ("TestScaleUpOneMetricInvalid", 4, 2, 6, 3, (cpu([300, 400, 500], ONE, 30),), {"problems": ("qps invalid",)}),
    ("TestScaleUpOneMetricEmpty", 4, 2, 6, 3, (cpu([300, 400, 500], ONE, 30),), {"problems": ("qps missing",)}),
    ("TestScaleUpFromZeroOneMetricInvalid", 4, 0, 6, 0, (cpu([300, 400, 500], ONE, 30),),
     {"problems": ("qps invalid",), "ready": 3}),
    ("TestScaleUpBothMetricsEmpty", 3, 2, 6, 3, (), {"problems": ("cpu missing", "qps invalid")}),
    ("TestScaleDownStabilizeInitialSize", 5, 2, 6, 5, (cpu([100, 300, 500, 250, 250], FIVE, 50),), {"known": False}),
    ("TestNoScaleDownOneMetricInvalid", 5, 2, 6, 5, (cpu([100, 300, 500, 250, 250], FIVE, 50),),
     {"problems": ("qps invalid",)}),
    ("TestNoScaleDownOneMetricEmpty", 5, 2, 6, 5, (cpu([100, 300, 500, 250, 250], FIVE, 50),),
     {"problems": ("qps missing",)}),
    ("TestScaleDownCM", 3, 2, 6, 5, (obj("per_replica", 60.0, 20.0),), {}),
    ("TestScaleDownCMObject", 3, 2, 6, 5, (obj("value", 12.0, 20.0),), {}),
    ("TestScaleDownToZeroCMObject", 0, 0, 6, 5, (obj("value", 0.0, 20.0),), {}),
    ("TestScaleDownPerPodCMObject", 3, 2, 6, 5, (obj("average_value", 60.0, 20.0),), {}),
    ("TestScaleDownCMExternal", 3, 2, 6, 5, (obj("value", 8.6, 14.4),), {}),
    ("TestScaleDownToZeroCMExternal", 0, 0, 6, 5, (obj("value", 0.0, 14.4),), {}),
    ("TestScaleDownPerPodCMExternal", 3, 2, 6, 5, (obj("average_value", 8.6, 3.0),), {}),
    ("TestTolerance", 3, 1, 5, 3, (cpu([1010, 1030, 1020], JITTER, 100),), {}),
    ("TestToleranceCM", 3, 1, 5, 3, (obj("per_replica", 61.001, 20.0),), {}),
    ("TestToleranceCMObject", 3, 1, 5, 3, (obj("value", 20.05, 20.0),), {}),
    ("TestToleranceCMExternal", 4, 2, 6, 4, (obj("value", 8.6, 8.666),), {}),
    ("TestTolerancePerPodCMObject", 4, 2, 6, 4, (obj("average_value", 8.6, 2.2),), {}),
    ("TestTolerancePerPodCMExternal", 4, 2, 6, 4, (obj("average_value", 8.6, 2.2),), {}),
    ("TestMinReplicas", 2, 2, 5, 3, (cpu([10, 95, 10], JITTER, 90),), {}),
    ("TestZeroMinReplicasDesiredZero", 0, 0, 5, 3, (cpu([0, 0, 0], JITTER, 90),), {}),
    ("TestMinReplicasDesiredZero", 2, 2, 5, 3, (cpu([0, 0, 0], JITTER, 90),), {}),
    ("TestTooFewReplicas", 3, 3, 5, 2, (), {"problems": ("cpu missing",)}),
    ("TestTooManyReplicas", 5, 3, 5, 10, (), {"problems": ("cpu missing",)}),
    ("TestMaxReplicas", 5, 2, 5, 3, (cpu([8000, 9500, 1000], JITTER, 90),), {}),
    ("TestEmptyMetrics", 4, 2, 6, 4, (), {"problems": ("cpu missing",)}),
    ("TestEventCreated", 2, 1, 5, 1, (cpu([200], [0.2], 50),), {}),
    ("TestEventNotCreated", 2, 1, 5, 2, (cpu([200, 200], [0.4, 0.4], 50),), {}),
    ("TestMissingReports", 2, 1, 5, 4, (cpu([200], [0.2], 50),), {"ready": 1}),
    ("TestUpscaleCap", 24, 1, 100, 3, (cpu([100, 200, 300], [0.1, 0.1, 0.1], 10),),
     {"scale_up": {"policies": [{"type": "percent", "value": 700, "period_seconds": 60}],
                   "stabilization_seconds": 0}}),
    ("TestUpscaleCapGreaterThanMaxReplicas", 20, 1, 20, 3, (cpu([100, 200, 300], [0.1, 0.1, 0.1], 10),),
     {"scale_up": {"policies": [{"type": "percent", "value": 700, "period_seconds": 60}],
                   "stabilization_seconds": 0}}),
    ("TestMoreReplicasThanSpecNoScale", 4, 1, 8, 4, (cpu([500] * 5, FIVE, 50),), {"ready": 5}),
    ("TestConditionFailedGetMetrics", 3, 1, 100, 3, (), {"problems": ("cpu missing",)}),
    ("TestNoBackoffUpscaleCM", 4, 1, 5, 3, (obj("per_replica", 60.0, 15.0),), {}),
    ("TestNoBackoffUpscaleCMNoBackoffCpu", 5, 1, 5, 3,
     (cpu([20000, 10000, 30000], ONE, 10), obj("per_replica", 60.0, 15.0)), {}),
    ("TestStabilizeDownscale", 4, 1, 5, 4, (cpu([50, 50, 50], [0.1, 0.1, 0.1], 100),),
     {"ready": 3, "recs": [(10, 600), (4, 60)]}),
    ("TestComputedToleranceAlgImplementation/scale", 9, 0, 1000, 10, (cpu([150] * 10, JITTERED_300M, 56),), {}),
    ("TestComputedToleranceAlgImplementation/no scale", 10, 0, 1000, 10, (cpu([150] * 10, JITTERED_300M, 55),), {}),
    ("TestScaleUpRCImmediately", 2, 2, 6, 1, (), {"problems": ("cpu missing",)}),
    ("TestScaleDownRCImmediately", 5, 2, 5, 6, (cpu([8000, 9500, 1000], JITTER, 50),), {}),
]


@pytest.mark.parametrize(("test", "expected", "lo", "hi", "current", "metrics", "options"), RECONCILE,
                         ids=[c[0] for c in RECONCILE])
def test_reconcile(test: str, expected: int, lo: int, hi: int, current: int, metrics: tuple[MetricLoad, ...],
                   options: dict[str, object]) -> None:
    """horizontal_test.go controller cases: what one reconcile writes, from the Go test's min/max, spec replicas,
    reported levels and targets (a `Pods` AverageValue target is `per_replica`, an Object/External Value is
    `value`, an AverageValue is `average_value`; quantities in units, not milli-units). A metric the Go test makes
    fail (an invalid source type, a failing client) is a metric problem: it blocks scale-down only, as
    computeReplicasForMetrics returns an error when a scale-down is proposed with an invalid metric. Go's
    `recommendations: []` is an HPA already known with an empty log; `nil` (`known=False`) is its first sight."""
    assert reconcile(lo, hi, current, metrics, **options) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("go_test", "hpa", "tenantops", "lo", "hi", "current", "metrics"), [
    ("TestZeroReplicas", 0, 3, 3, 5, 0, ()),
    ("TestConvertDesiredReplicasWithRules/scaleUpLimit is the limit because scaleUpLimit < maxReplicas", 6, 7, 1,
     2000, 3, (cpu([10000, 10000, 10000], ONE, 1),)),
])
def test_declared_divergence(go_test: str, hpa: int, tenantops: int, lo: int, hi: int, current: int,
                             metrics: tuple[MetricLoad, ...]) -> None:
    """The two places tenantops does not do what the HPA does, by design (see the module docstring): a
    workload at zero is brought to its minimum, and an unwritten scale-up behaviour is the v2 default rules."""
    problems = () if metrics else ("cpu missing",)
    assert reconcile(lo, hi, current, metrics, problems=problems) == tenantops != hpa


def test_a_scale_down_refused_for_a_missing_metric_is_not_a_recommendation() -> None:
    """horizontal.go computeReplicasForMetrics: with a metric invalid and the others proposing a scale-down it
    returns an error, so reconcileAutoscaler stops before the stabilisation and records no recommendation. The
    refused count was recorded here, and with a scale-up window it held the next pass's rise at the current count."""
    spec = ScalingSpec.model_validate({"algorithm": "reactive", "metrics": [{"metric": "cpu", "target": 0.5},
                                                                            {"metric": "qps", "type": "per_replica",
                                                                             "target": 10}],
                                       "scale_up": {"stabilization_seconds": 60}})
    tuning, state = Tuning.of(spec), WorkloadState(decided_at=NOW - 600)
    quiet = Observation(NOW, 5, 5, (MetricLoad("cpu", 0.5, 0.5, 1.0),), complete=False)
    held = decide_workload(tuning, Bounds(1, 20), NO_STEP_LIMIT, quiet, ("qps missing",), state, NOW)
    assert held.desired == 5 and held.recommendation.estimate == 1
    assert state.recommendations == []
    busy = Observation(NOW + 15, 5, 5, (MetricLoad("cpu", 5.0, 0.5, 1.0), MetricLoad("qps", 50.0, 10.0, 10.0,
                                                                                       "per_replica")))
    assert decide_workload(tuning, Bounds(1, 20), NO_STEP_LIMIT, busy, (), state, NOW + 15).desired == 10
