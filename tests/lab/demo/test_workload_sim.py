"""The workload simulator: replay windows, replica reaction, latency measurement and its /metrics shapes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tenantops_lab.sandbox.workload_sim import (
    LatencyTracker,
    WorkloadSimulator,
    WorkloadSpec,
    best_windows,
    needed_replicas,
    peak_replicas,
    percentile,
    scaled_window,
    swing_score,
)


def spec(demand: list[float], *, initial: int = 2, cpu: float = 1.0, target: float = 0.5,
         lo: int = 1, hi: int = 20) -> WorkloadSpec:
    return WorkloadSpec("acme", "api", "pool", cpu, 2**30, lo, hi, target, np.array(demand, dtype=float),
                        trace="t", initial_replicas=initial)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- choosing windows ---------------------------------------------------------------------------------

def test_swing_score_prefers_a_rise_and_fall_over_a_ramp() -> None:
    hill = np.array([1, 2, 5, 9, 10, 9, 5, 2, 1, 1], dtype=float)
    ramp = np.arange(1, 11, dtype=float)
    assert swing_score(hill) > 0.8
    assert swing_score(ramp) < 0.2


def test_best_windows_finds_the_hill_and_does_not_overlap() -> None:
    flat = np.full(300, 5.0)
    flat[100:140] = np.concatenate([np.linspace(5, 50, 20), np.linspace(50, 5, 20)])
    flat[200:240] = flat[100:140]
    offsets = best_windows(flat, 60, 2)
    assert len(offsets) == 2
    assert abs(offsets[0] - offsets[1]) >= 60
    for offset in offsets:
        assert swing_score(flat[offset:offset + 60]) > 0.5


@given(st.lists(st.floats(0, 1e6), min_size=12, max_size=200), st.integers(5, 50), st.integers(1, 4))
def test_best_windows_are_valid_offsets(values: list[float], length: int, count: int) -> None:
    demand = np.array(values)
    offsets = best_windows(demand, length, count)
    assert len(offsets) == count
    assert all(0 <= o <= max(0, len(demand) - length) for o in offsets)


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=100), st.floats(0.1, 100))
def test_scaled_window_peaks_at_the_requested_size(values: list[float], peak: float) -> None:
    window = scaled_window(np.array(values), 0, len(values), peak)
    assert window.min() >= 0
    assert window.max() == pytest.approx(peak) or window.max() == 0


@given(st.integers(0, 50), st.integers(1, 100))
def test_peak_replicas_stay_within_bounds(lo: int, span: int) -> None:
    hi = lo + span
    assert max(1, lo) <= peak_replicas(lo, hi) <= hi


@given(st.floats(0, 1000), st.floats(0.1, 4), st.floats(0.1, 1), st.integers(0, 10), st.integers(1, 100))
def test_needed_replicas_keep_utilisation_at_or_below_target(demand: float, cpu: float, target: float,
                                                            lo: int, span: int) -> None:
    hi = lo + span
    need = needed_replicas(demand, cpu, target, lo, hi)
    assert lo <= need <= hi
    if lo < need < hi:
        assert demand / (need * cpu) <= target + 1e-6
        assert demand / ((need - 1) * cpu) > target - 1e-6 if need > 1 else True


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0


# -- measuring latency --------------------------------------------------------------------------------

def test_latency_runs_from_load_change_to_replica_change() -> None:
    s = spec([1.0], cpu=1.0, target=0.5)
    tracker = LatencyTracker()
    tracker.observe(s.key, 0.0, 1.0, 2, s)  # 1 core on 2 replicas at target 0.5: balanced
    tracker.observe(s.key, 1.0, 4.0, 2, s)  # now needs 8: a change starts
    tracker.observe(s.key, 2.0, 4.0, 2, s)
    tracker.observe(s.key, 3.5, 4.0, 8, s)  # scaled
    [sample] = tracker.samples
    assert (sample.direction, sample.seconds, sample.replicas_from, sample.replicas_to) == ("up", 2.5, 2, 8)


def test_latency_drops_a_change_the_load_took_back() -> None:
    s = spec([1.0], cpu=1.0, target=0.5)
    tracker = LatencyTracker()
    tracker.observe(s.key, 0.0, 4.0, 2, s)
    tracker.observe(s.key, 1.0, 1.0, 2, s)  # back in band before anyone acted
    tracker.observe(s.key, 2.0, 1.0, 3, s)  # an unrelated change is not a response
    assert tracker.samples == []


def test_latency_counts_scale_down_separately() -> None:
    s = spec([1.0], cpu=1.0, target=0.5)
    tracker = LatencyTracker()
    tracker.observe(s.key, 0.0, 0.5, 6, s)
    tracker.observe(s.key, 4.0, 0.5, 1, s)
    assert [(x.direction, x.seconds) for x in tracker.samples] == [("down", 4.0)]


# -- the running simulator ----------------------------------------------------------------------------

def families(sim: WorkloadSimulator) -> dict[str, list]:
    from prometheus_client import generate_latest

    text = generate_latest(sim.registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_new_replicas_serve_only_after_startup_and_cpu_follows_demand() -> None:
    clock = FakeClock()
    wanted = {("acme", "api"): 2}
    sim = WorkloadSimulator([spec([4.0] * 10, initial=2)], speed=1.0, startup_seconds=2.0,
                            replicas_source=lambda: wanted, clock=clock)
    sim.begin()
    sim.tick()
    [status] = sim.status()
    assert (status.desired, status.ready) == (2, 2)
    assert status.utilization == pytest.approx(2.0)  # 4 cores on 2 pods of 1 core: saturated at the limit
    wanted[("acme", "api")] = 8
    clock.now += 0.5
    sim.tick()
    [status] = sim.status()
    assert (status.desired, status.ready) == (8, 2)
    clock.now += 2.0
    sim.tick()
    [status] = sim.status()
    assert (status.desired, status.ready) == (8, 8)
    assert status.utilization == pytest.approx(0.5)
    assert [s.direction for s in sim.latency.samples] == ["up"]


def test_metrics_have_the_exporters_shapes_and_gone_pods_vanish() -> None:
    clock = FakeClock()
    wanted = {("acme", "api"): 3}
    sim = WorkloadSimulator([spec([1.5] * 10, initial=3)], replicas_source=lambda: wanted, clock=clock)
    sim.begin()
    clock.now += 1.0
    sim.tick()
    got = families(sim)
    pods = {s.labels["pod"] for s in got["container_cpu_usage_seconds"] if s.name.endswith("_total")}
    assert len(pods) == 3
    assert all(p.startswith("api-") and len(p.split("-")) == 3 for p in pods)
    cpu_total = sum(s.value for s in got["container_cpu_usage_seconds"] if s.name.endswith("_total"))
    assert cpu_total == pytest.approx(1.5)  # 1.5 cores for 1 s
    assert {s.labels["namespace"] for s in got["kube_deployment_spec_replicas"]} == {"tenant-acme"}
    assert [s.value for s in got["kube_deployment_spec_replicas"]] == [3]
    requests = {(s.labels["resource"], s.value) for s in got["kube_pod_container_resource_requests"]}
    assert requests == {("cpu", 1.0), ("memory", float(2**30))}
    http = [s for s in got["http_requests"] if s.name == "http_requests_total"]
    assert http[0].labels == {"tenant": "acme", "workload": "api", "code": "200"} and http[0].value > 0
    assert len(http) == 1  # nothing rejected while pods serve
    wanted[("acme", "api")] = 1
    clock.now += 1.0
    sim.tick()
    remaining = {s.labels["pod"] for s in families(sim)["container_cpu_usage_seconds"] if s.name.endswith("_total")}
    assert len(remaining) == 1 and remaining <= pods


def test_a_failing_replica_source_keeps_the_last_counts() -> None:
    clock = FakeClock()

    def broken() -> dict[tuple[str, str], int]:
        raise ConnectionError("down")

    sim = WorkloadSimulator([spec([1.0] * 5, initial=4)], replicas_source=broken, clock=clock)
    sim.begin()
    sim.tick()
    assert sim.status()[0].desired == 4
    assert sim.source_errors == 1


def test_requests_arriving_at_zero_replicas_are_counted_as_rejected() -> None:
    """An ingress in front of a workload scaled to zero still sees (and answers 503 to) its requests: the
    signal that wakes it."""
    clock = FakeClock()
    sim = WorkloadSimulator([spec([0.5] * 10, lo=0, initial=0)], replicas_source=lambda: {("acme", "api"): 0},
                            clock=clock)
    sim.begin()
    clock.now += 2.0
    sim.tick()
    http = {s.labels["code"]: s.value for s in families(sim)["http_requests"] if s.name == "http_requests_total"}
    assert http["200"] == 0
    assert http["503"] == pytest.approx(0.5 * 20 * 2.0)  # demand in cores x requests per core x seconds


@given(st.floats(0.01, 8.0), st.sampled_from([0.25, 0.5, 1.0, 2.0]), st.floats(10.0, 200.0))
def test_refused_requests_read_at_a_replicas_capacity_are_the_cpu_demand_in_replicas(
        demand: float, cpu: float, capacity: float) -> None:
    """At zero replicas the 503s are the autoscaler's only signal; read as requests over what one replica
    serves (the tier's capacity), they say how many replicas' worth of CPU is waiting, as the CPU signal
    it slept on did."""
    clock = FakeClock()
    workload = dataclasses.replace(spec([demand] * 10, lo=0, initial=0, cpu=cpu), requests_per_replica=capacity)
    sim = WorkloadSimulator([workload], replicas_source=lambda: {("acme", "api"): 0}, clock=clock)
    sim.begin()
    clock.now += 2.0
    sim.tick()
    http = {s.labels["code"]: s.value for s in families(sim)["http_requests"] if s.name == "http_requests_total"}
    assert http["503"] / 2.0 / capacity == pytest.approx(demand / cpu)


def test_served_requests_follow_the_cpu_served_at_a_replicas_capacity() -> None:
    clock = FakeClock()
    workload = dataclasses.replace(spec([3.0] * 10, initial=4, cpu=0.5), requests_per_replica=60.0)
    sim = WorkloadSimulator([workload], clock=clock)
    sim.begin()
    clock.now += 2.0
    sim.tick()
    got = families(sim)
    http = {s.labels["code"]: s.value for s in got["http_requests"] if s.name == "http_requests_total"}
    cpu = sum(s.value for s in got["container_cpu_usage_seconds"] if s.name.endswith("_total"))
    assert http["200"] / 60.0 == pytest.approx(cpu / 0.5)  # 3 cores served: 6 replicas' worth either way
