"""The summary's per-workload figures: under-provisioned trace minutes, and when they happened."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tenantops.config import load_config
from tenantops_lab.demo.run import workload_figures
from tenantops_lab.sandbox.workload_sim import WorkloadSimulator, WorkloadSpec

from .test_workload_sim import FakeClock

REPO = Path(__file__).resolve().parents[3]


def test_each_run_of_under_provisioned_minutes_is_listed_with_its_start_and_length() -> None:
    """2 replicas of 1 core all along; demand needs 3 cores in minutes 3-5 and 9: two runs, 3 and 1 minutes."""
    demand = np.full(14, 1.0)
    demand[3:6] = 3.0
    demand[9] = 3.0
    spec = WorkloadSpec("acme", "api", "silo", 1.0, 2**30, 1, 10, 0.6, demand, trace="t", initial_replicas=2)
    clock = FakeClock()
    sim = WorkloadSimulator([spec], speed=1.0, history_every=1.0, replicas_source=lambda: {("acme", "api"): 2},
                            clock=clock)
    sim.begin()
    for _ in range(13):
        sim.tick()
        clock.now += 1.0
    config = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    (figures,) = workload_figures(config, [spec], sim, [], 0.0, 1.0)
    assert figures.under_provisioned_minutes == 4.0
    assert figures.under_provisioned_runs == [[3.0, 3.0], [9.0, 1.0]]
    assert figures.goal == 0.002 and not figures.within_goal
