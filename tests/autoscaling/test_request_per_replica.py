"""A replica's measured request is the scrape's sum over the scrape's own count of replicas.

The live count (read from the objects at the pass) is ahead of the last scrape right after a scale-up. The
request sum divided by the live count halved the request after a doubling, doubled the utilisation read
and asked for twice the replicas again: at a pass per scrape a workload needing about 10 went 10 -> 20 -> 40.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config import Config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.base import PassInput
from tenantops.structs.replicas import REPORTED
from tenantops.structs.snapshot import Reading, Snapshot, WorkloadMetrics

from .conftest import pool_config

REQUEST = 0.5  # cores per replica
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _readings(at: datetime, cores: float, live: int, scraped: int | None) -> dict[str, Reading]:
    """`cores` of CPU in use; the live count `live`; the last scrape saw `scraped` replicas (None: the
    live count stands alone, as when no live reader is configured)."""
    pods = live if scraped is None else scraped
    readings = {
        "cpu": Reading(cores, sampled_at=at),
        "cpu_request": Reading(REQUEST * pods, sampled_at=at),
        "cpu_limit": Reading(2 * REQUEST * pods, sampled_at=at),
        "replicas": Reading(float(live), sampled_at=at),
        "ready_replicas": Reading(float(live), sampled_at=at),
        "requests": Reading(0.0, sampled_at=at),
    }
    if scraped is not None:
        readings[REPORTED] = Reading(float(scraped), sampled_at=at)
    return readings


def _decide(decider: AutoscalingDecider, config: Config, state: dict[str, Any], at: datetime,
            readings: dict[str, Reading]) -> Any:
    snap = Snapshot(at, {("acme", "api"): WorkloadMetrics("acme", "api", readings)})
    out = decider.decide(PassInput(snap, config, at), state)
    state.update(out.state)
    (decision,) = out.decisions
    return decision


@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 20.0), st.integers(1, 60), st.integers(1, 60))
def test_demand_read_does_not_depend_on_a_live_count_the_scrape_has_not_seen(
        tmp_path_factory: Any, cores: float, live: int, scraped: int) -> None:
    config = pool_config(tmp_path_factory.mktemp("cfg"))
    decision = _decide(AutoscalingDecider(), config, {}, T0, _readings(T0, cores, live, scraped))
    assert decision.inputs["demand_replicas"] == round(cores / REQUEST, 3)


def test_without_the_scrapes_count_the_live_count_divides_the_sum(tmp_path: Path) -> None:
    decision = _decide(AutoscalingDecider(), pool_config(tmp_path), {}, T0, _readings(T0, 3.0, 10, None))
    assert decision.inputs["demand_replicas"] == round(3.0 / REQUEST, 3)


def test_a_pass_per_scrape_with_the_live_count_ahead_does_not_climb_to_the_maximum(tmp_path: Path) -> None:
    """Each pass's write is live at once; the scrape the next pass reads predates it. Demand is a steady 6
    replicas' worth of CPU after a step from 3: the count settles near what 6 needs, not at the maximum."""
    config = pool_config(tmp_path)
    decider = AutoscalingDecider()
    state: dict[str, Any] = {}
    live = scraped = 7
    target = config.for_tenant("acme").scaling.metrics[0].target
    counts = []
    for i in range(80):
        at = T0 + timedelta(seconds=30 * i)
        cores = REQUEST * (3.0 if i < 40 else 6.0)
        decision = _decide(decider, config, state, at, _readings(at, cores, live, scraped))
        scraped, live = live, decision.new if decision.kind == "scale" else live
        counts.append(live)
    assert max(counts[40:]) <= 2 * math.ceil(6.0 / target), counts[40:]
