"""Forecasting a series whose source is sampled more coarsely than the controller decides.

Many demand signals are recorded every 5 or 30 minutes (CloudWatch periods, business counters, exported
traces) while the controller decides every minute. Between two source samples such a series carries no
new information: replayed with linear interpolation (as `tenantops simulate` resamples recorded traces),
its slope only changes at the source's sample times.
The forecaster learns that sample period and its phase from the series itself (where the slope changes,
and how far apart those changes are), trusts the current slope up to the next source sample, and spends
margin only on what lies beyond it. A series whose slope changes at every observation (any ordinary
scrape) never shows a period, and this module stays out of the way; so does a held (stepped) source,
whose slope changes twice per sample.

Margins are conformal per "steps beyond the last known value" bucket: a forecast that lies entirely
inside the current segment needs almost none, one that reaches one or more source samples ahead needs a
margin learnt from how far the series has moved at such samples before. Errors are measured relative to
the square root of the level (counting noise grows with the square root of a rate), so the margin follows
the level at once rather than lagging the error memory.
"""

from __future__ import annotations

import math

from tenantops.decide.autoscaling.state import SEGMENT_BUCKETS, WorkloadState

MAX_PERIOD_SECONDS = 2 * 86400.0  # up to daily sources; spacings longer than this are outages, not a period
MAX_GAPS = 8  # sample spacings remembered (weights), lightest dropped first
GAP_DECAY = 0.98  # older spacings count less, so a source that changes its period is followed
MIN_EVIDENCE = 3.0  # weight of the winning spacing before it is trusted
MIN_SHARE = 0.6  # ...and its share of all weight
CONTINUATION = 0.5  # beyond the next source sample the slope goes on at this strength until one is learnt
SLOPE_WEIGHT = 0.02  # memory of how slopes carry over from one source sample to the next (~50 samples)
ERROR_SECONDS = 3 * 3600.0  # memory of the error scale
QUANTILE_STEP = 0.1
MAX_QUANTILE = 12.0
INITIAL_QUANTILE = 3.0
SCALE_EXPONENT = 0.5
RELATIVE_TOLERANCE = 1e-9  # slope changes smaller than this (relative) are rounding, not a source sample
PENDING_LIMIT = 16


def learn(state: WorkloadState, value: float, at: float) -> None:
    """Fold in a new observation *before* `observe` moves `last_value`/`slope` on: a change of slope at
    the previous observation marks a source sample there."""
    if state.last_at is None or state.count < 2:
        return
    dt = at - state.last_at
    if dt <= 0:
        return
    state.step = dt
    slope = (value - state.last_value) / dt
    if abs(slope - state.slope) * dt <= RELATIVE_TOLERANCE * max(1.0, abs(value)):
        return
    knot = state.last_at
    if state.knot_at is not None and abs(knot - state.knot_at) > 0.5 * dt:
        # How the slope after a source sample relates to the one before it (a trend goes on, a sawtooth
        # turns back): a running regression of next slope on previous slope, one update per sample.
        before = state.slope
        state.seg_cov += SLOPE_WEIGHT * (before * slope - state.seg_cov)
        state.seg_var += SLOPE_WEIGHT * (before * before - state.seg_var)
    if state.knot_at is not None:
        gap = round(knot - state.knot_at)
        if 0 < gap <= MAX_PERIOD_SECONDS:
            _count_gap(state, float(gap))
    state.knot_at = knot


def _count_gap(state: WorkloadState, gap: float) -> None:
    gaps = state.gaps
    for entry in gaps:
        entry[1] *= GAP_DECAY
    for entry in gaps:
        if entry[0] == gap:
            entry[1] += 1.0
            break
    else:
        gaps.append([gap, 1.0])
        if len(gaps) > MAX_GAPS:
            gaps.remove(min(gaps, key=lambda e: e[1]))
    total = sum(e[1] for e in gaps)
    top = max(gaps, key=lambda e: e[1])
    state.period = top[0] if top[1] >= MIN_EVIDENCE and top[1] >= MIN_SHARE * total else 0.0


def active(state: WorkloadState, lead: float = 0.0) -> bool:
    """A source period clearly longer than the observation step has been learnt, and longer than `lead`
    (seconds from the newest observation to when replicas asked for now serve). A shorter period leaves
    almost every forecast past the next source sample, where this model knows no more than the general
    forecasters, which also keep the scale-down window's protection against noise."""
    return (state.period > max(1.5 * state.step, lead) and state.step > 0 and state.knot_at is not None
            and state.last_at is not None)


