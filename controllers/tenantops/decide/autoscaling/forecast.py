"""Forecasting a workload's demand over the next few decisions from its own history, with calibrated margins.

Demand is in replica units at capacity (1.0 = one replica's worth) and is what the controller measured:
served load, which stops at the ready replicas' capacity (see `recommender` for what is inferred beyond).
Four forecasters run side by side, because no single one suits every workload:

- "no change": the newest value (smooth series, random walks);
- "fast level": a level and a damped trend that follow within minutes (ramps);
- "slow level": a level averaged over a quarter of an hour (bursty traffic whose spikes do not last);
- "seasonal": the slow level moved along the learnt daily/weekly profile (regular daily cycles), which
  takes over only as the profile is learnt (a week of history for full weight).

Forecasts are made for each pass until new replicas are ready, and scored when their outcome arrives at two
leads: the next pass and the provisioning lead (the passes between take the square-root path). Margins come
from those observed errors, per forecaster and per lead, in two parts: ordinary noise is the recent mean
absolute error (scaled with the square root of the level, so a quiet night's counting noise is not charged
at the afternoon's size); sudden jumps are the errors above a threshold of that scale, modelled as a tail
(how often they happen, and the mean and spread of their excess), kept per level band: quiet (a slow level
below 3/4 of the workload's typical level, its daily profile's mean) and busy. Pooled, a burst out of a quiet
night set the margin at every level (on a bursty trace jumps were 7% of outcomes and the margin 8 noise
units); banded, the busy hours keep their own (what that moved on the recorded traces, chosen on four and
checked on four others: docs/benchmarks.md §1, "Where it stands"). The margin is the error that noise and
jumps together exceed only `target_miss` of the time; an adaptive conformal term corrects it from the misses
it actually had, and another, on every margin, from how often the replicas were saturated.
The per-forecaster conformal term is the slow one (`ForecastParams.conformal_step`, 1% a miss): a miss already
widens the margin through the jump tail it is counted in and, when it saturated the replicas, through the
decision's calibration. At 5% a miss the conformal term widened it a third time, each miss undone only by 250
passes without one, so the margins swung after every cluster of misses and the forecaster deciding changed
four times as often (a held 5-minute source). At 1% it still corrects what the tail approximation gets wrong
for a workload (it settles at +0.3 to +0.4 on every trace measured) and leaves single misses to the other two.
The forecaster with the narrowest margin at the provisioning lead decides (of margins that tie at the noise
floor, the one with the smaller observed error).
Nothing here is tuned to a trace: the knobs are time constants in seconds, the target miss share and the
quiet band's share of the typical level (`QUIET`, chosen on four traces and checked on four others).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tenantops.decide.autoscaling.state import BANDS, CELLS, DAY_BINS, FORECASTERS, LEADS, WorkloadState

DAY = 86400.0
BIN_SECONDS = DAY / DAY_BINS
NAMES = ("no change", "fast level", "slow level", "seasonal")
NAIVE, FAST, SLOW, SEASONAL = range(FORECASTERS)
JUMP = 3.0  # errors beyond this many noise scales are jumps (the tail), below it ordinary noise
MIN_NOISE = 0.02  # noise units: a perfectly smooth past is not trusted blindly
MAX_ADJUST = 2.0  # the conformal correction scales a margin by at most e^2 either way
MAX_CALIBRATION = 1.5  # and the decision's calibration by at most e^1.5
PENDING_LIMIT = 16
QUIET = 0.75  # the jump tail's quiet band: a slow level below this share of the workload's typical level


@dataclass(frozen=True, slots=True)
class ForecastParams:
    fast_seconds: float = 120.0  # time constant of the fast level
    trend_seconds: float = 600.0  # time constant of its slope
    trend_damping_seconds: float = 600.0  # a slope is trusted less the further ahead it is extrapolated
    slow_seconds: float = 900.0  # time constant of the slow level
    error_seconds: float = 2 * 3600.0  # memory of the noise scale
    tail_seconds: float = 2 * 86400.0  # memory of the jump rate and size (rare events need a long memory)
    profile_days: float = 3.0  # memory of the daily profile, in days of data per bin
    target_miss: float = 0.004  # share of forecasts allowed to fall short of the outcome
    conformal_step: float = 0.01  # how fast each forecaster's conformal correction reacts (log factor per miss)
    calibration_step: float = 0.1  # the same for the decision's own misses (saturated passes)


def _weight(dt: float, tau: float) -> float:
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


def norm(level: float) -> float:
    """Errors are measured in units of sqrt(level + 1): counting noise grows with the square root of the
    rate, so the margin follows the level at once instead of waiting for the error memory."""
    return math.sqrt(max(0.0, level) + 1.0)


def band(state: WorkloadState) -> int:
    """The level band a forecast is made in: quiet (0) while the slow level is below `QUIET` of the
    workload's own typical level (the mean of its daily profile), busy (1) otherwise. A burst out of a quiet
    night is a jump of the quiet band only: pooled, it set the margin at every level."""
    if not state.day:
        return 0
    return int(state.slow >= QUIET * sum(state.day) / len(state.day))


def tail_cell(f: int, k: int, b: int) -> int:
    """Index of forecaster `f`'s jump tail at lead `k` in band `b` (`rate`, `excess`, `excess2`, `jumps`)."""
    return b * CELLS + f * LEADS + k


