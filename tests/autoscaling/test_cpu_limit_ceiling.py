"""A CPU utilisation reading stops at the pod's limit, not at its request.

Pods whose CPU limit is above their request use CPU past 100% of the request: a utilisation of 1.2 under a
limit of twice the request is demand observed in full, not a value censored at capacity. Read as saturated,
it made the recommender infer 1/0.7 more demand per round of replicas (in the demo, a workload needing ~14
replicas went from 10 to 30, and two sat at their maximum of 20 needing 5-6).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantops.config import Config, ConfigError
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import (
    SATURATED,
    Bounds,
    Observation,
    Tuning,
    demand_of,
    recommend,
    saturated_at,
)
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.decide.base import PassInput
from tenantops.structs.snapshot import Reading, Snapshot, WorkloadMetrics

from .conftest import pool_config, spec

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
UTILISATION = 1.2  # of the request, on each of 10 ready replicas: 12 requests' worth of CPU
REPLICAS = 10
TARGET = 0.7


def _passes(ceiling: float | None, passes: int) -> list[Any]:
    """The recommender on a steady 120% of the request at 10 replicas, with the reading's ceiling given."""
    tuning = Tuning.of(spec())
    state = WorkloadState()
    out = []
    for i in range(passes):
        at = T0 + 30.0 * i
        load = MetricLoad("cpu", UTILISATION * REPLICAS, TARGET, 1.0, ceiling=ceiling)
        out.append(recommend(tuning, Bounds(1, 100), Observation(at, REPLICAS, REPLICAS, [load]), state, at + 30.0))
    return out


def test_utilisation_above_the_request_under_a_higher_limit_is_not_saturation() -> None:
    warmup = Tuning.of(spec()).warmup_samples
    recs = _passes(ceiling=2.0, passes=warmup + 20)
    hpa = math.ceil(UTILISATION * REPLICAS / TARGET - 1e-9)  # ceil(demand / target): 18
    for rec in recs:
        assert rec.state.saturated == 0 and "saturated" not in rec.reason, rec.reason
        assert rec.estimate is not None and rec.estimate <= hpa, rec.reason
    assert recs[-1].rule == "predictive"
    assert recs[-1].estimate >= math.ceil(UTILISATION * REPLICAS)  # the observed demand is provisioned for


def test_without_a_limit_the_request_is_the_ceiling_and_demand_is_inferred_beyond_it() -> None:
    """No limit known: 1.2 of the request is taken as stopped at the request, as before (the request is all
    a pod is guaranteed), and the growth compounds per round of ready replicas."""
    warmup = Tuning.of(spec()).warmup_samples
    recs = _passes(ceiling=None, passes=warmup + 20)
    assert recs[-1].state.saturated > 0 and "saturated" in recs[-1].reason
    assert recs[-1].estimate == math.ceil(UTILISATION * REPLICAS * (1 / TARGET) ** 4 - 1e-9)


# -- the decider: the limit read with the request, or declared in the catalogue ------------------------

def _decide(config: Config, measured_limit: float | None, passes: int) -> list[Any]:
    """Passes of the decider on a steady 120% of the request, replicas held at 10 (the actuator lags)."""
    decider = AutoscalingDecider()
    state: dict[str, Any] = {}
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    decisions = []
    for i in range(passes):
        at = now + timedelta(seconds=30 * i)
        readings = {
            "cpu": Reading(UTILISATION * 0.5 * REPLICAS, sampled_at=at),
            "cpu_request": Reading(0.5 * REPLICAS, sampled_at=at),
            "replicas": Reading(float(REPLICAS), sampled_at=at),
            "ready_replicas": Reading(float(REPLICAS), sampled_at=at),
            "requests": Reading(10.0, sampled_at=at),
        }
        if measured_limit is not None:
            readings["cpu_limit"] = Reading(measured_limit * REPLICAS, sampled_at=at)
        snap = Snapshot(at, {("acme", "api"): WorkloadMetrics("acme", "api", readings)})
        out = decider.decide(PassInput(snap, config, at), state)
        state.update(out.state)
        (decision,) = out.decisions
        decisions.append(decision)
    return decisions


@pytest.mark.parametrize(("declared", "measured"), [(None, 1.0), ("1", None), ("750m", 1.0)])
def test_the_decider_takes_the_limit_measured_or_declared(tmp_path: Path, declared: str | None,
                                                          measured: float | None) -> None:
    """A limit of 1 core on a 500m request: measured from kube-state-metrics (which wins over a declared
    one) or declared in the catalogue."""
    config = pool_config(tmp_path, declared)
    target = config.for_tenant("acme").scaling.metrics[0].target
    for decision in _decide(config, measured, 40):
        assert "saturated" not in decision.reason, decision.reason
        estimate = decision.inputs["estimate"]  # before the step breaker and the rate limits
        assert estimate is not None and estimate <= math.ceil(UTILISATION * REPLICAS / target), decision.reason


def test_the_decider_without_any_limit_still_infers_beyond_the_request(tmp_path: Path) -> None:
    decisions = _decide(pool_config(tmp_path, None), None, 40)
    assert "saturated" in decisions[-1].reason


def test_a_cpu_limit_is_a_kubernetes_quantity_not_below_the_request(tmp_path: Path) -> None:
    for bad, message in (("lots", "Kubernetes quantity"), ("250m", "below cpu_request")):
        with pytest.raises(ConfigError) as caught:
            pool_config(tmp_path, bad)
        (issue,) = caught.value.issues
        text = str(issue)
        assert text.startswith(f"{tmp_path / 'catalog.yaml'}:9: tenants[0].workloads[0].cpu_limit: "), text
        assert message in text


# -- properties of the saturation point ---------------------------------------------------------------

_loads = st.lists(st.tuples(st.floats(0, 1e4), st.floats(0.01, 100), st.none() | st.floats(1, 10)), min_size=1,
                  max_size=4)


@given(_loads, st.integers(0, 500))
def test_without_ceilings_saturation_is_demand_at_the_ready_replicas_capacity(loads: list[Any], ready: int) -> None:
    metrics = [MetricLoad("m", load, capacity, capacity) for load, capacity, _ in loads]
    demand = demand_of(metrics)
    assert demand is not None
    assert saturated_at(metrics, ready) == (ready > 0 and demand >= SATURATED * ready)


@given(_loads, st.integers(0, 500))
def test_a_ceiling_above_capacity_never_makes_a_reading_saturated(loads: list[Any], ready: int) -> None:
    plain = [MetricLoad("m", load, capacity, capacity) for load, capacity, _ in loads]
    lifted = [MetricLoad("m", load, capacity, capacity, ceiling=None if f is None else capacity * f)
              for load, capacity, f in loads]
    assert not saturated_at(lifted, ready) or saturated_at(plain, ready)
