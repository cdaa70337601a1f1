"""Live timing: the controller samples right before it decides (the replay decides one step after its
sample). Margins must be learnt either way, or a quiet workload is never scaled down."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantops.config import load_config
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Tuning, recommend
from tenantops.decide.autoscaling.state import WorkloadState

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sample_lag", [0.0, 1.0, 30.0])
def test_a_quiet_workload_is_scaled_down_whatever_the_sampling_lag(sample_lag: float) -> None:
    config = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    spec = next(config.for_tenant(t).scaling for t in config.tenants if config.for_tenant(t).tier_name == "pro")
    tuning = Tuning.of(spec)
    assert tuning.predictive
    state = WorkloadState()
    current, t0, interval = 6, 1_000_000.0, 30.0
    for i in range(60):  # 30 minutes of passes, 20% CPU on 6 replicas: about 2 are needed
        now = t0 + i * interval
        load = MetricLoad("cpu", 0.2 * current, 0.7, 1.0)
        obs = Observation(at=now - sample_lag, current=current, ready=current, metrics=(load,))
        current = recommend(tuning, Bounds(1, 20), obs, state, now).desired
    assert current <= 3