def observe(state: WorkloadState, value: float, at: float, params: ForecastParams, censored: bool = False) -> None:
    """Fold one observation (replica units at capacity, taken at epoch `at`) into the state, in place.

    `censored`: the value is a lower bound (the replicas were saturated): its errors say only that the
    forecast was at least this far short, so it counts as a jump and does not shrink the noise scale.
    """
    if state.last_at is not None and at <= state.last_at:
        return  # a repeated or out-of-order sample carries nothing new
    _settle(state, value, at, params, censored)
    if state.last_at is None or state.count == 0:
        state.level = state.slow = state.last_value = value
        state.trend = 0.0
        state.day = [value] * DAY_BINS
    else:
        dt = at - state.last_at
        predicted = state.level + state.trend * dt
        level = predicted + _weight(dt, params.fast_seconds) * (value - predicted)
        state.trend += _weight(dt, params.trend_seconds) * ((level - state.level) / dt - state.trend)
        state.level = level
        state.slow += _weight(dt, params.slow_seconds) * (value - state.slow)
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


def point(state: WorkloadState, at: float, params: ForecastParams, which: int, lag: float | None = None) -> float:
    """Point forecast of demand at epoch `at` (after the last observation) by one forecaster; `lag` is the
    profile a slow-level time constant before the last observation, when the caller already has it."""
    last = state.last_at if state.last_at is not None else at
    ahead = max(0.0, at - last)
    if which == NAIVE:
        return state.last_value
    if which == FAST:
        tau = params.trend_damping_seconds
        effective = tau * (1.0 - math.exp(-ahead / tau)) if tau > 0 else ahead
        return max(0.0, state.level + state.trend * effective)
    if which == SLOW or not state.day or state.seasonal_weight <= 0:
        return state.slow
    # The slow level lags by about its time constant: move it along the profile from then to `at`.
    shift = _profile_at(state, at) - (_profile_at(state, last - params.slow_seconds) if lag is None else lag)
    return max(0.0, state.slow + state.seasonal_weight * shift)


def _settle(state: WorkloadState, value: float, at: float, params: ForecastParams, censored: bool) -> None:
    """Score the forecasts that have come due against what happened: noise scale, jump tail, conformal term."""
    if not state.pending:
        return
    slack = (at - state.last_at) / 2.0 if state.last_at is not None else 0.0
    dt = max(1.0, at - (state.last_at or at))
    w_err, w_tail = _weight(dt, params.error_seconds), _weight(dt, params.tail_seconds)
    alpha, step = params.target_miss, params.conformal_step
    keep: list[list[float]] = []
    for entry in state.pending:
        due = entry[0]
        if due > at + slack:
            keep.append(entry)
            continue
        if due < at - slack:
            continue  # its outcome was never observed (a skipped pass): nothing to learn
        k, scale, b = int(entry[1]), entry[2], int(entry[3])
        state.scored[b * LEADS + k] += 1.0
        # Until a lead has hours of outcomes its memories are plain means, so they leave their seeds at once.
        seen = sum(state.scored[j * LEADS + k] for j in range(BANDS))
        a_err, a_tail = max(w_err, 1.0 / seen), max(w_tail, 1.0 / state.scored[b * LEADS + k])
        for f in range(FORECASTERS):
            i = f * LEADS + k
            t = tail_cell(f, k, b)
            z = (value - entry[4 + f]) / scale  # error in noise units at the level it was made at
            noise = max(state.err[i], MIN_NOISE)
            threshold = JUMP * noise
            if not censored:
                state.err[i] += a_err * (min(abs(z), threshold) - state.err[i])
            jump = censored or z > threshold
            state.rate[t] += a_tail * (float(jump) - state.rate[t])
            if jump:
                excess = max(0.0, z - threshold)
                if censored:
                    excess = max(excess, state.excess[t])  # a lower bound: never evidence of smaller jumps
                state.jumps[t] += 1.0
                a_jump = max(w_tail, 1.0 / state.jumps[t])  # jumps are rare: a plain mean until there are many
                state.excess[t] += a_jump * (excess - state.excess[t])
                state.excess2[t] += a_jump * (excess * excess - state.excess2[t])
            missed = censored or z > entry[4 + FORECASTERS + f]
            adjust = state.adjust[i] + (step * (1.0 - alpha) if missed else -step * alpha)
            state.adjust[i] = min(MAX_ADJUST, max(-MAX_ADJUST, adjust))
    state.pending = keep


