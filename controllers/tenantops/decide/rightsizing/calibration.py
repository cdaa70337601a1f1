"""Requests calibrated on the workload's own recent days: the share of samples they would have missed.

A request model (a decayed percentile of past usage, flat or per UTC hour) says nothing by itself about
how often usage will exceed it. So each of the last `CALIBRATION_DAYS` days is replayed: the model is
fitted on the samples before that day's midnight, and the ratio usage / model of every sample of the day
is kept. The multiplier `k` that those ratios exceed only `target` of the time is the model's calibrated
scale (split-conformal calibration); the request is `k x` the model fitted on everything before now.

- The risk target is `CALIBRATION_SAFETY x max(1 - percentile, VPA-default's overrun rate on the same
  days)`: at least as safe as the Kubernetes VPA's default (q = 0.9, +15%) would have been on this
  workload, and never riskier than the policy's percentile (docs/benchmarks.md §2 sets the same budget).
  The factor leaves room for the next day being unlike the last seven.
- The single day that needs the largest multiplier is left out once four or more days are known: that is
  the day of a level change, and the fitted model follows a level change by itself the next day; paying
  for it in the multiplier would over-provision for a week.
- Raise fast: the request's peak hour is never below the `1 - target` quantile of the newest 24 h of samples, grown by
  the margin. A workload whose level jumped yesterday gets covered today, not after a week of decay; a
  schedule is floored hour by hour the same way, and is dropped for the flat request the day after it
  overran more than `SURPRISE_FACTOR x SELECTION_TARGET` (at least `SURPRISE_FLOOR`): its shape predates
  a change.
- Models are compared at one common target (`SELECTION_TARGET`), by the slack they would have had on
  the calibration days, so the choice of model does not depend on the policy's percentile (the request
  is then monotone in it). A schedule must also be no riskier than the flat request on days left out
  of its calibration (each day scored at the multiplier of the others).

- A spike that recurs at the same UTC hour on most recent days (see `recurring_spike`) is a scheduled
  job, not noise: a request that misses it throttles the same job every day, and one that covers it
  all day pays for one hour's need in all 24. It is covered in its own hour only (the largest of its
  recent peaks plus the margin), and the rest of the day gets the request calibrated as above (flat or,
  where it beats flat, per hour) on the samples of the other hours. This is a daily schedule, so only
  where the policy allows one.

Until one full day can be replayed there is nothing to calibrate on: the request is the peak seen so far
plus VPA's 15%.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tenantops.decide.rightsizing.estimator import (
    DAY,
    decay_weights,
    hour_of_day,
    hourly_profiles,
    weighted_percentiles,
)
from tenantops.structs.usage import Array

CALIBRATION_DAYS = 7
CALIBRATION_SAFETY = 0.6
SELECTION_TARGET = 0.01
MODEL_PERCENTILES = (0.5, 0.9, 1.0)
VPA_PERCENTILE, VPA_MARGIN, VPA_HALF_LIFE_HOURS = 0.9, 0.15, 24.0
WARMUP_MARGIN = 0.15
SURPRISE_FACTOR, SURPRISE_FLOOR = 3.0, 0.05
SPIKE_MIN_DAYS, SPIKE_SHARE = 3, 2.0 / 3.0

Shape = Literal["flat", "hourly"]


@dataclass(frozen=True, slots=True)
class Calibrated:
    """The request per UTC hour (24 values; all equal when flat) and how it was arrived at."""

    hourly: Array
    shape: Shape
    model_percentile: float
    multiplier: float
    target: float  # the overrun rate aimed at
    vpa_overrun: float | None  # VPA default's overrun rate on the calibration days (None: no day yet)
    flat_mean: float | None  # the best flat model's mean request, for the schedule's saving
    days: int
    spike_hour: int | None = None  # the UTC hour of a recurring daily spike covered in its hour only


def _models(t: Array, v: Array, now: float, half_life_hours: float, window_hours: int,
            hourly: bool) -> dict[tuple[Shape, float], Array]:
    """Every model fitted on (t, v) before `now`: 24 values each (flat models repeat one)."""
    weights = decay_weights(t, now, half_life_hours)
    out: dict[tuple[Shape, float], Array] = {
        ("flat", q): np.full(24, value)
        for q, value in zip(MODEL_PERCENTILES, weighted_percentiles(v, weights, MODEL_PERCENTILES), strict=True)
    }
    if not hourly:
        return out
    profile = hourly_profiles(t, v, weights, MODEL_PERCENTILES, window_hours)
    if profile is None:
        return out  # an hour never seen: no schedule yet
    out.update({("hourly", q): profile[i] for i, q in enumerate(MODEL_PERCENTILES)})
    return out


@dataclass(frozen=True, slots=True)
class _Day:
    usage: Array
    hours: Array
    models: dict[tuple[Shape, float], Array]
    vpa: float


def _replayed_days(t: Array, v: Array, now: float, half_life_hours: float, window_hours: int,
                   hourly: bool) -> list[_Day]:
    first_midnight = float(np.floor(t.min() / DAY) * DAY)
    days = []
    for back in range(1, CALIBRATION_DAYS + 1):
        boundary = now - back * DAY
        if boundary <= first_midnight:
            break
        past = t < boundary
        today = (t >= boundary) & (t < boundary + DAY)
        if not past.any() or not today.any():
            continue
        tp, vp = t[past], v[past]
        vpa = weighted_percentiles(vp, decay_weights(tp, boundary, VPA_HALF_LIFE_HOURS), (VPA_PERCENTILE,))[0]
        days.append(_Day(v[today], hour_of_day(t[today]).astype(np.float64),
                         _models(tp, vp, boundary, half_life_hours, window_hours, hourly), vpa * (1 + VPA_MARGIN)))
    return days


def _multiplier(ratios: Sequence[Array], target: float) -> float:
    """The `1 - target` quantile of the ratios, each day weighing the same, the worst day left out (4+ days)."""
    per_day = [weighted_percentiles(r, np.ones(r.size), (1.0 - target,))[0] for r in ratios]
    kept = list(ratios)
    if len(kept) >= 4:
        del kept[int(np.argmax(per_day))]
    weights = np.concatenate([np.full(r.size, 1.0 / r.size) for r in kept])
    return weighted_percentiles(np.concatenate(kept), weights, (1.0 - target,))[0]


def _held_out_overrun(ratios: Sequence[Array], target: float) -> float:
    """Each day's overrun at the multiplier the other days give, averaged: how a model does on a day it
    was not calibrated on. A schedule fits each hour on a fraction of the samples and can look safer
    on the days it was fitted to than it is on the next one."""
    if len(ratios) < 2:
        return 1.0
    rates = []
    for i, day in enumerate(ratios):
        k = _multiplier([r for j, r in enumerate(ratios) if j != i], target)
        rates.append(float(np.mean(day > k)))
    return float(np.mean(rates))


def calibrate(t: Array, v: Array, now: float, *, percentile: float, margin: float, half_life_hours: float,
              window_hours: int = 1, hourly: bool = False, min_saving: float = 0.05) -> Calibrated:
    """The calibrated request for the day starting at `now` (see the module docstring). `t` is non-empty."""
    spike = recurring_spike(t, v, now, margin, min_saving) if hourly else None
    if spike is not None:
        hour, cover = spike
        rest = hour_of_day(t) != hour
        fit = _calibrate(t[rest], v[rest], now, percentile=percentile, margin=margin,
                         half_life_hours=half_life_hours, window_hours=window_hours, hourly=True,
                         min_saving=min_saving)
        request = fit.hourly.copy()
        request[hour] = max(float(request[hour]), cover)
        return dataclasses.replace(fit, hourly=request, shape="hourly", flat_mean=float(request.max()),
                                   spike_hour=hour)
    return _calibrate(t, v, now, percentile=percentile, margin=margin, half_life_hours=half_life_hours,
                      window_hours=window_hours, hourly=hourly, min_saving=min_saving)


def recurring_spike(t: Array, v: Array, now: float, margin: float, min_saving: float = 0.05,
                    ) -> tuple[int, float] | None:
    """The UTC hour of a spike that recurs daily, and the request that covers it; None where there is none.

    Over the last `CALIBRATION_DAYS` 24 h periods before `now` in which every UTC hour has samples, the
    hour whose peak is strictly above every other hour's on at least `SPIKE_SHARE` of them, and on
    `SPIKE_MIN_DAYS` at the least. Were the busiest hour random (noise, a job at a moving hour) one hour
    would come first that often with a chance below 1% (3 of 3 or of 4 days) to 1 in 10,000 (5 of 7).
    The cover is the largest of that hour's recent peaks plus the margin. It counts only where holding
    the rest of the day at its own peak and the spike's hour at the cover saves `min_saving` of holding
    the cover all day: a busiest hour barely above the others is the top of a smooth day, not a job.
    Nothing here depends on the policy's percentile, so neither does whether the request is a schedule.
    """
    busiest: list[int] = []
    peaks: list[float] = []
    rest_peaks: list[float] = []
    for back in range(1, CALIBRATION_DAYS + 1):
        start = now - back * DAY
        inside = (t >= start) & (t < start + DAY)
        hours = hour_of_day(t[inside])
        if np.unique(hours).size < 24:
            continue
        per_hour = np.full(24, -np.inf)
        np.maximum.at(per_hour, hours, v[inside])
        top = int(np.argmax(per_hour))
        others = float(np.delete(per_hour, top).max())
        busiest.append(top if per_hour[top] > others else -1)
        peaks.append(float(per_hour[top]))
        rest_peaks.append(others)
    hour = max(range(24), key=busiest.count)
    count = busiest.count(hour)
    if count < max(SPIKE_MIN_DAYS, SPIKE_SHARE * len(busiest)):
        return None
    cover = max(p for b, p in zip(busiest, peaks, strict=True) if b == hour) * (1.0 + margin)
    rest = max(r for b, r in zip(busiest, rest_peaks, strict=True) if b == hour) * (1.0 + margin)
    if cover <= rest or 1.0 - (23.0 * rest + cover) / (24.0 * cover) < min_saving:
        return None
    return hour, cover


def _calibrate(t: Array, v: Array, now: float, *, percentile: float, margin: float, half_life_hours: float,
               window_hours: int, hourly: bool, min_saving: float) -> Calibrated:
    days = _replayed_days(t, v, now, half_life_hours, window_hours, hourly)
    if not days:
        peak = float(v.max()) * (1.0 + max(margin, WARMUP_MARGIN))
        return Calibrated(np.full(24, peak), "flat", 1.0, 1.0 + max(margin, WARMUP_MARGIN), 0.0, None, None, 0)
    vpa_overrun = float(np.mean(np.concatenate([d.usage > d.vpa for d in days])))
    target = CALIBRATION_SAFETY * max(1.0 - percentile, vpa_overrun)
    current = _models(t, v, now, half_life_hours, window_hours, hourly)
    ranked: list[tuple[float, tuple[Shape, float]]] = []
    for key in current:
        known = [d for d in days if key in d.models]  # a schedule needs every hour seen before that day
        if not known:
            continue
        bases = [np.maximum(d.models[key][d.hours.astype(np.int64)], 1e-12) for d in known]
        ratios = [d.usage / b for d, b in zip(known, bases, strict=True)]
        k = _multiplier(ratios, SELECTION_TARGET)
        requested = np.concatenate(bases) * k
        usage = np.concatenate([d.usage for d in known])
        total = float(requested.sum())
        slack = float(np.maximum(0.0, requested - usage).sum() / total) if total > 0 else 0.0
        ranked.append((slack, key))
    ranked.sort(key=lambda item: (item[0], item[1][0] == "hourly", item[1][1]))
    best_flat = next(key for _, key in ranked if key[0] == "flat")
    best = ranked[0][1]
    raise_fast = _raise_fast(t, v, now, target) * (1.0 + margin)

    def request(key: tuple[Shape, float], aim: float, *, floored: bool = True) -> tuple[Array, float]:
        known = [d for d in days if key in d.models]
        bases = [np.maximum(d.models[key][d.hours.astype(np.int64)], 1e-12) for d in known]
        k = _multiplier([d.usage / b for d, b in zip(known, bases, strict=True)], aim)
        model = current[key] * k
        peak = float(model.max())
        if not floored:
            return model, k
        if peak <= 0:
            return np.full(24, raise_fast), k
        return model * max(1.0, raise_fast / peak), k

    chosen = best_flat
    if best[0] == "hourly":
        # A schedule only where it saves, judged at the common target like the choice of model (and
        # without the raise-fast floor, which depends on the policy's target), and not after a surprise.
        schedule, k_common = request(best, SELECTION_TARGET, floored=False)
        flat = request(best_flat, SELECTION_TARGET, floored=False)[0]
        saving = 1.0 - float(schedule.mean()) / max(float(flat.mean()), 1e-12)
        surprised = best in days[0].models and _surprised(days[0], best, SELECTION_TARGET, k_common)

        def held_out(key: tuple[Shape, float]) -> float:
            known = [d for d in days if key in d.models]
            return _held_out_overrun([d.usage / np.maximum(d.models[key][d.hours.astype(np.int64)], 1e-12)
                                      for d in known], SELECTION_TARGET)

        riskier = held_out(best) > max(held_out(best_flat), SELECTION_TARGET)
        chosen = best if saving >= min_saving and not surprised and not riskier else best_flat
    hourly_request, k = request(chosen, target)
    if chosen[0] == "hourly":
        # Raise fast hour by hour too: no hour below what that hour needed yesterday.
        last = t > t.max() - DAY  # the newest day of samples, however old
        yesterday = hourly_profiles(t[last], v[last], np.ones(int(last.sum())), (1.0 - target,), window_hours)
        if yesterday is not None:
            hourly_request = np.maximum(hourly_request, yesterday[0] * (1.0 + margin))
    flat_mean = float(request(best_flat, target)[0].mean())
    return Calibrated(hourly_request, chosen[0], chosen[1], k, target, vpa_overrun, flat_mean, len(days))


def _surprised(yesterday: _Day, key: tuple[Shape, float], target: float, k: float) -> bool:
    """Yesterday overran the model far more than aimed at: its hourly shape predates a change."""
    request = yesterday.models[key][yesterday.hours.astype(np.int64)] * k
    return float(np.mean(yesterday.usage > request)) > max(SURPRISE_FACTOR * target, SURPRISE_FLOOR)


def _raise_fast(t: Array, v: Array, now: float, target: float) -> float:
    last = t > t.max() - DAY  # the newest day of samples, however old
    if not last.any():
        return 0.0
    return weighted_percentiles(v[last], np.ones(int(last.sum())), (1.0 - target,))[0]
