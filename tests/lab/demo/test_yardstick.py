"""What the demo sets beside its live minutes: the decision replayed over history, the HPA on the live load."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tenantops.config import Config, load_config
from tenantops_lab.demo.run import WorkloadFigures, with_yardsticks
from tenantops_lab.demo.yardstick import yardstick, yardsticks
from tenantops_lab.sandbox.workload_sim import WorkloadSpec

REPO = Path(__file__).resolve().parents[3]
END = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _config() -> Config:
    return load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")


def _spec(tenant: str, demand: np.ndarray, history: np.ndarray, min_replicas: int = 1) -> WorkloadSpec:
    return WorkloadSpec(tenant, "api", "silo", 1.0, 2**30, min_replicas, 20, 0.7, demand, trace="t",
                        initial_replicas=2, history=history)


def test_the_hpa_minutes_count_a_rise_it_follows_only_after_the_start_up() -> None:
    """1 core for 10 minutes, then 3: the HPA at 70% holds 2 replicas, sees the rise a minute late as 100%
    of them, asks for 3, which serve two minutes later: minutes 10, 11 and 12 are short."""
    demand = np.array([1.0] * 10 + [3.0] * 20)
    y = yardstick(_config(), _spec("acme", demand, np.full(3 * 1440, 1.0)), 0, 30, END)
    assert y.hpa_minutes == 3.0
    # The live part may start later than the planned demand: the rise before it is not counted.
    assert yardstick(_config(), _spec("acme", demand, np.zeros(0)), 15, 15, END).hpa_minutes == 0.0


def test_the_decision_is_replayed_over_the_last_week_of_history_and_counts_what_it_missed() -> None:
    steady = np.full(10 * 1440, 2.0)
    y = yardstick(_config(), _spec("acme", np.full(30, 2.0), steady), 0, 30, END)
    assert y.replayed_days == 7.0
    assert y.replayed_rate == 0.0
    # Flashes from 2 cores to 12 within a minute, one a day: no forecast sees them coming, so each one is
    # short for at least the start-up.
    flashy = steady.copy()
    for day in range(10):
        flashy[day * 1440 + 700: day * 1440 + 760] = 12.0
    missed = yardstick(_config(), _spec("acme", np.full(30, 2.0), flashy), 0, 30, END)
    assert missed.replayed_rate is not None and missed.replayed_rate >= 7 * 2 / (7 * 1440)


def test_a_tier_that_scales_to_zero_is_not_replayed_nor_a_workload_without_history() -> None:
    config = _config()
    [free] = [t.id for t in config.tenants if t.tier == "free"][:1]
    assert config.for_tenant(free).scaling.scale_to_zero.enabled
    y = yardstick(config, _spec(free, np.full(30, 2.0), np.full(2 * 1440, 2.0), min_replicas=0), 0, 30, END)
    assert y.replayed_rate is None and y.replayed_days == 0.0
    assert yardstick(config, _spec("acme", np.full(30, 2.0), np.zeros(0)), 0, 30, END).replayed_rate is None


def test_the_summary_figures_carry_the_replayed_rate_against_the_tier_goal() -> None:
    config = _config()
    spec = _spec("acme", np.full(30, 2.0), np.full(2 * 1440, 2.0))
    live = WorkloadFigures("acme", "api", "t", 30.0, 0.0, 0.0, 0.002, True, 0, 0, 2, 2, 2.0, False)
    [w] = with_yardsticks([live], yardsticks(config, [spec], 0.0, 30.0, END))
    assert w.replayed_days == 2.0 and w.replayed_rate == 0.0 and w.replayed_within_goal is True
    assert w.hpa_minutes == 0.0
