"""docs/benchmarks.md §2: replay a recommender day by day over a recorded usage series and score it against VPA.

Definitions, exactly as the benchmark states them:
- days are UTC calendar days counted from the day of the first sample (day 0, warm-up, not scored);
- at each day boundary the recommender sees only samples before it; its request holds for that day
  (or, when it returns a daily schedule, for each hour of that day);
- `slack` = sum(max(0, request - usage)) / sum(request); `overrun_rate` = share of samples with
  usage > request, both over the scored days;
- VPA baseline: decayed weights with a 24 h half-life, request = weighted percentile q of all past usage
  x 1.15, for q in {0.5, 0.8, 0.9, 0.95, 0.99, 1.0};
- `slack_vs_vpa` = slack / the VPA curve's slack linearly interpolated at the series' own overrun rate;
  beyond the curve's safest end the safest run is used, beyond its riskiest end the riskiest run;
- `overrun_budget` = max(1%, the overrun rate of VPA at q = 0.9): a recommender must be at least as safe as
  VPA's default before its slack counts;
- a fixed request equal to the peak of day 0 is shown beside it, and so are the hindsight bounds of
  `hindsight` (plans fitted to the scored days themselves, within the budget), scored the same way;
- the slack of the run and of VPA's default is split by `slack_split` into headroom above each day's peak,
  the day's peak over the hour's, and the spread within the hour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tenantops.decide.rightsizing.estimator import DAY, HOUR, decay_weights, hour_of_day, weighted_percentile
from tenantops.decide.rightsizing.hindsight import least_waste
from tenantops.decide.rightsizing.recommender import Recommendation, ResourceParams, recommend
from tenantops.decide.rightsizing.slack_split import SlackSplit, slack_split
from tenantops.structs.usage import Array

VPA_PERCENTILES = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)
VPA_MARGIN = 0.15
VPA_HALF_LIFE_HOURS = 24.0
VPA_DEFAULT = 0.9
MIN_OVERRUN_BUDGET = 0.01

# A request policy: (past times, past values, boundary) -> one request for the day or 24 hourly ones.
DayPolicy = Callable[[Array, Array, float], "float | Sequence[float] | None"]


@dataclass(frozen=True, slots=True)
class Score:
    slack: float
    overrun_rate: float


@dataclass(frozen=True, slots=True)
class VpaPoint:
    percentile: float
    slack: float
    overrun_rate: float


@dataclass(frozen=True, slots=True)
class HindsightBound:
    """A plan fitted to the scored days themselves (see `hindsight`): its shape, score and slack_vs_vpa."""

    shape: str
    score: Score
    slack_vs_vpa: float


class Unscorable(ValueError):
    """A series the benchmark cannot score: no sample after day 0 got a request, so every figure would be NaN."""


@dataclass(frozen=True, slots=True)
class DayRequest:
    day: int
    hour: int | None  # None: the request holds all day
    request: float


@dataclass(frozen=True, slots=True)
class BacktestResult:
    name: str
    samples: int
    scored_samples: int
    days: int
    score: Score
    vpa: tuple[VpaPoint, ...]
    vpa_slack_at_overrun: float
    slack_vs_vpa: float
    beyond_vpa_curve: bool  # the series overran more often than every VPA run (compared to the riskiest)
    fixed_peak: Score
    requests: tuple[DayRequest, ...]
    scheduled: bool
    overrun_budget: float
    scheduled_days: int
    hindsight: tuple[HindsightBound, ...] = ()
    slack_split: SlackSplit | None = None  # the run's slack by where it goes (see `slack_split`)
    vpa_default_split: SlackSplit | None = None  # the same for VPA at q = 0.9

    @property
    def within_budget(self) -> bool:
        return self.score.overrun_rate <= self.overrun_budget


def day_index(times: Array) -> tuple[np.ndarray, float]:
    """Day number of each sample (UTC calendar days from the first sample's day) and day 0's midnight."""
    origin = float(np.floor(times.min() / DAY) * DAY)
    return ((times - origin) // DAY).astype(np.int64), origin


def replay(times: Array, values: Array, policy: DayPolicy) -> tuple[Array, list[DayRequest]]:
    """Per-sample requests (NaN on day 0 and on days the policy had nothing to say) and the day plan."""
    days, origin = day_index(times)
    requests = np.full(values.shape, np.nan)
    plan: list[DayRequest] = []
    hours = ((times - origin) % DAY // HOUR).astype(np.int64)
    for day in range(1, int(days.max()) + 1):
        boundary = origin + day * DAY
        past = times < boundary
        today = days == day
        if not today.any() or not past.any():
            continue
        answer = policy(times[past], values[past], boundary)
        if answer is None:
            continue
        if isinstance(answer, float | int):
            requests[today] = float(answer)
            plan.append(DayRequest(day, None, float(answer)))
        else:
            hourly = np.asarray(answer, dtype=np.float64)
            requests[today] = hourly[hours[today]]
            plan.extend(DayRequest(day, h, float(hourly[h])) for h in range(24))
    return requests, plan


def score(values: Array, requests: Array, scored: np.ndarray) -> Score:
    mask = scored & np.isfinite(requests)
    if not mask.any():
        return Score(float("nan"), float("nan"))
    r, u = requests[mask], values[mask]
    total = float(r.sum())
    slack = float(np.maximum(0.0, r - u).sum() / total) if total > 0 else 0.0
    return Score(slack, float(np.mean(u > r)))


def vpa_policy(percentile: float) -> DayPolicy:
    def policy(t: Array, v: Array, now: float) -> float:
        weights = decay_weights(t, now, VPA_HALF_LIFE_HOURS)
        return weighted_percentile(v, weights, percentile) * (1.0 + VPA_MARGIN)

    return policy


def recommender_policy(params: ResourceParams) -> DayPolicy:
    def policy(t: Array, v: Array, now: float) -> float | Sequence[float] | None:
        rec: Recommendation | None = recommend(t, v, now, params)
        if rec is None:
            return None
        return rec.schedule if rec.schedule is not None else rec.target

    return policy


def interpolate_slack(curve: Sequence[VpaPoint], overrun_rate: float) -> tuple[float, bool]:
    """VPA's slack at `overrun_rate` on its (overrun, slack) curve; also whether it lies past the riskiest run."""
    points = sorted((p.overrun_rate, p.slack) for p in curve if np.isfinite(p.slack))
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    if overrun_rate <= xs[0]:
        # Safer than every VPA run: compare with VPA's safest run (the least slack among the safest).
        return float(ys[xs == xs[0]].min()), False
    if overrun_rate >= xs[-1]:
        return float(ys[xs == xs[-1]].min()), overrun_rate > xs[-1]
    # np.interp needs increasing x; ties (equal overrun) keep the lowest slack, VPA's best at that risk.
    unique_x = np.unique(xs)
    best_y = np.array([ys[xs == x].min() for x in unique_x])
    return float(np.interp(overrun_rate, unique_x, best_y)), False


def _versus_vpa(own: Score, curve: Sequence[VpaPoint]) -> tuple[float, float, bool]:
    """VPA's slack at the same overrun rate, slack_vs_vpa, and whether it lies past VPA's riskiest run."""
    reference, beyond = interpolate_slack(curve, own.overrun_rate)
    ratio = own.slack / reference if reference > 0 else float("inf") if own.slack > 0 else 1.0
    return reference, float(ratio), beyond


def hindsight_bounds(times: Array, values: Array, scored: np.ndarray, budget: float,
                     curve: Sequence[VpaPoint]) -> tuple[HindsightBound, ...]:
    """The least-waste plans within `budget` that knew the scored days (see `hindsight`), scored like a run."""
    days, origin = day_index(times)
    hours = ((times - origin) % DAY // HOUR).astype(np.int64)
    shapes = (("flat per day", days), ("one daily schedule", hours), ("schedule per day", days * 24 + hours))
    out = []
    for shape, groups in shapes:
        requests = np.full(values.shape, np.nan)
        requests[scored] = least_waste(values[scored], groups[scored], budget)
        s = score(values, requests, scored)
        out.append(HindsightBound(shape, s, _versus_vpa(s, curve)[1]))
    return tuple(out)


def _unscorable(days: int, lookback_days: float) -> str:
    if days < 2:
        return (f"covers {days} UTC day{'s' if days != 1 else ''}; day 0 is the history the first request is made "
                "from, so a series needs samples on a later day to be scored")
    return (f"no day after the first has samples within the policy's lookback of {lookback_days:g} days before it "
            "(the samples are further apart than that), so no request was made to score")


def backtest(name: str, times: Sequence[float] | Array, values: Sequence[float] | Array,
             params: ResourceParams) -> BacktestResult:
    """Run the benchmark for one series with the recommender configured by `params`."""
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.size == 0:
        raise ValueError(f"{name}: no samples")
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    days, _ = day_index(t)
    hours = hour_of_day(t)
    scored = days >= 1

    def split(requests: Array) -> SlackSplit | None:
        return slack_split(v[scored], requests[scored], days[scored], hours[scored])

    requests, plan = replay(t, v, recommender_policy(params))
    own = score(v, requests, scored)
    if not np.isfinite(own.slack):
        raise Unscorable(_unscorable(int(days.max()) + 1, params.lookback_days))
    curve = []
    vpa_default_split = None
    for q in VPA_PERCENTILES:
        vpa_requests, _ = replay(t, v, vpa_policy(q))
        s = score(v, vpa_requests, scored)
        curve.append(VpaPoint(q, s.slack, s.overrun_rate))
        if q == VPA_DEFAULT:
            vpa_default_split = split(vpa_requests)
    reference, ratio, beyond = _versus_vpa(own, curve)
    peak = float(v[days == 0].max())
    fixed = score(v, np.where(scored, peak, np.nan), scored)
    budget = max(MIN_OVERRUN_BUDGET, next(p.overrun_rate for p in curve if p.percentile == VPA_DEFAULT))
    return BacktestResult(
        name=name,
        samples=int(t.size),
        scored_samples=int(scored.sum()),
        days=int(days.max()) + 1,
        score=own,
        vpa=tuple(curve),
        vpa_slack_at_overrun=reference,
        slack_vs_vpa=ratio,
        beyond_vpa_curve=beyond,
        fixed_peak=fixed,
        requests=tuple(plan),
        scheduled=any(r.hour is not None for r in plan),
        overrun_budget=budget,
        scheduled_days=len({r.day for r in plan if r.hour is not None}),
        hindsight=hindsight_bounds(t, v, scored, budget, curve) if scored.any() else (),
        slack_split=split(requests),
        vpa_default_split=vpa_default_split,
    )
