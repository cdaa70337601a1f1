"""How much capacity to commit to (Savings Plans / Reserved Instances), and what may run on spot.

A commitment is paid every hour of its term whether it is used or not, at the reserved rate `r` instead of
the on-demand rate `d`. Committing one more unit pays off exactly when that unit is in use in more than
`r / d` of the hours (the break-even utilisation). So the cost-minimising commitment over an expected
distribution of hourly usage is its `1 - r/d` quantile (the newsvendor rule): every unit under it is used
often enough to pay, every unit above it is not. The steady floor (the minimum) is always below that level,
which is why the usual rule of thumb, "commit to the minimum of the last 30 days", leaves money on the table
when usage varies, and why committing to the mean overpays when it varies a lot.

The expected hourly usage over the term is the recent hour-of-week profile scaled by the forecast's trend
(the ratio of forecast to recent daily level), so a shrinking workload gets a smaller commitment. Risk is
stated as the expected unused share of the commitment and its cost in the forecast band's low case.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

HOURS_PER_WEEK = 168


@dataclass(frozen=True, slots=True)
class CommitmentCost:
    """Cost of serving `usage` (units per hour) with `commit` units committed."""

    committed_usd: float
    on_demand_usd: float
    unused_unit_hours: float

    @property
    def total_usd(self) -> float:
        return self.committed_usd + self.on_demand_usd


def cost_with(usage: Sequence[float], commit: float, on_demand: float, reserved: float) -> CommitmentCost:
    """Every hour pays `commit` units at `reserved`; usage above it pays `on_demand`."""
    over = sum(max(0.0, u - commit) for u in usage)
    unused = sum(max(0.0, commit - u) for u in usage)
    return CommitmentCost(commit * reserved * len(usage), over * on_demand, unused)


def break_even(on_demand: float, reserved: float) -> float:
    """The share of hours a committed unit must be used to cost no more than on-demand."""
    return reserved / on_demand if on_demand > 0 else 1.0


def optimal_commitment(usage: Sequence[float], on_demand: float, reserved: float) -> float:
    """The `1 - reserved/on_demand` quantile of hourly usage, in whole units (rounded down: a unit that is
    only partly above the quantile does not pay)."""
    if not usage or on_demand <= 0 or reserved >= on_demand:
        return 0.0
    ordered = sorted(usage)
    q = 1.0 - break_even(on_demand, reserved)
    index = min(len(ordered) - 1, max(0, math.floor(q * len(ordered))))
    return float(math.floor(ordered[index] + 1e-9))


def rule_of_thumb(usage: Sequence[float], hours: int = 30 * 24) -> float:
    """The usual rule: commit to the minimum hourly usage of the last 30 days."""
    recent = list(usage[-hours:])
    return float(math.floor(min(recent))) if recent else 0.0


def expected_usage(history: Sequence[float], trend_ratio: float, hours: int) -> list[float]:
    """Hourly usage expected over the next `hours`: the last four weeks' hour-of-week profile (each hour of
    the week the mean of its samples) repeated, scaled by `trend_ratio`. `history` ends just before the
    first hour to forecast and its length fixes the phase of the week."""
    n = len(history)
    if n == 0:
        return [0.0] * hours
    recent = history[-4 * HOURS_PER_WEEK:]
    offset = n - len(recent)
    sums = [0.0] * HOURS_PER_WEEK
    counts = [0] * HOURS_PER_WEEK
    for i, u in enumerate(recent):
        slot = (offset + i) % HOURS_PER_WEEK
        sums[slot] += u
        counts[slot] += 1
    mean = sum(recent) / len(recent)
    profile = [sums[s] / counts[s] if counts[s] else mean for s in range(HOURS_PER_WEEK)]
    scale = max(0.0, trend_ratio)
    return [profile[(n + h) % HOURS_PER_WEEK] * scale for h in range(hours)]


@dataclass(frozen=True, slots=True)
class CommitmentAdvice:
    """One commitment suggestion for a region and instance family (units: instances of `instance_type`)."""

    region: str
    family: str
    instance_type: str
    units: float
    hourly_commitment_usd: float
    term_years: int
    break_even_utilisation: float
    expected_saving_usd_month: float
    expected_unused_share: float
    floor_units: float  # the steady floor (minimum of the recent hourly usage), for comparison
    reason: str


def advise(region: str, instance_type: str, history: Sequence[float], trend_ratio: float, on_demand: float,
           reserved: float, term_years: int) -> CommitmentAdvice:
    """A commitment for one region/instance type from its hourly usage history (instances per hour)."""
    family = instance_type.split(".", 1)[0]
    month_hours = 730
    expected = expected_usage(history, trend_ratio, month_hours)
    units = optimal_commitment(expected, on_demand, reserved)
    base = cost_with(expected, 0.0, on_demand, reserved).total_usd
    with_commit = cost_with(expected, units, on_demand, reserved)
    unused_share = with_commit.unused_unit_hours / (units * month_hours) if units else 0.0
    floor = float(math.floor(min(history[-30 * 24:]))) if history else 0.0
    be = break_even(on_demand, reserved)
    if units <= 0:
        reason = ("no commitment: usage is not steady enough for a committed unit to be used in "
                  f"{be:.0%} of the hours")
    else:
        reason = (f"commit {units:g} x {instance_type}: each is expected in use at least {be:.0%} of the hours "
                  f"(break-even); the steady floor is {floor:g}")
    return CommitmentAdvice(
        region, family, instance_type, units, round(units * reserved, 4), term_years, round(be, 4),
        round(base - with_commit.total_usd, 2), round(unused_share, 4), floor, reason,
    )


@dataclass(frozen=True, slots=True)
class SpotAdvice:
    tenant: str
    workload: str
    eligible: bool
    monthly_usd: float
    saving_usd_month: float
    reason: str


def spot_saving(monthly_on_demand_usd: float, on_demand: float, spot: float | None) -> float:
    """What running the same hours on spot would save at the pricing policy's spot price."""
    if spot is None or on_demand <= 0:
        return 0.0
    return max(0.0, monthly_on_demand_usd * (1 - spot / on_demand))
