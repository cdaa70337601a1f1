"""Spend anomalies: a robust, seasonal baseline and two impact gates.

The baseline of a day is the same weekday of the previous weeks (spend has a weekly rhythm); the
baseline of an hour is the same hour of previous days of the same kind (weekday or weekend). Against it,
the modified z-score 0.6745·(x − median)/MAD (Iglewicz and Hoaglin) flags values beyond `z_threshold`; it
is not dragged by the outliers it is looking for, as a mean and standard deviation would be. An alert
also needs the increase to matter in money *and* in proportion (as AWS Cost Anomaly Detection gates
them), so a small tenant doubling from $2 to $4 pages nobody and a large tenant's 3% wobble neither.
Only increases are anomalies here: a drop in spend is not a cost problem.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_BASELINE = 3  # fewer same-kind observations than this: no verdict (too little history to judge)
WEEKS_BACK = 8
DAYS_BACK_HOURLY = 14
_MEAN_AD_SCALE = 1.253314  # mean absolute deviation -> standard deviation for a normal distribution


def modified_z(x: float, baseline: Sequence[float]) -> tuple[float, float]:
    """(z, median) of `x` against `baseline`.

    MAD = 0 (half the baseline identical) falls back to the mean absolute deviation; when that is 0 too the
    baseline is flat and any increase is infinitely unusual (the impact gates decide whether it matters).
    """
    med = statistics.median(baseline)
    mad = statistics.median(abs(b - med) for b in baseline)
    if mad > 0:
        return 0.6745 * (x - med) / mad, med
    mean_ad = statistics.fmean(abs(b - med) for b in baseline)
    if mean_ad > 0:
        return (x - med) / (_MEAN_AD_SCALE * mean_ad), med
    if x > med:
        return math.inf, med
    return (-math.inf if x < med else 0.0), med


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one period's spend; `anomalous` only when z and both impact gates agree."""

    actual: float
    expected: float
    z: float
    impact_usd: float
    impact_percent: float  # inf when the expected spend is 0
    anomalous: bool
    baseline_size: int


def judge(
    actual: float,
    baseline: Sequence[float],
    *,
    z_threshold: float,
    min_impact_usd: float,
    min_impact_percent: float,
) -> Verdict | None:
    """Judge `actual` (USD) against `baseline` (USD); None when the baseline is too short to judge."""
    if len(baseline) < MIN_BASELINE:
        return None
    z, med = modified_z(actual, baseline)
    impact = actual - med
    percent = impact / med * 100 if med > 0 else (math.inf if impact > 0 else 0.0)
    anomalous = z > z_threshold and impact >= min_impact_usd and percent >= min_impact_percent and impact > 0
    return Verdict(actual, med, z, impact, percent, anomalous, len(baseline))


def daily_baseline(days: Sequence[float | None], index: int, weeks: int = WEEKS_BACK) -> list[float]:
    """Known spend on the same weekday as `days[index]` in up to `weeks` previous weeks.

    With fewer than `MIN_BASELINE` such days (a young tenant), the previous 14 days of any weekday stand in,
    which is robust enough to catch a step and better than staying blind for three weeks.
    """
    same = [v for k in range(1, weeks + 1) if index - 7 * k >= 0 and (v := days[index - 7 * k]) is not None]
    if len(same) >= MIN_BASELINE:
        return same
    return [v for k in range(1, 15) if index - k >= 0 and (v := days[index - k]) is not None]


def is_weekend_hour(epoch_hour: int) -> bool:
    """Whether an epoch hour falls on a Saturday or Sunday (UTC); 1970-01-01 was a Thursday."""
    return (epoch_hour // 24 + 3) % 7 >= 5


def hourly_baseline(
    hours: Sequence[float | None], index: int, hour0: int, days_back: int = DAYS_BACK_HOURLY
) -> list[float]:
    """Known spend at the same hour of day on previous days of the same kind (weekday or weekend).

    `hours[i]` is epoch hour `hour0 + i`. Falls back to every previous day's same hour when too few days of
    the same kind are known.
    """
    kind = is_weekend_hour(hour0 + index)
    prior = [index - 24 * k for k in range(1, days_back + 1) if index - 24 * k >= 0]
    same = [v for i in prior if is_weekend_hour(hour0 + i) == kind and (v := hours[i]) is not None]
    if len(same) >= MIN_BASELINE:
        return same
    return [v for i in prior if (v := hours[i]) is not None]