def _known(state: WorkloadState) -> tuple[float, float, float]:
    """(known_until, value there, slope): how far the current segment is certain, from the last observation."""
    assert state.knot_at is not None and state.last_at is not None
    period = state.period
    since = (state.last_at - state.knot_at) % period  # time since the latest source sample
    slack = 0.25 * state.step
    if since < slack or period - since < slack:
        # The newest observation is itself a source sample: the slope after it is not known yet.
        return state.last_at, state.last_value, state.slope
    until = state.last_at - since + period
    return until, state.last_value + state.slope * (until - state.last_at), state.slope


def point(state: WorkloadState, at: float) -> tuple[float, int]:
    """Forecast demand at `at` and the margin bucket it falls in (0 = inside the known segment)."""
    assert state.last_at is not None
    until, base, slope = _known(state)
    if at <= until + 1e-6:
        return max(0.0, state.last_value + slope * (at - state.last_at)), 0
    beyond = at - until
    bucket = min(SEGMENT_BUCKETS - 1, max(1, math.ceil(beyond / state.step - 1e-6)))
    return max(0.0, base + continuation(state) * slope * beyond), bucket


def continuation(state: WorkloadState) -> float:
    """Share of the current slope expected to carry on past the next source sample, in [-1, 1]."""
    if state.seg_var <= 0:
        return CONTINUATION
    return max(-1.0, min(1.0, state.seg_cov / state.seg_var))


def _norm(state: WorkloadState) -> float:
    return float(max(1.0, abs(state.last_value)) ** SCALE_EXPONENT)


def seed(state: WorkloadState, error: float) -> None:
    """Start the margins from the general forecasters' error (`error`, replica units at the provisioning
    lead) the first time a period is trusted, so the first segments are not forecast with no margin."""
    if not state.seg_mae:
        state.seg_mae = [0.0] + [error / _norm(state)] * (SEGMENT_BUCKETS - 1)
        state.seg_q = [INITIAL_QUANTILE] * SEGMENT_BUCKETS
        state.seg_n = [0.0] * SEGMENT_BUCKETS


def _scale(state: WorkloadState, bucket: int, norm: float) -> float:
    if bucket == 0:
        return max(state.seg_mae[0] * norm, 1e-6)
    return max(state.seg_mae[bucket] * norm, 0.01 * abs(state.last_value), 0.02)


def upper(state: WorkloadState, at: float) -> tuple[float, float, int]:
    """(forecast, margin, bucket) for `at`; the forecast is remembered to calibrate the margin when due."""
    value, bucket = point(state, at)
    norm = _norm(state)
    width = state.seg_q[bucket] * _scale(state, bucket, norm)
    state.seg_pending.append([at, value, float(bucket), norm])
    if len(state.seg_pending) > PENDING_LIMIT:
        del state.seg_pending[0]
    return value, width, bucket


def settle(state: WorkloadState, value: float, at: float, target_miss: float) -> None:
    """Score the segment forecasts that have come due against `value` observed at `at`."""
    if not state.seg_pending or not state.seg_mae:
        return
    slack = 0.5 * state.step if state.step > 0 else 0.0
    elapsed = at - state.last_at if state.last_at is not None else state.step
    weight = 1.0 - math.exp(-max(1.0, elapsed) / ERROR_SECONDS)
    keep: list[list[float]] = []
    for entry in state.seg_pending:
        due, forecast, bucket, norm = entry[0], entry[1], int(entry[2]), entry[3]
        if due > at + slack:
            keep.append(entry)
            continue
        if due < at - slack:
            continue  # its outcome was never observed (a skipped pass): nothing to learn
        error = value - forecast
        # Until a bucket has seen a few hours of outcomes its scale is their plain mean, so the margin
        # leaves its seed as soon as real errors come in (an EWMA started from the seed would lag).
        state.seg_n[bucket] += 1.0
        rate = max(weight, 1.0 / state.seg_n[bucket])
        state.seg_mae[bucket] += rate * (abs(error) / norm - state.seg_mae[bucket])
        q = state.seg_q[bucket]
        missed = error > q * _scale(state, bucket, norm)
        q += QUANTILE_STEP * (1.0 - target_miss) if missed else -QUANTILE_STEP * target_miss
        state.seg_q[bucket] = min(MAX_QUANTILE, max(0.0, q))
    state.seg_pending = keep
