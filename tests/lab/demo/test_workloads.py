"""Planning the demo's workloads: each replays a window of a recording at a size its tier and bounds can show."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tenantops.config import load_config
from tenantops.sim.trace import list_traces, load_trace
from tenantops_lab.demo.workloads import SUSTAINED_MINUTES, plan_workloads, visible_peak
from tenantops_lab.sandbox.workload_sim import needed_replicas

REPO = Path(__file__).resolve().parents[3]


def test_each_workload_serves_its_tiers_requests_per_replica(traces_dir: Path) -> None:
    """The simulator's request rate per replica is the tier's `requests` capacity, which the autoscaler reads
    the request signal against (60 rps for the economical tier whatever the pod's CPU request)."""
    config = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    specs = plan_workloads(config, [load_trace(p) for p in list_traces(traces_dir)], 30)
    for spec in specs:
        metrics = config.for_tenant(spec.tenant).scaling.metrics
        capacity = [m.capacity_or_default() for m in metrics if m.metric == "requests"]
        assert spec.requests_per_replica == capacity[0]
        assert spec.requests_per_core * spec.cpu_request == capacity[0]
    assert {s.requests_per_replica for s in specs if s.tenant == "tyrell"} == {60.0}


def test_every_planned_window_needs_more_than_one_replica_count(traces_dir: Path) -> None:
    config = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    for spec in plan_workloads(config, [load_trace(p) for p in list_traces(traces_dir)], 180, history_minutes=1440):
        needs = [needed_replicas(float(d), spec.cpu_request, spec.target_utilization, spec.min_replicas,
                                 spec.max_replicas) for d in spec.demand]
        # Above the lowest count needed for a run of minutes: a few quiet minutes are no swing to scale for.
        runs = [count for count, run in itertools.groupby(needs) if sum(1 for _ in run) >= SUSTAINED_MINUTES]
        assert max(needs) > min(runs, default=min(needs)), spec.key


def test_a_small_range_sizes_the_peak_up_until_the_swing_shows() -> None:
    """A trough at 65% of the peak, sized to 2 replicas at 80%, needs 2 throughout; sized to 3 it needs 2 then 3."""
    shape = np.array([0.65, 0.8, 1.0, 0.8, 0.7])
    assert visible_peak(shape, 2, 0.5, 0.8, 0, 3) == 3
    assert visible_peak(shape, 12, 0.5, 0.7, 1, 20) == 12  # a swing that shows already is left as it is


def test_a_count_needed_in_short_dips_only_is_no_swing() -> None:
    """Sized to 2 replicas, a window that needs 1 in dips of three minutes and 2 in every other minute
    (cyberdyne/api's nasa_http_1995 window) gives an autoscaler nothing to scale for; sized to 3 it needs 2
    and 3 for long runs."""
    shape = np.array(([0.3] * 3 + [0.6] * 12 + [1.0] * 12) * 4)
    assert visible_peak(shape, 2, 0.5, 0.8, 0, 4) == 3


def test_a_rise_that_one_replica_serves_at_full_capacity_is_no_swing() -> None:
    """Sized to 2 replicas at an 80% target, rises to 55% of the peak need a second replica at the target
    but are 88% of one replica's capacity, which a predictive policy fills: nothing to scale for (tyrell/api
    kept 1 replica throughout). Sized to 3 the rises need a second replica even at full capacity."""
    shape = np.array([0.3] * 20 + ([0.55] * 6 + [0.3] * 10) * 3 + [1.0])
    assert visible_peak(shape, 2, 0.5, 0.8, 0, 4) == 3


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30), st.integers(1, 10), st.integers(0, 3),
       st.integers(1, 30), st.sampled_from([0.25, 0.5, 1.0]), st.sampled_from([0.6, 0.7, 0.8]))
def test_visible_peak_stays_in_range_and_shows_a_swing_unless_at_the_maximum(
        values: list[float], peak: int, lo: int, hi: int, cpu: float, target: float) -> None:
    hi = max(hi, lo, peak)
    shape = np.array(values)
    got = visible_peak(shape, peak, cpu, target, lo, hi)
    assert peak <= got <= hi
    needs = {needed_replicas(float(d), cpu, target, lo, hi) for d in shape * (got * cpu * target)}
    assert got in (hi, peak) or len(needs) > 1


def test_the_replay_starts_at_the_count_the_scale_down_window_holds_over_the_history(traces_dir: Path) -> None:
    """The replay continues the history, so it starts at the replicas a controller holds there: no fewer than
    any minute of the tier's scale-down stabilisation window before the join needs (initech's override holds
    15 minutes). Sized on the replay's first minute alone, cyberdyne/api started at 1 replica on the one
    quiet minute where its recording (nasa_http_1995) joins the history, after minutes that needed 2, and
    was short of a replica within a minute of the controller's first pass as demand climbed back."""
    from tenantops.decide.autoscaling.recommender import Tuning

    config = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    specs = plan_workloads(config, [load_trace(p) for p in list_traces(traces_dir)], 210, history_minutes=1440)
    for spec in specs:
        window = Tuning.of(config.for_tenant(spec.tenant).scaling).down.stabilization_seconds
        minutes = round(window / 60)
        assert minutes == (15 if spec.tenant == "initech" else 10 if spec.tenant in {"acme", "globex"} else 5)
        held = max(needed_replicas(float(d), spec.cpu_request, spec.target_utilization, spec.min_replicas,
                                   spec.max_replicas) for d in [*spec.history[-minutes:], spec.demand[0]])
        assert spec.initial_replicas == max(held, 1), spec.key
    cyberdyne = {s.key: s for s in specs}["cyberdyne", "api"]
    first = needed_replicas(float(cyberdyne.demand[0]), cyberdyne.cpu_request, cyberdyne.target_utilization,
                            cyberdyne.min_replicas, cyberdyne.max_replicas)
    assert cyberdyne.initial_replicas > first
