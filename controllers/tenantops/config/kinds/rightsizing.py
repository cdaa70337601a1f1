"""Right-sizing policy schema (per tier)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tenantops.config.kinds.common import NonNegative, Positive, Quantity
from tenantops.config.registry import Spec, policy_kind


@policy_kind("RightsizingPolicy", scope="tier", tier_field="rightsizing")
class RightsizingSpec(Spec):
    """How requests are recommended, and whether they are applied.

    Example:
        kind: RightsizingPolicy
        name: standard
        spec:
          mode: recommend
          cpu_percentile: 0.9
          memory_percentile: 0.99
          margin: 0.15
          half_life_hours: 24
          min_cpu: 25m
          min_memory: 250Mi
          max_change_percent: 50
          min_interval_hours: 24
          daily_schedule: false
    """

    mode: Literal["recommend", "apply"] = "recommend"
    cpu_percentile: float = Field(default=0.9, gt=0, le=1)
    memory_percentile: float = Field(default=0.99, gt=0, le=1)
    margin: NonNegative = 0.15
    half_life_hours: Positive = 24
    lookback_days: int = Field(default=14, gt=0)
    min_cpu: Quantity = "25m"
    min_memory: Quantity = "250Mi"
    max_change_percent: Positive = 50
    min_interval_hours: NonNegative = 24
    daily_schedule: bool = False
    instance_headroom: NonNegative = 0.2
