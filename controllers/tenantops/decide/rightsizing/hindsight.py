"""Hindsight bounds for docs/benchmarks.md §2: how lean a request plan of a given shape could have been.

A recommender only sees the past; these plans are fitted to the scored days themselves, so no recommender
of the same shape can have less waste at the same risk. They answer whether a `slack_vs_vpa` goal is
within reach of a shape at all before anyone tunes for it:

- `flat per day`: one request per UTC day, knowing that day's usage (what a perfect daily forecast gives);
- `one daily schedule`: one request per UTC hour, the same 24 values on every scored day (the best a
  schedule that repeats each day can do, knowing all of them);
- `schedule per day`: one request per UTC hour of each day, knowing each hour's usage.

Each is the plan with the least waste (sum of max(0, request - usage)) whose overrun rate is at most the
series' `overrun_budget`, found exactly per group of samples (a day, an hour of the day, an hour of a day)
with one Lagrange multiplier on the overruns shared by all groups: a group gives up a sample only where
that saves more waste than the price of one overrun. With a single price the total overruns land on the
lower convex hull, at most the budget and usually a little below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tenantops.structs.usage import Array

BISECTION_STEPS = 60


@dataclass(frozen=True, slots=True)
class _Candidates:
    """Per group, each sample value as a possible request: its waste and overruns, groups contiguous."""

    group: npt.NDArray[np.int64]
    request: Array
    waste: Array
    overruns: Array
    starts: npt.NDArray[np.int64]  # the first candidate of each group


def _candidates(values: Array, groups: npt.NDArray[np.int64]) -> _Candidates:
    order = np.lexsort((values, groups))
    g, u = groups[order], values[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], g.size]
    size = (ends - starts)[np.searchsorted(starts, np.arange(g.size), side="right") - 1]
    first = starts[np.searchsorted(starts, np.arange(g.size), side="right") - 1]
    cumulative = np.cumsum(u)
    before_group = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    # Requesting u[i]: every sample of the group up to the last one equal to it is covered.
    covered_end = np.empty(g.size, dtype=np.int64)
    for s, e in zip(starts, ends, strict=True):
        covered_end[s:e] = s + np.searchsorted(u[s:e], u[s:e], side="right")
    covered = covered_end - first
    covered_sum = cumulative[covered_end - 1] - before_group
    waste = covered * u - covered_sum
    overruns = (first + size - covered_end).astype(np.float64)
    return _Candidates(g, u, waste, overruns, starts)


def _choose(c: _Candidates, price: float) -> tuple[npt.NDArray[np.int64], float]:
    """Per group the candidate with the least waste + price x overruns; and the overruns in all."""
    cost = c.waste + price * c.overruns
    order = np.lexsort((c.overruns, cost, c.group))  # ties: fewer overruns
    chosen = order[np.searchsorted(c.group[order], c.group[c.starts], side="left")]
    return chosen, float(c.overruns[chosen].sum())


def least_waste(values: Array, groups: npt.NDArray[np.int64], budget: float) -> Array:
    """One request per group (returned per sample) with the least waste whose overrun rate is at most `budget`."""
    if values.size == 0:
        return np.empty(0)
    c = _candidates(values, groups)
    allowed = budget * values.size
    low, high = 0.0, float(max(values.max(), 1e-12) * values.size)  # at `high` no overrun pays
    chosen, _ = _choose(c, high)
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        picked, overruns = _choose(c, middle)
        if overruns <= allowed:
            high, chosen = middle, picked
        else:
            low = middle
    keys = c.group[c.starts]  # ascending, one per group, in the order `chosen` is in
    return np.asarray(c.request[chosen][np.searchsorted(keys, groups)], dtype=np.float64)
