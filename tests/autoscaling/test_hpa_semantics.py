"""The HPA rules the reactive path and the baseline must both follow (autoscaling/v2 semantics)."""

from __future__ import annotations

from tenantops.decide.autoscaling.behavior import Limits, rate_limit, record_scale, stabilize
from tenantops.decide.autoscaling.reactive import MetricLoad, hpa_recommendation, metric_recommendation
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.sim.hpa import hpa_policy

NO_LIMIT = Limits(0, None, None, 15)


def test_within_tolerance_keeps_current() -> None:
    # 4 ready replicas at 0.75 utilisation vs target 0.7: ratio 1.07 is inside the 0.1 tolerance.
    assert metric_recommendation(load=3.0, target=0.7, ready=4, current=5, tolerance=0.1) == 5


def test_outside_tolerance_scales_by_ratio_over_ready() -> None:
    # 4 ready at utilisation 1.0 vs 0.5: ratio 2 -> ceil(2 * 4) = 8.
    assert metric_recommendation(load=4.0, target=0.5, ready=4, current=6, tolerance=0.1) == 8
    # scale down: utilisation 0.2 vs 0.5 -> ceil(0.4 * 10) = 4
    assert metric_recommendation(load=2.0, target=0.5, ready=10, current=10, tolerance=0.1) == 4


def test_multi_metric_takes_the_largest() -> None:
    metrics = [MetricLoad("cpu", 2.0, 0.5, 1.0), MetricLoad("requests", 600.0, 50.0, 50.0)]
    replicas, metric = hpa_recommendation(metrics, ready=4, current=4, tolerance=0.1)
    assert (replicas, metric) == (12, "requests")


def test_scale_down_stabilisation_takes_the_window_maximum() -> None:
    state = WorkloadState()
    down = Limits(300, None, None, 15)
    assert stabilize(state, 10, 10, 0.0, NO_LIMIT, down) == 10
    assert stabilize(state, 4, 10, 60.0, NO_LIMIT, down) == 10  # 10 is still in the window
    assert stabilize(state, 4, 10, 299.0, NO_LIMIT, down) == 10
    assert stabilize(state, 4, 10, 300.0, NO_LIMIT, down) == 4  # the 10 at t=0 is no longer after now-300
    # scaling up is not held back by a zero-second up window
    assert stabilize(state, 12, 4, 301.0, NO_LIMIT, down) == 12


def test_rate_limit_takes_the_larger_of_pods_and_percent() -> None:
    up = Limits(0, 4, 100, 60)
    assert rate_limit(WorkloadState(), 50, 2, 0.0, up, NO_LIMIT) == 6  # +4 pods beats +100% of 2
    assert rate_limit(WorkloadState(), 50, 10, 0.0, up, NO_LIMIT) == 20  # +100% beats +4


def test_rate_limit_counts_changes_already_made_in_the_period() -> None:
    up = Limits(0, 4, None, 60)
    state = WorkloadState()
    assert rate_limit(state, 10, 2, 0.0, up, NO_LIMIT) == 6
    record_scale(state, 0.0, 2, 6)
    assert rate_limit(state, 10, 6, 30.0, up, NO_LIMIT) == 6  # the period's 4 pods are spent
    assert rate_limit(state, 10, 6, 61.0, up, NO_LIMIT) == 10


def test_scale_down_percent_limit() -> None:
    down = Limits(0, None, 50, 60)
    assert rate_limit(WorkloadState(), 1, 10, 0.0, NO_LIMIT, down) == 5


def test_baseline_hpa_holds_scale_down_for_five_minutes() -> None:
    policy = hpa_policy(target=0.5, capacity=1.0)
    # 10 ready replicas at demand 5: utilisation 0.5, on target.
    assert policy(1, 5.0, 10, 10) == 10
    # demand halves: the recommendation is 5 but the window still remembers 10
    assert [policy(t, 2.5, 10, 10) for t in range(2, 6)] == [10, 10, 10, 10]
    assert policy(6, 2.5, 10, 10) == 5


def test_baseline_hpa_scale_up_is_limited_to_double_or_four() -> None:
    policy = hpa_policy(target=0.5, capacity=1.0)
    assert policy(1, 100.0, 2, 2) == 6
    assert policy(2, 100.0, 10, 10) == 20
