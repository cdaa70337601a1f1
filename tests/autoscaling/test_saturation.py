"""A saturated run teaches the margins only what a margin could have covered (docs/benchmarks.md §1).

Replicas asked for when saturation starts serve only after start-up; the later passes of a long run are the
saturation inference's (demand is censored at capacity, and the step breaker limits the climb). Were they
margin misses, one flash crowd would inflate every margin for days after it ended.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from tenantops.config.kinds.scaling import ScalingSpec
from tenantops.config.loader import load_policies
from tenantops.sim.environment import run
from tenantops.sim.replay import recommender_policy

from .conftest import REPO

CAPACITY = 20.0


def balanced() -> ScalingSpec:
    spec = load_policies(REPO / "policies").get("ScalingPolicy", "balanced")
    assert isinstance(spec, ScalingSpec)
    return spec


def test_one_long_flash_crowd_does_not_raise_the_count_for_the_hours_after_it() -> None:
    rng = np.random.default_rng(7)
    quiet = rng.poisson(400.0, 3000).astype(np.float64)  # about 20 replicas of counting noise
    crowd = np.full(40, 8000.0)  # 20 times as much for 40 minutes: the +20 step breaker climbs for most of it
    after = rng.poisson(400.0, 1500).astype(np.float64)
    demand = np.concatenate([quiet, crowd, after])
    result = run(demand, CAPACITY, recommender_policy(balanced(), CAPACITY, datetime(2024, 1, 1, tzinfo=UTC)))
    before = float(result.provisioned[2500:3000].mean())
    later = float(result.provisioned[3000 + 40 + 300:].mean())
    assert later <= 1.5 * before, (before, later)
    # and the crowd itself was answered: saturated only while the replicas it asked for were starting
    served = demand[3000:3040] <= result.ready[3000:3040] * CAPACITY
    assert served[-10:].all()


def test_saturation_while_the_replicas_asked_for_are_starting_asks_for_no_more() -> None:
    """26 replicas on a demand of 25, then 28: saturated through start-up. The HPA asks for 1/u of the ready
    count once; asking 1/u more at every pass of start-up sent the count to 74 and walked it back five a pass."""
    demand = np.concatenate([np.full(600, 500.0), np.full(60, 560.0)])
    result = run(demand, CAPACITY, recommender_policy(balanced(), CAPACITY, datetime(2024, 1, 1, tzinfo=UTC)))
    after = result.provisioned[599:]
    assert int(after.max()) <= math.ceil(26 / 0.7)
    assert int((np.diff(after) != 0).sum()) <= 3
    assert (demand[610:] <= result.ready[610:] * CAPACITY).all()  # and the step was answered