def margin_units(state: WorkloadState, f: int, k: int, alpha: float, b: int | None = None) -> float:
    """The calibrated margin in noise units at lead `k` for forecaster `f`, with the jump tail of level band
    `b` (the band the state is in now, unless given).

    Misses come from the body (ordinary noise, below `JUMP` noise scales, taken as Laplace with the
    observed mean absolute error) and from the tail (jumps: their observed rate, and the mean and spread
    of how far they went past the threshold). When jumps alone happen more often than `alpha`, the
    margin is the point that only `alpha / rate` of the jumps exceed (a normal approximation of the
    excess: an exponential one charges five times the mean to light-tailed jumps, such as a coarse
    source's steps); otherwise the body gets what the jumps leave of the budget. The conformal term (a
    log factor) then corrects the margin by the misses it actually had, which is what covers tails
    heavier than the approximation."""
    i = f * LEADS + k
    noise = max(state.err[i], MIN_NOISE)
    threshold = JUMP * noise
    t = tail_cell(f, k, band(state) if b is None else b)
    rate = state.rate[t]
    if rate >= alpha:
        mean = state.excess[t]
        spread = math.sqrt(max(0.0, state.excess2[t] - mean * mean))
        base = threshold + mean + spread * upper_z(alpha / rate)
    else:
        base = min(threshold, noise * math.log(1.0 / (2.0 * (alpha - rate))))
    return base * math.exp(state.adjust[i])


def margins(state: WorkloadState, params: ForecastParams) -> list[float]:
    """Every forecaster's margin in noise units at the two scored leads (next pass, provisioning lead), computed
    once per decision for `best`, `covers` and `remember`."""
    alpha, b = params.target_miss, band(state)
    return [margin_units(state, f, li, alpha, b) for f in range(FORECASTERS) for li in range(LEADS)]


def _lag(state: WorkloadState, params: ForecastParams) -> float:
    last = state.last_at if state.last_at is not None else 0.0
    return _profile_at(state, last - params.slow_seconds) if state.day else 0.0


def covers(state: WorkloadState, now: float, interval: float, steps: int, params: ForecastParams, which: int,
           units: list[float]) -> list[tuple[float, float]]:
    """(forecast, margin) in replica units for each pass k = 0..steps from `now`. Margins are scored at the
    next pass and at the provisioning lead; passes between take the square-root path between them (errors
    that build up pass by pass grow with the square root of the lead)."""
    scale = norm(state.slow) * math.exp(state.calibration)
    near, far = units[which * LEADS], units[which * LEADS + LEADS - 1]
    lag = _lag(state, params)
    out = []
    for k in range(steps + 1):
        share = math.sqrt(k / steps) if steps > 0 else 1.0
        out.append((point(state, now + k * interval, params, which, lag), (near + (far - near) * share) * scale))
    return out


def upper_z(p: float) -> float:
    """The standard normal point exceeded with probability `p` (Abramowitz & Stegun 26.2.23, error < 5e-4);
    0 at p >= 0.5."""
    if p >= 0.5:
        return 0.0
    t = math.sqrt(-2.0 * math.log(p))
    return t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1.0 + 1.432788 * t + 0.189269 * t * t
                                                                + 0.001308 * t * t * t)


def calibrate(state: WorkloadState, saturated: bool, params: ForecastParams) -> None:
    """The decision's own miss rate, observed live: a pass whose replicas were saturated is a pass whose
    count fell short. Each forecast's margin is calibrated for `target_miss`, but the count kept is the
    largest of several passes' covers, so it misses less often than any one of them: this log factor
    on every margin brings the share of saturated passes to `target_miss` (adaptive conformal inference
    on the decision itself). Called only for passes where the count was above its floor, where the
    margin was what decided (not the later passes of a saturated run, which the saturation inference decided:
    see `recommender._margin_decided`)."""
    alpha, step = params.target_miss, params.calibration_step
    value = state.calibration + (step * (1.0 - alpha) if saturated else -step * alpha)
    state.calibration = min(MAX_CALIBRATION, max(-MAX_CALIBRATION, value))


def best(state: WorkloadState, units: list[float]) -> int:
    """The forecaster with the narrowest calibrated margin at the provisioning lead; of margins that tie, the
    one with the smaller observed error. Margins tie where the errors are below the `MIN_NOISE` floor (a
    smooth series): on a steady ramp "no change" and "fast level" then had the same margin, and the first of
    them, which lags the ramp by its slope times the lead, decided, so the count ran its ready replicas at
    the ramp's edge."""
    far = LEADS - 1
    return min(range(FORECASTERS), key=lambda f: (units[f * LEADS + far], state.err[f * LEADS + far]))


def remember(state: WorkloadState, now: float, interval: float, steps: int, params: ForecastParams,
             units: list[float]) -> None:
    """Keep every forecaster's forecast and margin for the scored leads until the outcome comes."""
    scale, b = norm(state.slow), band(state)
    lag = _lag(state, params)
    leads = ((0, 0), (steps, LEADS - 1)) if steps > 0 else ((0, LEADS - 1),)
    for k, li in leads:
        at = now + k * interval
        forecasts = [point(state, at, params, f, lag) for f in range(FORECASTERS)]
        state.pending.append([at, float(li), scale, float(b), *forecasts,
                              *(units[f * LEADS + li] for f in range(FORECASTERS))])
    if len(state.pending) > PENDING_LIMIT:  # a stalled clock must not grow the state without bound
        del state.pending[: len(state.pending) - PENDING_LIMIT]
