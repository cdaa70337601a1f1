"""Month-end spend forecast with an interval, fitted on closed days.

Run-rate first: the mean of the last seven known days, projected over the days left. Where two weeks or
more are known, each weekday gets its own factor (mean spend on that weekday over the mean of all days,
from up to eight weeks), so a tenant busy on weekdays is not forecast to spend its Tuesday on Sunday. The
interval comes from the spread of one-day-ahead errors on the fitted history, widened by the square root of
the days remaining (errors of different days partly cancel). The model is refitted once a day; applying
it at any moment of the month is a handful of additions.
"""

from __future__ import annotations

import calendar
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

LEVEL_DAYS = 7
SEASONAL_MIN_DAYS = 14
FIT_DAYS = 56
Z80 = 1.2816  # two-sided 80% interval


@dataclass(frozen=True, slots=True)
class ForecastModel:
    """Daily spend model: `level` (USD per average day), weekday factors (Monday first) and the
    standard deviation of a day's error."""

    level: float
    factors: tuple[float, ...]
    sigma: float
    days: int  # known days it was fitted on
    method: str  # "run-rate" | "seasonal" | "none"

    def day(self, d: date) -> float:
        return self.level * self.factors[d.weekday()]

    def to_json(self) -> dict[str, Any]:
        return {"l": self.level, "f": list(self.factors), "s": self.sigma, "n": self.days, "m": self.method}

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> ForecastModel:
        if not raw:
            return EMPTY
        return ForecastModel(float(raw["l"]), tuple(float(f) for f in raw["f"]), float(raw["s"]), int(raw["n"]),
                             str(raw["m"]))


EMPTY = ForecastModel(0.0, (1.0,) * 7, 0.0, 0, "none")


def fit(days: Sequence[tuple[date, float | None]]) -> ForecastModel:
    """Fit on closed days, oldest first (None = unknown day, skipped)."""
    known = [(d, v) for d, v in days[-FIT_DAYS:] if v is not None]
    if not known:
        return EMPTY
    values = [v for _, v in known]
    level = statistics.fmean(values[-LEVEL_DAYS:])
    factors: tuple[float, ...] = (1.0,) * 7
    method = "run-rate"
    if len(known) >= SEASONAL_MIN_DAYS:
        mean_all = statistics.fmean(values)
        if mean_all > 0:
            by_day: dict[int, list[float]] = {}
            for d, v in known:
                by_day.setdefault(d.weekday(), []).append(v)
            factors = tuple(statistics.fmean(by_day[w]) / mean_all if by_day.get(w) else 1.0 for w in range(7))
            method = "seasonal"
    # One-day-ahead errors: each day against the level of the (up to) seven known days before it.
    errors = []
    for i in range(1, len(known)):
        window = values[max(0, i - LEVEL_DAYS):i]
        errors.append(values[i] - statistics.fmean(window) * factors[known[i][0].weekday()])
    sigma = statistics.pstdev(errors) if len(errors) >= 2 else (level * 0.5)
    return ForecastModel(level, factors, sigma, len(known), method)


@dataclass(frozen=True, slots=True)
class MonthForecast:
    """Where a tenant's month is heading."""

    month_to_date: float
    forecast: float
    low: float
    high: float
    budget: float
    burn_rate: float | None  # spend pace / budget pace: 1.0 spends exactly the budget by month end
    elapsed_fraction: float
    method: str
    days_known: int

    def percent_of_budget(self, value: float) -> float | None:
        return value / self.budget * 100 if self.budget > 0 else None


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(now.year, now.month)[1]
    return start, start + timedelta(days=days)


def forecast_month(model: ForecastModel, month_to_date: float, today_so_far: float, now: datetime,
                   budget: float, rate_per_hour: float | None = None) -> MonthForecast:
    """Project the month: spend so far, the rest of today, and every remaining day at the model's rate.

    Before any day has closed there is no model; the current spend rate (`rate_per_hour`, e.g. the last
    pass's) is projected instead, or failing that today's spend over the part of the day gone by.
    """
    start, end = month_bounds(now)
    elapsed = (now - start).total_seconds() / (end - start).total_seconds()
    today = now.date()
    day_fraction = (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 86400
    if model.method == "none":
        # No closed day yet: the best guess is the current rate (a controller that started at noon has not
        # seen the morning, so today's spend over the day gone by would understate it).
        if rate_per_hour is not None:
            rate = rate_per_hour * 24
        else:
            rate = today_so_far / day_fraction if day_fraction > 0 else 0.0
        remaining_days = (end.date() - today).days - 1
        rest = rate * (1 - day_fraction) + rate * remaining_days
        point = month_to_date + rest
        spread = 0.5 * rest
    else:
        rest_today = model.day(today) * (1 - day_fraction)
        remaining = [today + timedelta(days=k) for k in range(1, (end.date() - today).days)]
        rest = rest_today + sum(model.day(d) for d in remaining)
        point = month_to_date + rest
        spread = Z80 * model.sigma * math.sqrt(len(remaining) + (1 - day_fraction))
    burn = month_to_date / (budget * elapsed) if budget > 0 and elapsed > 0 else None
    return MonthForecast(month_to_date, point, max(month_to_date, point - spread), point + spread, budget, burn,
                         elapsed, model.method, model.days)
