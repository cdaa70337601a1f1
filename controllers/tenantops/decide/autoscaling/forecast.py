"""Forecasting a workload's demand a few minutes ahead from its own history, with a calibrated margin.

Demand is in replica units at capacity (1.0 = one replica's worth). Three forecasters run side by side,
because no single one suits every workload: a smoothed level and trend whose slope leans on the learnt
daily/weekly profile (noisy but regular traffic), "no change" (random walks), and "the last slope goes on"
(smooth ramps). Each is scored when its forecast comes due. Each margin is conformal: a multiplier of the
forecaster's recent absolute error, nudged up after a miss and down after a hit, so that the share of
misses settles at the policy's target whatever the trace looks like. The forecaster with the narrowest
margin decides. Nothing here is tuned to a particular trace: the knobs are time constants in seconds and
the target miss share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tenantops.decide.autoscaling.state import DAY_BINS, FORECASTERS, WorkloadState

DAY = 86400.0
BIN_SECONDS = DAY / DAY_BINS
NAMES = ("seasonal trend", "no change", "last slope")
SEASONAL, NAIVE, SLOPE = range(FORECASTERS)


@dataclass(frozen=True, slots=True)
class ForecastParams:
    level_seconds: float = 90.0  # time constant of the level (noise vs lag)
    trend_seconds: float = 600.0  # time constant of the slope
    trend_damping_seconds: float = 900.0  # a slope is trusted less the further ahead it is extrapolated
    error_seconds: float = 3 * 3600.0  # memory of the absolute-error scale
    profile_days: float = 3.0  # memory of the daily profile, in days of data per bin
    target_miss: float = 0.004  # share of forecasts allowed to fall short of the outcome
    quantile_step: float = 0.1  # conformal step: how fast the margin reacts to misses
    min_quantile: float = 0.5
    max_quantile: float = 12.0
    # Errors are measured relative to level**exponent (0 by default; 0.5: counting noise, which grows with the square
    # root of the rate), so the margin follows the level at once instead of lagging the error memory.
    scale_exponent: float = 0.0


def _ewma_weight(dt: float, tau: float) -> float:
    return 1.0 - math.exp(-dt / tau) if tau > 0 else 1.0


def _weekday(at: float) -> int:
    return int((at // DAY + 3) % 7)  # 1970-01-01 was a Thursday; 0 = Monday


def _profile_at(state: WorkloadState, at: float) -> float:
    """The learnt seasonal demand at `at`: hourly daily profile (interpolated) times the weekday factor."""
    day = state.day
    position = (at % DAY) / BIN_SECONDS - 0.5
    low = math.floor(position)
    frac = position - low
    value = day[low % DAY_BINS] * (1.0 - frac) + day[(low + 1) % DAY_BINS] * frac
    return value * state.week[_weekday(at)]


def observe(state: WorkloadState, value: float, at: float, params: ForecastParams) -> None:
    """Fold one observation (replica units at capacity, taken at epoch `at`) into the state, in place."""
    if state.last_at is not None and at <= state.last_at:
        return  # a repeated or out-of-order sample carries nothing new
    _settle(state, value, at, params)
    if state.last_at is None or state.count == 0:
        state.level, state.trend, state.slope = value, 0.0, 0.0
        state.day = [value] * DAY_BINS
    else:
        dt = at - state.last_at
        predicted = state.level + state.trend * dt
        level = predicted + _ewma_weight(dt, params.level_seconds) * (value - predicted)
        state.trend += _ewma_weight(dt, params.trend_seconds) * ((level - state.level) / dt - state.trend)
        state.level = level
        state.slope = (value - state.last_value) / dt
        _learn_profile(state, value, at, dt, params)
    state.last_value = value
    state.last_at = at
    state.count += 1


def _learn_profile(state: WorkloadState, value: float, at: float, dt: float, params: ForecastParams) -> None:
    weight = min(1.0, dt / (BIN_SECONDS * params.profile_days))
    weekday = _weekday(at)
    factor = state.week[weekday]
    index = int((at % DAY) // BIN_SECONDS)
    if factor > 0:
        state.day[index] += weight * (value / factor - state.day[index])
    base = _profile_at(state, at) / factor if factor > 0 else 0.0
    if base > 1e-9:
        state.week[weekday] += (weight / 7.0) * (min(4.0, value / base) - factor)
    state.seasonal_weight = min(1.0, state.seasonal_weight + dt / (7 * DAY))


def _settle(state: WorkloadState, value: float, at: float, params: ForecastParams) -> None:
    """Score the forecasts that have come due against what happened, updating errors and margins."""
    if not state.pending:
        return
    slack = (at - state.last_at) / 2.0 if state.last_at is not None else 0.0
    weight = _ewma_weight(max(1.0, at - (state.last_at or at)), params.error_seconds)
    step, target = params.quantile_step, params.target_miss
    keep: list[list[float]] = []
    for entry in state.pending:
        if entry[0] > at + slack:
            keep.append(entry)
            continue
        norm = entry[1 + 2 * FORECASTERS] if len(entry) > 1 + 2 * FORECASTERS else 1.0
        for i in range(FORECASTERS):
            error = value - entry[1 + i]
            state.mae[i] += weight * (abs(error) / norm - state.mae[i])
            q = state.quantile[i]
            q += step * (1.0 - target) if error > q * entry[1 + FORECASTERS + i] else -step * target
            state.quantile[i] = min(params.max_quantile, max(params.min_quantile, q))
    state.pending = keep


def normaliser(state: WorkloadState, params: ForecastParams) -> float:
    if params.scale_exponent == 0:
        return 1.0
    return float(max(1.0, abs(state.level)) ** params.scale_exponent)


def error_scale(state: WorkloadState, which: int, params: ForecastParams) -> float:
    """The unit of a margin: recent (level-normalised) absolute error at today's level, floored so a
    perfectly smooth past is not trusted blindly."""
    return max(state.mae[which] * normaliser(state, params), 0.01 * abs(state.level), 0.02)


def point(state: WorkloadState, at: float, params: ForecastParams, which: int) -> float:
    """Point forecast of demand at epoch `at` (after the last observation) by one forecaster."""
    last = state.last_at if state.last_at is not None else at
    ahead = max(0.0, at - last)
    if which == NAIVE:
        return state.last_value
    tau = params.trend_damping_seconds
    effective = tau * (1.0 - math.exp(-ahead / tau)) if tau > 0 else ahead
    if which == SLOPE:
        return max(0.0, state.last_value + state.slope * effective)
    trend = state.trend
    weight = state.seasonal_weight
    if weight > 0 and ahead > 0 and state.day:
        seasonal_slope = (_profile_at(state, at) - _profile_at(state, last)) / ahead
        trend = (1.0 - 0.5 * weight) * trend + 0.5 * weight * seasonal_slope
    return max(0.0, state.level + trend * effective)


def margin(state: WorkloadState, which: int, params: ForecastParams) -> float:
    return state.quantile[which] * error_scale(state, which, params)


def best(state: WorkloadState, params: ForecastParams) -> int:
    """The forecaster with the narrowest calibrated margin: the one that knows this workload best."""
    norm = normaliser(state, params)
    floor = max(0.01 * abs(state.level), 0.02)
    chosen, narrowest = 0, math.inf
    for i in range(FORECASTERS):
        width = state.quantile[i] * max(state.mae[i] * norm, floor)
        if width < narrowest:
            chosen, narrowest = i, width
    return chosen


def upper(state: WorkloadState, at: float, params: ForecastParams, which: int, lead: float | None = None) -> float:
    """Demand at `at` that is exceeded only about `target_miss` of the time, by this forecaster's record.

    The margin is calibrated at the provisioning lead `lead` (seconds after the last observation); nearer
    times get a margin shrunk by the square root of their share of it, as errors that accumulate step by
    step grow with the square root of the lead.
    """
    width = margin(state, which, params)
    if lead is not None and lead > 0 and state.last_at is not None:
        width *= math.sqrt(min(1.0, max(0.0, at - state.last_at) / lead))
    return point(state, at, params, which) + width


def remember(state: WorkloadState, due: float, params: ForecastParams) -> None:
    """Keep every forecaster's forecast for `due` until its time comes, to be scored by `observe`."""
    forecasts = [point(state, due, params, i) for i in range(FORECASTERS)]
    scales = [error_scale(state, i, params) for i in range(FORECASTERS)]
    state.pending.append([due, *forecasts, *scales, normaliser(state, params)])
    if len(state.pending) > 16:  # a stalled clock must not grow the state without bound
        del state.pending[0]


def is_poor(state: WorkloadState, which: int, max_error: float) -> bool:
    """The forecast does worse than "demand stays as it is" by more than `max_error`: not worth trusting."""
    return state.mae[which] > (1.0 + max_error) * state.mae[NAIVE] + 1e-9
