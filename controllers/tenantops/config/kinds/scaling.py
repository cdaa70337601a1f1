"""Autoscaling and circuit-breaker policy schemas (per tier)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from tenantops.config.kinds.common import NonNegative, Positive
from tenantops.config.registry import Spec, policy_kind


class MetricTarget(Spec):
    """One scaling signal. `utilization`: usage over request per replica; `per_replica`: value per replica.

    `target` is the HPA set-point; `capacity` is what one replica serves before the SLO breaks (default:
    the whole request for utilisation, the target itself for per-replica metrics). Predictive scaling
    provisions for forecast demand at capacity plus a calibrated margin, instead of a fixed set-point.

    A utilisation `target` and `capacity` are fractions of the request, at most 1: `target: 0.7` is 70%.
    The HPA's percent spelling (`averageUtilization: 70`) is rejected rather than guessed at, since read
    as a fraction it would mean 7000% and scale nothing up; the error says which number to write.
    """

    metric: str
    type: Literal["utilization", "per_replica"] = "utilization"
    target: Positive
    capacity: Positive | None = None

    @field_validator("target", "capacity")
    @classmethod
    def _utilisation_is_a_fraction(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("type", "utilization") == "utilization" and value > 1:
            hint = f"; for {value:g}% write {value / 100:g}" if value <= 100 else ""
            raise ValueError(f"a utilization {info.field_name} is a fraction of the request, at most 1 "
                             f"(got {value:g}{hint})")
        return value

    def capacity_or_default(self) -> float:
        if self.capacity is not None:
            return self.capacity
        return 1.0 if self.type == "utilization" else self.target


class Behavior(Spec):
    """How fast one direction may move: like the HPA's `behavior` (the larger of the pod and percent limits)."""

    stabilization_seconds: int = Field(default=0, ge=0)
    max_pods: int | None = Field(default=None, gt=0)
    max_percent: float | None = Field(default=None, gt=0)
    period_seconds: int = Field(default=60, gt=0)


class Predictive(Spec):
    """Forecast-driven scaling. Falls back to the HPA rule while warming up or when the forecast is poor."""

    enabled: bool = True
    # Share of forecasts allowed to fall short of demand; the margin is calibrated online to meet it.
    target_miss: float = Field(default=0.004, gt=0, lt=0.5)
    warmup_samples: int = Field(default=10, ge=0)
    # Fewer, larger steps: replicas are held while they are at most `band` forecast margins above the safe
    # count, and a move lands in the middle of that band (0 = follow the forecast at every pass). Its width
    # follows the workload's own noise: a few replicas where demand is smooth, more where it is bursty.
    band: float = Field(default=1.0, ge=0, le=10)


class ScaleToZero(Spec):
    enabled: bool = False
    activation_threshold: NonNegative = 0.0
    cooldown_seconds: int = Field(default=300, ge=0)


@policy_kind("ScalingPolicy", scope="tier", tier_field="scaling")
class ScalingSpec(Spec):
    """How a tier's workloads scale.

    Example:
        kind: ScalingPolicy
        name: balanced
        spec:
          algorithm: predictive
          metrics:
            - {metric: cpu, type: utilization, target: 0.7}
            - {metric: requests, type: per_replica, target: 50}
          tolerance: 0.1
          startup_seconds: 120
          scale_up: {stabilization_seconds: 0, max_percent: 100, max_pods: 4, period_seconds: 15}
          scale_down: {stabilization_seconds: 300, max_percent: 50, period_seconds: 60}
          budget_action: alert
    """

    algorithm: Literal["reactive", "predictive"] = "predictive"
    metrics: list[MetricTarget] = Field(min_length=1)
    tolerance: float = Field(default=0.1, ge=0, lt=1)
    startup_seconds: int = Field(default=120, ge=0)
    scale_up: Behavior = Behavior(max_percent=100, max_pods=4, period_seconds=15)
    scale_down: Behavior = Behavior(stabilization_seconds=300, max_percent=100, period_seconds=15)
    predictive: Predictive = Predictive()
    scale_to_zero: ScaleToZero = ScaleToZero()
    # What to do when a tenant is over its budget: only alert, or also cap scale-up at current replicas.
    budget_action: Literal["none", "alert", "cap"] = "alert"


@policy_kind("BreakerPolicy", scope="tier", tier_field="breakers")
class BreakerSpec(Spec):
    """Guardrails that stop a bad input from turning into a bad action.

    Example:
        kind: BreakerPolicy
        name: default
        spec:
          max_step_up: 20
          max_step_down: 5
          stale_after_seconds: 180
          failed_passes_before_alert: 3
    """

    max_step_up: int = Field(default=20, gt=0)
    max_step_down: int = Field(default=5, gt=0)
    stale_after_seconds: int = Field(default=180, gt=0)
    failed_passes_before_alert: int = Field(default=3, gt=0)
