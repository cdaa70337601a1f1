"""Back-tests of capacity planning on a recorded demand series (hourly means, oldest first).

The series becomes what a fleet would need: replicas per hour at a capacity per replica of p99 / 30 (the
same scale-free convention as docs/benchmarks.md §1), so hourly replica counts, daily replica-hours.

- **Forecast**: the last `holdout_days` days are forecast from the days before; the figures are the weighted
  absolute percentage error (WAPE) of daily replica-hours and the share of held-out days inside the 80%
  band, for the planner and for the seasonal-naive baseline (each day as the same weekday a week before).
- **Commitment**: hourly replicas are priced as instances; over the held-out period, the cost on demand,
  with the planner's commitment (chosen from the earlier weeks only) and with the rule of thumb (the minimum
  of the last 30 days' hourly usage), and the hindsight-best commitment for reference.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from tenantops.decide.capacity import commitments
from tenantops.decide.capacity.forecast import DailyForecast, forecast_daily, seasonal_naive

REPLICAS_AT_P99 = 30


@dataclass(frozen=True, slots=True)
class ForecastScore:
    wape: float
    coverage: float
    method: str


@dataclass(frozen=True, slots=True)
class CommitmentScore:
    on_demand_usd: float
    planner_units: float
    planner_usd: float
    rule_units: float
    rule_usd: float
    hindsight_units: float
    hindsight_usd: float

    @property
    def planner_saving(self) -> float:
        return 1 - self.planner_usd / self.on_demand_usd if self.on_demand_usd else 0.0

    @property
    def rule_saving(self) -> float:
        return 1 - self.rule_usd / self.on_demand_usd if self.on_demand_usd else 0.0

    @property
    def hindsight_saving(self) -> float:
        return 1 - self.hindsight_usd / self.on_demand_usd if self.on_demand_usd else 0.0


@dataclass(frozen=True, slots=True)
class BacktestResult:
    train_days: int
    holdout_days: int
    planner: ForecastScore
    naive: ForecastScore
    commitment: CommitmentScore


def hourly_replicas(hourly_demand: Sequence[float | None]) -> list[float]:
    """Replicas needed per hour (at least 1); an hour without samples repeats the last known one."""
    known = sorted(v for v in hourly_demand if v is not None)
    if not known:
        return []
    p99 = known[min(len(known) - 1, int(0.99 * (len(known) - 1)))]
    capacity = p99 / REPLICAS_AT_P99 if p99 > 0 else 1.0
    out: list[float] = []
    last = known[0]
    for v in hourly_demand:
        last = v if v is not None else last
        out.append(float(max(1, math.ceil(last / capacity - 1e-9))))
    return out


def _score(actual: Sequence[float], fc: DailyForecast) -> ForecastScore:
    wape = sum(abs(a - p) for a, p in zip(actual, fc.point, strict=True)) / sum(actual) if sum(actual) else 0.0
    inside = sum(1 for a, lo, hi in zip(actual, fc.low, fc.high, strict=True) if lo <= a <= hi)
    return ForecastScore(wape, inside / len(actual) if actual else 0.0, fc.method)


def run(hourly_demand: Sequence[float | None], first_hour_of_day: int, holdout_days: int = 14,
        on_demand: float = 0.096, reserved: float = 0.060, coverage: float = 0.8) -> BacktestResult | None:
    """Back-test on one series whose first element is hour `first_hour_of_day` (0-23, UTC) of its day.
    None when the series is shorter than two held-out periods."""
    usage = hourly_replicas(hourly_demand)
    skip = (24 - first_hour_of_day) % 24  # start at the first whole UTC day
    usage = usage[skip:]
    whole = len(usage) // 24
    usage = usage[: whole * 24]
    if whole < 2 * holdout_days:
        return None
    days = [sum(usage[d * 24:(d + 1) * 24]) for d in range(whole)]
    train, held = days[:-holdout_days], days[-holdout_days:]
    planner = forecast_daily(train, holdout_days, coverage)
    naive = seasonal_naive(train, holdout_days, coverage)
    train_hours, held_hours = usage[: len(train) * 24], usage[len(train) * 24:]
    recent = statistics.fmean(train[-7:])
    trend = statistics.fmean(planner.point) / recent if recent > 0 else 1.0
    expected = commitments.expected_usage(train_hours, trend, len(held_hours))
    chosen = commitments.optimal_commitment(expected, on_demand, reserved)
    rule = commitments.rule_of_thumb(train_hours)
    best = commitments.optimal_commitment(held_hours, on_demand, reserved)
    price = commitments.cost_with
    score = CommitmentScore(
        price(held_hours, 0.0, on_demand, reserved).total_usd,
        chosen, price(held_hours, chosen, on_demand, reserved).total_usd,
        rule, price(held_hours, rule, on_demand, reserved).total_usd,
        best, price(held_hours, best, on_demand, reserved).total_usd,
    )
    return BacktestResult(len(train), holdout_days, _score(held, planner), _score(held, naive), score)
