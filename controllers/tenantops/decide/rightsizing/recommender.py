"""The request recommender: what one workload's CPU or memory request should be, from its usage history.

Model: a decayed percentile of past usage (flat, or per UTC hour where the workload follows the clock),
scaled by the multiplier that its own recent days say keeps overruns within the risk target (see
`calibration`). The choice of model and the multiplier come from replaying the last days, so a steady
service gets a tight request and a bursty one a wide one, from the same policy.

A daily schedule (one request per UTC hour) is offered only where the policy allows it, where it beat
the flat models on the replayed days, and where it saves at least `schedule_min_saving` of the flat
request: a schedule nobody needs is churn. A spike that recurs at one UTC hour every day (a scheduled job) is
covered in that hour only, the rest of the day at the request calibrated without it.
Memory is bumped after OOM kills the way VPA does it (max(used + 100 MiB, used x 1.2)), and that bump is
a floor for the whole lookback, because an OOM kill is the one overrun that is never acceptable twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tenantops.decide.rightsizing.calibration import Calibrated, calibrate
from tenantops.decide.rightsizing.estimator import DAY, HOUR, decay_weights, weighted_percentile
from tenantops.structs.usage import Array, OomKill, Resource

MIB = float(2**20)


@dataclass(frozen=True, slots=True)
class ResourceParams:
    """Recommender parameters for one resource, resolved from a tier's RightsizingPolicy."""

    resource: Resource
    percentile: float
    margin: float
    half_life_hours: float
    minimum: float  # cores or bytes; the request is never below it
    maximum: float | None = None
    lookback_days: float = 14.0
    daily_schedule: bool = False
    schedule_min_saving: float = 0.05
    schedule_window_hours: int = 1
    full_confidence_days: float = 7.0
    oom_bump_ratio: float = 1.2
    oom_bump_min: float = 100 * MIB

    def __post_init__(self) -> None:
        if not 0 < self.percentile <= 1:
            raise ValueError("percentile must be in (0, 1]")
        if self.half_life_hours <= 0 or self.lookback_days <= 0:
            raise ValueError("half_life_hours and lookback_days must be positive")
        if self.margin < 0 or self.minimum < 0:
            raise ValueError("margin and minimum must not be negative")


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A recommended request with its bounds and how far to trust it.

    `target` is the flat request. `schedule`, when present, is one request per UTC hour (0..23) and is
    what should be requested at that hour; `target` then is its maximum, so a consumer that cannot
    follow a schedule is still safe.
    """

    resource: Resource
    target: float
    lower: float
    upper: float
    confidence: float  # 0..1, grows with the days of history
    history_hours: float
    samples: int
    schedule: tuple[float, ...] | None
    reason: str
    oom_floor: float | None = None
    uncapped: float | None = None  # the target before the policy's min/max (VPA's uncappedTarget)
    overrun_target: float | None = None  # the share of samples the request was calibrated to miss at most

    def request_at(self, hour: int) -> float:
        return self.schedule[hour % 24] if self.schedule is not None else self.target


def oom_bump(usage: float, params: ResourceParams) -> float:
    """The memory an OOM-killed container should have had next time (VPA's rule)."""
    return max(usage + params.oom_bump_min, usage * params.oom_bump_ratio)


def _explain(fit: Calibrated) -> str:
    if fit.days == 0:
        return f"no full day to calibrate on yet: the peak so far +{fit.multiplier - 1:.0%}"
    shape = fit.shape
    if fit.spike_hour is not None:  # the shape of the rest of the day
        shape = "hourly" if float(np.ptp(np.delete(fit.hourly, fit.spike_hour))) > 0 else "flat"
    text = (f"{shape} p{fit.model_percentile * 100:g} of usage x {fit.multiplier:.2f}, calibrated on "
            f"{fit.days} day(s) to overrun at most {fit.target:.2%}")
    if fit.vpa_overrun is not None:
        text += f" (VPA's default overran {fit.vpa_overrun:.2%} there)"
    if fit.spike_hour is not None:
        text += (f"; the spike that recurs daily at {fit.spike_hour:02d}:00 UTC is covered in that hour "
                 f"({float(fit.hourly[fit.spike_hour]):.4g})")
    return text


def _bounded(value: float, params: ResourceParams, floor: float) -> float:
    value = max(value, params.minimum, floor)
    if params.maximum is not None and params.maximum >= max(params.minimum, floor):
        value = min(value, params.maximum)
    return value


def recommend(
    times: Sequence[float] | Array,
    values: Sequence[float] | Array,
    now: float,
    params: ResourceParams,
    ooms: Sequence[OomKill] = (),
) -> Recommendation | None:
    """Recommend a request from samples `(times[i], values[i])` seen before `now` (unix seconds).

    Samples at or after `now`, outside the lookback, negative or not finite are ignored. Returns None
    when nothing usable is left (and no OOM kill says anything either).
    """
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape:
        raise ValueError("times and values differ in length")
    start = now - params.lookback_days * DAY
    usable = np.isfinite(t) & np.isfinite(v) & (v >= 0) & (t < now) & (t >= start)
    t, v = t[usable], v[usable]
    floor = 0.0
    recent: list[OomKill] = []
    if params.resource == "memory":
        recent = [k for k in ooms if start <= k.at < now and np.isfinite(k.usage) and k.usage >= 0]
        if recent:
            bumps = np.array([oom_bump(k.usage, params) for k in recent])
            floor = float(bumps.max())
            # As VPA does, the bumped value also becomes a sample so it shapes the percentile.
            t = np.concatenate([t, np.array([k.at for k in recent])])
            v = np.concatenate([v, bumps])
    if v.size == 0:
        return None
    weights = decay_weights(t, now, params.half_life_hours)
    level = weighted_percentile(v, weights, 0.5)
    fit = calibrate(t, v, now, percentile=params.percentile, margin=params.margin,
                    half_life_hours=params.half_life_hours, window_hours=params.schedule_window_hours,
                    hourly=params.daily_schedule, min_saving=params.schedule_min_saving)
    history_hours = float((now - t.min()) / HOUR)
    confidence = float(min(1.0, history_hours / 24.0 / params.full_confidence_days))
    why = _explain(fit)
    schedule: tuple[float, ...] | None = None
    if fit.shape == "hourly":
        schedule = tuple(_bounded(float(x), params, floor) for x in fit.hourly)
        flat = _bounded(fit.flat_mean or float(fit.hourly.max()), params, floor)
        floored = any(b > float(x) for b, x in zip(schedule, fit.hourly, strict=True))
        if floored and float(np.mean(schedule)) >= flat:  # the floors ate the saving: flat is simpler
            schedule = None
    raw = float(fit.hourly.max()) if schedule is not None or fit.shape == "flat" else float(
        fit.flat_mean or fit.hourly.max())
    uncapped = max(raw, floor)
    if schedule is not None:
        target = max(schedule)
        why += f"; daily schedule saves {1 - float(np.mean(schedule)) / flat:.0%} of the flat request (by UTC hour)"
    else:
        target = _bounded(float(fit.flat_mean if fit.shape == "hourly" and fit.flat_mean else fit.hourly.max()),
                          params, floor)
    lower = _bounded(min(level, target), params, floor)
    lower = min(lower, target)
    spread = 1.0 + 1.0 / max(history_hours / 24.0, 1.0 / 24.0)
    upper = max(target, weighted_percentile(v, weights, 1.0)) * spread
    if params.maximum is not None and params.maximum >= target:
        upper = min(upper, params.maximum)
    upper = max(upper, target)
    if floor > 0:
        why += f"; OOM kill in lookback: at least {floor:.0f} bytes"
        blind = [k for k in recent if k.basis == "limit"]
        if blind:
            why += (" (no memory sample before a kill: bumped from the memory limit, or request, it was killed at, "
                    f"{max(k.usage for k in blind):.0f} bytes)")
    return Recommendation(
        resource=params.resource,
        target=target,
        lower=lower,
        upper=upper,
        confidence=confidence,
        history_hours=history_hours,
        samples=int(v.size),
        schedule=schedule,
        reason=why,
        oom_floor=floor or None,
        uncapped=uncapped,
        overrun_target=fit.target if fit.days else None,
    )
