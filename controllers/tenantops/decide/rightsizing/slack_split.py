"""Where a plan's slack goes: above each day's peak, between the day's peak and the hour's, within the hour.

docs/benchmarks.md §2 scores a plan by its slack alone. Before changing a recommender you need to know
which kind of waste to go after: each plan shape (a flat request per day, a schedule) can take back only
some of it.
Every sample's waste max(0, request - usage) splits exactly into three parts, with D the highest usage of
the sample's UTC day and H that of its UTC clock hour (u <= H <= D):

- `above_day_peak` = max(0, request - D): headroom over what the day needed at all. This is what a
  better forecast of each day's level (or a smaller margin) takes back. A flat request per day that
  knew the day would pay none of it.
- `day_over_hour` = max(0, min(request, D) - H): the day's busy hour held through its quiet hours. Only a
  request that follows the hours (a schedule) takes this back.
- `within_hour` = max(0, min(request, H) - usage): the spread inside one hour. No request per hour takes
  this back without overruns.

Each part is given as a share of the total request, so the three add up to the plan's slack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tenantops.structs.usage import Array


@dataclass(frozen=True, slots=True)
class SlackSplit:
    """A plan's slack in three parts (see the module docstring); they add up to the slack."""

    above_day_peak: float
    day_over_hour: float
    within_hour: float

    @property
    def slack(self) -> float:
        return self.above_day_peak + self.day_over_hour + self.within_hour


def _group_max(values: Array, groups: npt.NDArray[np.int64]) -> Array:
    """Each sample's group maximum."""
    _, index = np.unique(groups, return_inverse=True)
    peaks = np.full(int(index.max()) + 1, -np.inf)
    np.maximum.at(peaks, index, values)
    return np.asarray(peaks[index], dtype=np.float64)


def slack_split(values: Array, requests: Array, days: npt.NDArray[np.int64],
                hours: npt.NDArray[np.int64]) -> SlackSplit | None:
    """The split over the samples with a finite request; `days` and `hours` (0..23) group the samples.

    None when there is no such sample or no request at all.
    """
    mask = np.isfinite(requests)
    if not mask.any():
        return None
    u, r = values[mask], requests[mask]
    total = float(r.sum())
    if total <= 0:
        return None
    day = _group_max(u, days[mask])
    hour = _group_max(u, days[mask] * 24 + hours[mask])
    above = np.maximum(0.0, r - day)
    between = np.maximum(0.0, np.minimum(r, day) - hour)
    within = np.maximum(0.0, np.minimum(r, hour) - u)
    return SlackSplit(float(above.sum()) / total, float(between.sum()) / total, float(within.sum()) / total)
