"""Autoscaling and circuit-breaker policy schemas (per tier)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from tenantops.config.kinds.common import NonNegative, Positive
from tenantops.config.registry import Spec, policy_kind

STALE_AFTER_MOVED = (
    "no longer a BreakerPolicy setting: staleness is decided once, when metrics are read, against"
    " Prometheus' clock; set it as MetricsPolicy spec.stale_after_seconds (the one setting, default 180)"
)


class MetricTarget(Spec):
    """One scaling signal, as the HPA's metric targets:

    - `utilization`: usage over request, averaged over ready replicas (Resource, AverageUtilization);
    - `per_replica`: a total whose per-replica average over ready replicas is held at `target` (Pods);
    - `value`: one object's or external value held at `target` whatever the replica count (Object or
      External with a Value target; reactive only: it has no per-replica meaning to forecast);
    - `average_value`: a total divided by the current replica count (Object or External, AverageValue).

    `target` is the HPA set-point; `capacity` is what one replica serves before the SLO breaks (default:
    the whole request for utilisation, the target itself for per-replica metrics). Predictive scaling
    provisions for forecast demand at capacity plus a calibrated margin, instead of a fixed set-point.

    A utilisation `target` and `capacity` are fractions of the request, at most 1: `target: 0.7` is 70%.
    The HPA's percent spelling (`averageUtilization: 70`) is rejected rather than guessed at, since read
    as a fraction it would mean 7000% and scale nothing up; the error says which number to write.
    """

    metric: str
    type: Literal["utilization", "per_replica", "value", "average_value"] = "utilization"
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


class Rule(Spec):
    """One HPA scaling policy: at most `value` pods or percent per `period_seconds`."""

    type: Literal["pods", "percent"]
    value: int = Field(gt=0)
    period_seconds: int = Field(gt=0, le=1800)


class Behavior(Spec):
    """How fast one direction may move, as the HPA's `behavior.scaleUp` / `scaleDown`.

    Rules are `policies`, or the shorthand `max_pods` / `max_percent` (one period, `period_seconds`); with
    neither, the HPA's defaults for the direction (up: 4 pods or 100% per 15 s; down: 100% per 15 s).
    `select_policy`: `max` (most permissive rule, the default), `min` (least permissive) or `disabled`.
    An unset `stabilization_seconds` takes the direction's default (up 0, down 300), as an unset window in
    a partly written HPA block does. `tolerance` overrides the policy's tolerance for this direction.
    """

    stabilization_seconds: int | None = Field(default=None, ge=0, le=3600)
    max_pods: int | None = Field(default=None, gt=0)
    max_percent: float | None = Field(default=None, gt=0)
    period_seconds: int = Field(default=60, gt=0)
    policies: list[Rule] | None = None
    select_policy: Literal["max", "min", "disabled"] = "max"
    tolerance: float | None = Field(default=None, ge=0)

    @field_validator("policies")
    @classmethod
    def _at_least_one_rule(cls, value: list[Rule] | None) -> list[Rule] | None:
        # The HPA's validation refuses an empty list ("must specify at least one Policy"); read here it would
        # be a direction with no rate limit at all, which no HPA can be given.
        if value is not None and not value:
            raise ValueError("an empty list would set no rate limit at all; write at least one rule, or leave "
                             "`policies` out for the direction's defaults (select_policy: disabled forbids it)")
        return value


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
    # Churn the workload has shown: a count that changes direction (up, then down, then up) is following noise,
    # not demand. While that happens more often than this many times an hour, the band widens (up to 4.5x, and
    # by at most a fifth of the safe count: at a few replicas one more is a third of the cost), and it narrows
    # again as reversals stop (0 = the band never widens). A count moving one way, with a ramp or a daily
    # cycle, never widens it.
    reversals_per_hour: float = Field(default=0.5, ge=0, le=60)


class ScaleToZero(Spec):
    """Scale a workload to zero replicas while it is idle, and wake it when demand returns (as KEDA's
    activation does).

    `activation_threshold` is demand in replicas at capacity, the unit every scaling decision works in
    (the busiest metric's load over one replica's capacity): 0.05 is 5% of what one replica serves. A
    workload goes to zero once its demand has stayed at or below it for `cooldown_seconds`, and wakes when
    demand rises above it.
    """

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
    scale_up: Behavior = Behavior()
    scale_down: Behavior = Behavior()
    predictive: Predictive = Predictive()
    scale_to_zero: ScaleToZero = ScaleToZero()
    # What to do when a tenant is over its budget: only alert, or also cap scale-up at current replicas.
    budget_action: Literal["none", "alert", "cap"] = "alert"

    @model_validator(mode="after")
    def _value_targets_are_reactive(self) -> ScalingSpec:
        if self.algorithm == "predictive" and self.predictive.enabled:
            for i, m in enumerate(self.metrics):
                if m.type == "value":
                    raise ValueError(f"metrics[{i}] ({m.metric}): a `value` target holds one number whatever "
                                     "the replica count, so there is no per-replica demand to forecast; use "
                                     "algorithm: reactive, or type: average_value")
        return self


@policy_kind("BreakerPolicy", scope="tier", tier_field="breakers")
class BreakerSpec(Spec):
    """Guardrails that stop a bad input from turning into a bad action.

    Staleness is not a breaker setting: it is decided once, when the metrics are read, by the
    MetricsPolicy's `stale_after_seconds` against Prometheus' own clock (`observe.prometheus`), and every
    breaker reads that verdict. A second limit here could only ever be the smaller of the two, so a
    BreakerPolicy that still sets `stale_after_seconds` is rejected with its file, line and field.

    Example:
        kind: BreakerPolicy
        name: default
        spec:
          max_step_up: 20
          max_step_down: 5
          failed_passes_before_alert: 3
    """

    max_step_up: int = Field(default=20, gt=0)
    max_step_down: int = Field(default=5, gt=0)
    failed_passes_before_alert: int = Field(default=3, gt=0)
    # Removed; declared only so that setting it fails with a message saying where staleness is set now.
    stale_after_seconds: SkipJsonSchema[None] = Field(default=None, exclude=True, repr=False)

    @field_validator("stale_after_seconds", mode="before")
    @classmethod
    def _staleness_is_decided_when_read(cls, value: object) -> None:
        raise ValueError(STALE_AFTER_MOVED)
