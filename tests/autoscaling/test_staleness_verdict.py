"""Staleness is decided once, by the observe step: the autoscaling decider and its breakers read the
verdict (`Quality.STALE`) and never judge a reading's age again against the controller's clock.

Before, the decider re-judged every reading with min(breaker, metrics) `stale_after_seconds` against the
pass time, so a breaker limit larger than the metrics one never applied, and a controller whose clock
ran ahead of Prometheus' saw every reading as stale and froze.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config import Config, load_config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.base import PassInput
from tenantops.structs.snapshot import Quality, Reading, Snapshot, WorkloadMetrics

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> Config:
    root = Path(__file__).resolve().parents[2]
    return load_config(root / "stacks" / "dev.catalog.yaml", root / "policies")


def _snapshot(config: Config, sampled_at: datetime, cpu: float, quality: Quality = Quality.OK) -> Snapshot:
    workloads = {}
    for tenant in config.tenants:
        for w in tenant.workloads:
            readings = {
                "cpu": Reading(cpu, quality, sampled_at), "cpu_request": Reading(2.0, sampled_at=sampled_at),
                "replicas": Reading(4.0, sampled_at=sampled_at), "ready_replicas": Reading(4.0, sampled_at=sampled_at),
                "requests": Reading(cpu * 10, quality, sampled_at),
            }
            workloads[(tenant.id, w.name)] = WorkloadMetrics(tenant.id, w.name, readings)
    return Snapshot(NOW, workloads)


def _decide(config: Config, snapshot: Snapshot) -> dict[tuple[str | None, str | None], tuple[str, object]]:
    out = AutoscalingDecider().decide(PassInput(snapshot, config, NOW), {})
    return {(d.tenant, d.workload): (d.rule, d.new) for d in out.decisions}


def test_a_reading_judged_fresh_is_used_whatever_its_stamp_says(config: Config) -> None:
    """Stamped ten minutes before the pass time (Prometheus' clock behind the controller's): still used."""
    heavy = _decide(config, _snapshot(config, NOW - timedelta(minutes=10), cpu=30.0))
    assert any(isinstance(new, int) and new > 4 for _, new in heavy.values())
    assert heavy == _decide(config, _snapshot(config, NOW, cpu=30.0))


def test_a_stale_verdict_freezes_scale_down(config: Config) -> None:
    out = AutoscalingDecider().decide(PassInput(_snapshot(config, NOW, cpu=0.01, quality=Quality.STALE), config,
                                                NOW), {})
    # no data is not no load (only a workload found above its max is brought back within its bounds)
    assert not [a for a in out.scale if a.desired < a.current and a.rule != "breaker:bounds"]
    problems = [d.inputs.get("metric_problems") for d in out.decisions]
    assert problems and all(p and "cpu stale" in p for p in problems)


@settings(max_examples=40, deadline=None)
@given(offset=st.floats(min_value=-86_400, max_value=86_400, allow_nan=False), cpu=st.floats(0.01, 60))
def test_the_decision_does_not_depend_on_sample_stamps(config: Config, offset: float, cpu: float) -> None:
    stamped = _decide(config, _snapshot(config, NOW + timedelta(seconds=offset), cpu))
    assert stamped == _decide(config, _snapshot(config, NOW, cpu))
