"""Daily forecasts months ahead, with an interval taken from the errors the method actually made.

The month-end budget forecast (`decide/cost/forecast.py`) only has to reach the end of this month; capacity
planning looks six months out, where a trend matters as much as the week's shape. The model, per series of
daily values (spend, replica-hours, instance-hours):

- weekly seasonality (a factor per weekday, from up to eight weeks) once two weeks are known;
- a level (the mean of the last seven deseasonalised days) and a robust trend (Theil-Sen slope over up to
  eight weeks), damped by `DAMPING` per day so a slope measured over weeks is not extrapolated unchecked
  over months;
- the interval: rolling-origin errors of this very method on the series' own past (refit at each origin,
  scored at horizons 1..`ERROR_HORIZON` days), as relative errors; their empirical quantiles give the band,
  widened by the square root of the horizon beyond the horizons measured. With too little history to
  measure errors the band is the spread of the known days.

Forecasts are never negative and the band always contains the point. The seasonal-naive baseline (each
weekday as it was a week earlier) lives here too, so back-tests compare against it with the same code.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SEASONAL_MIN_DAYS = 14
FIT_DAYS = 56
LEVEL_DAYS = 7
SEASON_HALF_LIFE = 10.0
DAMPING = 0.985  # per day: the trend's effect halves about every 46 days
ERROR_HORIZON = 14
SCORED_MIN_DAYS = 28
ERROR_ORIGINS = 28
MIN_ERRORS = 6


@dataclass(frozen=True, slots=True)
class DailyForecast:
    """Point forecast and band for each day after the history, oldest first; `coverage` of the band."""

    point: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    coverage: float
    method: str  # "seasonal-trend" | "trend" | "level" | "none"

    def __len__(self) -> int:
        return len(self.point)


@dataclass(frozen=True, slots=True)
class _Model:
    level: float
    slope: float
    factors: tuple[float, ...]  # by position in the week relative to day 0 of the history
    method: str

    def at(self, n_history: int, horizon: int) -> float:
        """Forecast for the day `horizon` (1-based) after a history of `n_history` days."""
        damped = sum(DAMPING**i for i in range(1, horizon + 1)) if self.slope else 0.0
        # The level is the mean of the last LEVEL_DAYS days, i.e. centred (LEVEL_DAYS-1)/2 days back.
        value = self.level + self.slope * ((LEVEL_DAYS - 1) / 2 + damped)
        return max(0.0, value * self.factors[(n_history + horizon - 1) % 7])


def _theil_sen(points: Sequence[tuple[int, float]]) -> float:
    """Median slope per day between weekly means (at most eight: cheap, and robust to a bad day or week)."""
    if not points:
        return 0.0
    last = points[-1][0]
    weeks: dict[int, list[tuple[int, float]]] = {}
    for i, v in points:
        weeks.setdefault((last - i) // 7, []).append((i, v))
    means = [(statistics.fmean(i for i, _ in w), statistics.fmean(v for _, v in w)) for w in weeks.values()]
    slopes = [(b[1] - a[1]) / (b[0] - a[0]) for k, a in enumerate(means) for b in means[k + 1:] if b[0] != a[0]]
    return statistics.median(slopes) if slopes else 0.0


def _fit(values: Sequence[float | None]) -> _Model:
    n = len(values)
    window = [(i, float(v)) for i, v in enumerate(values) if v is not None and i >= n - FIT_DAYS]
    if not window:
        return _Model(0.0, 0.0, (1.0,) * 7, "none")
    factors = [1.0] * 7
    method = "level"
    mean_all = statistics.fmean(v for _, v in window)
    if len(window) >= SEASONAL_MIN_DAYS and mean_all > 0:
        # Weekday factors are ratios to the series' own trend line (a growing series would otherwise make its
        # later weekdays look busier), weighted towards recent weeks (half-life SEASON_HALF_LIFE days) so a
        # weekly shape that moves (a holiday, a customer changing its batch day) is followed within weeks.
        raw_slope = _theil_sen(window)
        intercept = statistics.median(v - raw_slope * i for i, v in window)
        sums = [0.0] * 7
        weights = [0.0] * 7
        for i, v in window:
            base = intercept + raw_slope * i
            if base <= 0:
                continue
            w = 0.5 ** ((n - 1 - i) / SEASON_HALF_LIFE)
            sums[i % 7] += w * v / base
            weights[i % 7] += w
        ratios = [sums[p] / weights[p] if weights[p] else 1.0 for p in range(7)]
        mean_ratio = statistics.fmean(ratios)
        if mean_ratio > 0:
            factors = [r / mean_ratio for r in ratios]
            method = "seasonal-trend"
    deseason = [(i, v / factors[i % 7] if factors[i % 7] > 0 else v) for i, v in window]
    recent = [v for i, v in deseason if i >= n - LEVEL_DAYS]
    level = statistics.fmean(recent) if recent else statistics.fmean(v for _, v in deseason)
    slope = 0.0
    if len(deseason) >= LEVEL_DAYS * 2:
        slope = _theil_sen(deseason)
        if method == "level":
            method = "trend"
    return _Model(level, slope, tuple(factors), method)


def _trend_points(values: Sequence[float | None], horizon: int) -> list[float]:
    model = _fit(values)
    return [model.at(len(values), h) for h in range(1, horizon + 1)]


def _level_points(values: Sequence[float | None], horizon: int) -> list[float]:
    model = _fit(values)
    flat = _Model(model.level, 0.0, model.factors, model.method)
    return [flat.at(len(values), h) for h in range(1, horizon + 1)]


def _naive_points(values: Sequence[float | None], horizon: int) -> list[float]:
    """Each weekday as it was when last known. A weekday never known (a history under a week, or its days
    all unknown) is the mean of the known days, not zero: with three days of history four weekdays in seven
    were forecast at nothing, and the combined forecast at half the level (a plan 29% short)."""
    n = len(values)
    known = [float(v) for v in values if v is not None]
    unseen = statistics.fmean(known) if known else 0.0
    week: list[float] = []
    for p in range(7):
        # the most recent known value at this position of the last week
        found = next((values[i] for i in range(n - 7 + p, -1, -7) if 0 <= i < n and values[i] is not None), None)
        week.append(float(found) if found is not None else unseen)
    return [week[(h - 1) % 7] for h in range(1, horizon + 1)]


def _combined_points(values: Sequence[float | None], horizon: int) -> list[float]:
    """The mean of the seasonal level and the seasonal-naive forecasts: combining two forecasts whose
    errors differ in kind (smoothed shape vs the last week as it was) is reliably better than either alone."""
    return [(a + b) / 2 for a, b in zip(_level_points(values, horizon), _naive_points(values, horizon), strict=True)]


Method = Callable[[Sequence[float | None], int], list[float]]
METHODS: dict[str, Method] = {"seasonal-trend": _trend_points, "seasonal-level": _level_points,
                              "combined": _combined_points, "seasonal-naive": _naive_points}


@dataclass(frozen=True, slots=True)
class _PastErrors:
    by_horizon: dict[int, list[float]]  # relative errors (actual / forecast - 1)
    wape: float  # sum |actual - forecast| / sum actual over every scored day (inf when none)


def _past_errors(values: Sequence[float | None], method: Method) -> _PastErrors:
    """How `method` did on the series' own past: refit at each of the last origins, scored at horizons
    1..ERROR_HORIZON. Absolute errors pick the method (relative ones explode near zero: an outage day
    copied forward by the naive rule); relative errors make the band."""
    n = len(values)
    out: dict[int, list[float]] = {}
    abs_sum = actual_sum = 0.0
    first = max(LEVEL_DAYS + 1, n - ERROR_ORIGINS - ERROR_HORIZON)
    for origin in range(first, n):
        points = method(values[:origin], min(ERROR_HORIZON, n - origin))
        for h, predicted in enumerate(points, start=1):
            actual = values[origin + h - 1]
            if actual is None:
                continue
            abs_sum += abs(actual - predicted)
            actual_sum += actual
            if predicted > 0:
                out.setdefault(h, []).append(actual / predicted - 1.0)
    scored = sum(len(v) for v in out.values())
    wape = abs_sum / actual_sum if actual_sum > 0 and scored >= MIN_ERRORS else math.inf
    return _PastErrors(out, wape)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _conformal(sorted_values: Sequence[float], q: float, *, low: bool) -> float:
    """The split-conformal quantile: with n past errors, the ceil((n+1)q)/n-th (or its mirror for the low
    side), so a band drawn from few errors is wider, as it should be, instead of overconfident."""
    n = len(sorted_values)
    if n == 0:
        return 0.0
    if low:
        rank = math.floor((n + 1) * q) - 1  # 0-based; below 0 means "beyond the smallest error seen"
        return sorted_values[max(0, rank)]
    rank = math.ceil((n + 1) * q) - 1
    return sorted_values[min(n - 1, rank)]


def _band(points: Sequence[float], errors: dict[int, list[float]], known: Sequence[float],
          coverage: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    lo_q, hi_q = (1 - coverage) / 2, 1 - (1 - coverage) / 2
    pooled = sorted(e for es in errors.values() for e in es)
    measured = max(errors) if errors else 1
    if len(pooled) < MIN_ERRORS:
        mean = statistics.fmean(known) if known else 0.0
        spread = statistics.pstdev(known) / mean if len(known) >= 2 and mean > 0 else 0.5
    lows: list[float] = []
    highs: list[float] = []
    for h, p in enumerate(points, start=1):
        if len(pooled) >= MIN_ERRORS:
            own = errors.get(min(h, measured), [])
            bucket = sorted(own) if len(own) >= MIN_ERRORS else pooled
            widen = math.sqrt(h / measured) if h > measured else 1.0
            e_lo, e_hi = _conformal(bucket, lo_q, low=True) * widen, _conformal(bucket, hi_q, low=False) * widen
        else:
            z = statistics.NormalDist().inv_cdf(hi_q)
            e_lo, e_hi = -z * spread * math.sqrt(h), z * spread * math.sqrt(h)
        lows.append(max(0.0, p * (1 + min(0.0, e_lo))))
        highs.append(max(p, p * (1 + max(0.0, e_hi))))
    return tuple(lows), tuple(highs)


def forecast_daily(values: Sequence[float | None], horizon: int, coverage: float = 0.8,
                   methods: Sequence[str] = tuple(METHODS)) -> DailyForecast:
    """Forecast `horizon` days after `values` (daily, oldest first, None = unknown day).

    Each candidate method is scored on the series' own past (rolling origins, horizons 1..14); the one with
    the smallest weighted absolute error (WAPE) forecasts, and its own errors make the band. With too little
    history to score, the combined forecast is used.
    """
    if horizon <= 0:
        return DailyForecast((), (), (), coverage, "none")
    known = [float(v) for v in values if v is not None]
    if not known:
        return DailyForecast((0.0,) * horizon, (0.0,) * horizon, (0.0,) * horizon, coverage, "none")
    if len(values) < SCORED_MIN_DAYS and "combined" in methods:
        # Under four weeks the models that would forecast (seasonal, trended: they need two weeks to fit) were
        # never the ones scored at the earlier origins, so the scores say nothing: use the combination.
        methods = ("combined",)
    scored = [(name, _past_errors(values, METHODS[name])) for name in methods]
    best, past = min(scored, key=lambda item: item[1].wape)
    errors = past.by_horizon if past.wape != math.inf else {}
    if past.wape == math.inf:  # too short to score: the combination is the safest single choice
        best = "combined" if "combined" in methods else methods[0]
    points = [max(0.0, p) for p in METHODS[best](values, horizon)]
    low, high = _band(points, errors, known, coverage)
    return DailyForecast(tuple(points), low, high, coverage, best)


def seasonal_naive(values: Sequence[float | None], horizon: int, coverage: float = 0.8) -> DailyForecast:
    """The baseline: each day as the same weekday in the last known week, with a band from its own errors."""
    return forecast_daily(values, horizon, coverage, methods=("seasonal-naive",))
