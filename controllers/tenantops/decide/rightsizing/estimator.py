"""Weighted statistics over a usage history: the building blocks the recommender and the baselines share.

Samples are weighted by age with an exponential decay (weight 1 at `now`, 1/2 one half-life earlier),
as the VPA recommender's histograms are, so a workload that changed last week is judged mostly on what
it does now. Everything is exact (sorted samples, no histogram buckets): histories are at most a few
thousand points per workload, and exactness is what makes the property tests meaningful.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tenantops.structs.usage import Array

HOUR = 3600.0
DAY = 86400.0


def decay_weights(times: Array, now: float, half_life_hours: float) -> Array:
    """Weight of each sample: 2^(-(now - t) / half-life). Samples after `now` count as at `now`."""
    age = np.maximum(0.0, now - times)
    return np.asarray(np.exp2(-age / (half_life_hours * HOUR)), dtype=np.float64)


def weighted_percentile(values: Array, weights: Array, q: float) -> float:
    """The smallest value whose cumulative weight reaches `q` of the total (q = 1 gives the maximum).

    This is the step-function definition the VPA histograms approximate; it is monotone in `q` and always
    returns one of the samples, so a request is never below every observation when q > 0.
    """
    return weighted_percentiles(values, weights, (q,))[0]


def weighted_percentiles(values: Array, weights: Array, qs: Sequence[float]) -> list[float]:
    """`weighted_percentile` at several `qs` with one sort (the recommender asks for a few at a time)."""
    if values.size == 0:
        raise ValueError("no samples")
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    cumulative = np.cumsum(weights[order])
    total = float(cumulative[-1])
    out = []
    for q in qs:
        if q >= 1.0 or total <= 0:
            out.append(float(ordered[-1]))
            continue
        index = int(np.searchsorted(cumulative, q * total * (1 - 1e-12), side="left"))
        out.append(float(ordered[min(index, values.size - 1)]))
    return out


def hour_of_day(times: Array) -> npt.NDArray[np.int64]:
    """UTC hour (0..23) of each timestamp (unix seconds)."""
    return np.asarray((np.mod(times, DAY) // HOUR).astype(np.int64))


def hourly_profile(times: Array, values: Array, weights: Array, q: float, window_hours: int) -> Array | None:
    """Per UTC hour, the weighted `q`-percentile of samples within `window_hours` of that hour (wrapping).

    None when some hour has no samples at all: a schedule is only offered once every hour has been seen.
    """
    profiles = hourly_profiles(times, values, weights, (q,), window_hours)
    return None if profiles is None else np.asarray(profiles[0], dtype=np.float64)


def hourly_profiles(times: Array, values: Array, weights: Array, qs: Sequence[float],
                    window_hours: int) -> Array | None:
    """`hourly_profile` at several percentiles: shape (len(qs), 24)."""
    hours = hour_of_day(times)
    profile = np.empty((len(qs), 24), dtype=np.float64)
    for hour in range(24):
        distance = np.minimum((hours - hour) % 24, (hour - hours) % 24)
        selected = distance <= window_hours
        if not selected.any():
            return None
        profile[:, hour] = weighted_percentiles(values[selected], weights[selected], qs)
    return profile
