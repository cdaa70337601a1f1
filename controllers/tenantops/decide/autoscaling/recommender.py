"""One workload's replica decision: `(policy, bounds, observation, state, now) -> Recommendation`.

This is the single code path behind both the controller's `AutoscalingDecider` and `tenantops simulate`,
so what the simulator scores is what production runs. Stages, each recorded in the rule and reason:
estimate (predictive forecast with a calibrated margin, or the HPA calculation when the forecast is not
yet trusted or too poor), scale to zero / wake-up, behaviour (stabilisation, rate limits), bounds, and the
budget cap. Cross-workload guardrails (step size, global ceiling, stale metrics) are `decide.breakers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tenantops.config.kinds.scaling import ScalingSpec
from tenantops.decide import breakers
from tenantops.decide.autoscaling import forecast
from tenantops.decide.autoscaling.behavior import DOWN, UP, Limits, first_sight, rate_limit, stabilize
from tenantops.decide.autoscaling.reactive import MetricLoad, hpa_recommendation
from tenantops.decide.autoscaling.state import WorkloadState

DEFAULT_INTERVAL = 60.0
EPS = 1e-9
MIN_GROWTH = 1.0 / 0.7  # the least demand growth inferred per saturated pass
SATURATED = 0.999  # load at this share of the ready replicas' ceiling or more: the metric has stopped there
MAX_CHURN = 1.5  # the band widens by at most e^1.5 (4.5x) for churn: room for the allowance to be met on a held
# coarse source, where "no change" (the best forecaster there) moves the count with every new sample
CHURN_STEP = 0.1  # log factor per reversal (and the same share of it, per hour, back down while calm)
CHURN_SHARE = 0.2  # the churn widening adds at most this share of the safe count to the band (see churn_band)


@dataclass(frozen=True, slots=True)
class Tuning:
    """A `ScalingSpec` compiled once per policy into the numbers the hot loop needs."""

    predictive: bool
    startup_seconds: float
    warmup_samples: int
    band: float
    reversals_per_hour: float
    up: Limits
    down: Limits
    scale_to_zero: bool
    activation_threshold: float
    cooldown_seconds: float
    budget_action: str
    forecast: forecast.ForecastParams
    growth: float = MIN_GROWTH  # inferred demand per step while saturated: the HPA's 1/u at its target

    @classmethod
    def of(cls, spec: ScalingSpec) -> Tuning:
        p = spec.predictive
        return cls(
            predictive=spec.algorithm == "predictive" and p.enabled,
            startup_seconds=float(spec.startup_seconds),
            warmup_samples=p.warmup_samples,
            band=p.band,
            reversals_per_hour=p.reversals_per_hour,
            up=Limits.of(spec.scale_up, UP, spec.tolerance),
            down=Limits.of(spec.scale_down, DOWN, spec.tolerance),
            scale_to_zero=spec.scale_to_zero.enabled,
            activation_threshold=spec.scale_to_zero.activation_threshold,
            cooldown_seconds=float(spec.scale_to_zero.cooldown_seconds),
            budget_action=spec.budget_action,
            forecast=forecast.ForecastParams(target_miss=p.target_miss),
            # A policy whose targets sit at capacity would never grow by 1/u: it takes the 1/0.7 of a default target.
            growth=max(MIN_GROWTH, 1.0 / min(m.target / m.capacity_or_default() for m in spec.metrics)),
        )


@dataclass(frozen=True, slots=True)
class Bounds:
    min_replicas: int
    max_replicas: int
    scale_to_zero: bool = False  # the tier allows zero replicas (and the policy enables it)


@dataclass(frozen=True, slots=True)
class Observation:
    """What the metrics said, taken at epoch `at`. `metrics` holds only usable readings; `complete` is false
    when some configured metric was missing, stale or invalid (the freeze breaker then blocks scale-down)."""

    at: float
    current: int
    ready: int
    metrics: Sequence[MetricLoad]
    complete: bool = True
    over_budget: bool = False


@dataclass(frozen=True, slots=True)
class Recommendation:
    desired: int
    rule: str
    reason: str
    state: WorkloadState
    demand: float | None = None  # replica units at capacity, as observed
    estimate: int | None = None  # replicas the estimator asked for before damping
    interval: float = DEFAULT_INTERVAL  # seconds since the previous decision (what one pass stands for)


def demand_of(metrics: Sequence[MetricLoad]) -> float | None:
    """The binding signal in replica units at capacity: the largest over metrics (multi-metric = max)."""
    best = None
    for m in metrics:
        units = m.load / m.capacity
        if best is None or units > best:
            best = units
    return best


def saturated_at(metrics: Sequence[MetricLoad], ready: int) -> bool:
    """Whether some metric reads at the ready replicas' ceiling: where the reading stops, so demand beyond
    it cannot be seen and must be inferred. The ceiling is the metric's own (`MetricLoad.ceiling`: a CPU
    limit above the request) or else its capacity; a utilisation of 1.2 under a limit of twice the request
    is demand observed in full, not a censored value."""
    if ready <= 0:
        return False
    for m in metrics:
        ceiling = m.capacity if m.ceiling is None else m.ceiling
        if m.load / ceiling >= SATURATED * ready:
            return True
    return False


def recommend(tuning: Tuning, bounds: Bounds, obs: Observation, state: WorkloadState, now: float) -> Recommendation:
    """Decide one workload's replicas at `now`; `state` is updated in place and returned in the result."""
    current = obs.current
    demand = demand_of(obs.metrics)
    interval = now - state.decided_at if state.decided_at is not None and now > state.decided_at else DEFAULT_INTERVAL
    interval = min(900.0, max(5.0, interval))
    first_sight(state, current, now)
    state.decided_at = now
    floor = bounds.min_replicas if bounds.scale_to_zero else max(1, bounds.min_replicas)
    if demand is None:
        # The HPA moves a count outside [min, max] to the bound even when no metric can be read.
        held = min(bounds.max_replicas, max(floor, current))
        return Recommendation(held, "hold" if held == current else "bounds",
                              "no usable metric this pass; replicas kept as they are"
                              + ("" if held == current else f", within [{floor}, {bounds.max_replicas}]"), state,
                              interval=interval)
    saturated = saturated_at(obs.metrics, obs.ready)
    state.saturated = state.saturated + 1 if saturated else 0
    state.saturated_rounds = _saturated_rounds(state.saturated_rounds, saturated, obs)
    forecast.observe(state, demand, obs.at, tuning.forecast, censored=saturated)
    if tuning.predictive and obs.current > max(1, bounds.min_replicas) and _margin_decided(tuning, state, interval):
        forecast.calibrate(state, saturated, tuning.forecast)

    estimate, rule, reason, base = _estimate(tuning, obs, state, demand, now, interval)

    zero = _scale_to_zero(tuning, bounds, obs, state, demand, estimate)
    if zero is not None:
        desired, rule, reason = zero
        stabilize(state, desired, current, now, tuning.up, tuning.down)  # keep the window's record whole
    else:
        # A scale-down asked for while a configured metric is unusable is refused by the HPA before its
        # stabilisation (computeReplicasForMetrics errs, so nothing is recorded), and by the freeze breaker
        # here: recorded, the refused count would stand in the scale-up window and hold the next pass's rise.
        refused = breakers.frozen(estimate, current, not obs.complete)
        desired = stabilize(state, estimate, current, now, tuning.up, tuning.down, record=not refused)
        if desired != estimate:
            direction = "down" if estimate < desired else "up"
            window = tuning.down.stabilization_seconds if direction == "down" else tuning.up.stabilization_seconds
            rule, reason = "stabilized", (f"{reason}; held at {desired} by the {window:.0f}s scale-{direction} "
                                          "stabilisation window")
        band = churn_band(base, state.churn, desired)
        if band > base:
            reason = f"{reason}; band widened x{band / base:.2f}: the count has been reversing"
        banded = _banded(band, desired, current)
        if banded != desired:
            if banded == current:
                rule, reason = "banded", f"{reason}; kept at {current}, within {band:.1f} replicas of it"
            else:
                reason = f"{reason}; moved to {banded}, the middle of a {band:.1f}-replica band"
            desired = banded
        limited = rate_limit(state, desired, current, now, tuning.up, tuning.down)
        if limited != desired:
            rule, reason = "rate-limited", f"{reason}; limited to {limited} by the scale rate policy"
            desired = limited
    if desired > bounds.max_replicas or desired < floor:
        clamped = min(bounds.max_replicas, max(floor, desired))
        rule, reason = "bounds", f"{reason}; kept within [{floor}, {bounds.max_replicas}]"
        desired = clamped
    if obs.over_budget and tuning.budget_action == "cap" and desired > current:
        rule, reason = "budget-cap", f"{reason}; capped at {current}: tenant is over its budget"
        desired = max(current, floor) if current >= floor else floor
    return Recommendation(desired, rule, reason, state, demand, estimate, interval)


def _estimate(
    tuning: Tuning, obs: Observation, state: WorkloadState, demand: float, now: float, interval: float
) -> tuple[int, str, str, float]:
    """Replicas wanted before damping (predictive when trusted, else the HPA calculation), and the width
    of the band within which a count is held (0 for the HPA rule, which has its tolerance)."""
    steps = math.ceil(tuning.startup_seconds / interval - EPS)
    params = tuning.forecast
    units = forecast.margins(state, params)
    # Leads count from the next observation (the one after `obs.at`), not from the decision time: in a
    # replay the decision comes one interval after its sample, live it comes right after it, and a forecast
    # kept for "now" would come due between two live observations and never be scored.
    anchor = obs.at + interval
    if not state.saturated:  # a forecast from a lower bound is no test of the margin (see `_margin_decided`)
        forecast.remember(state, anchor, interval, steps, params, units)
    reactive, metric = hpa_recommendation(obs.metrics, obs.ready, obs.current, tuning.down.tolerance,
                                          tuning.up.tolerance)
    if not tuning.predictive:
        return reactive, "reactive", f"HPA rule on {metric}: {demand:.2f} replicas of demand at capacity", 0.0
    if state.count < tuning.warmup_samples:
        return reactive, "reactive", (f"HPA rule on {metric}: forecast warming up "
                                      f"({state.count}/{tuning.warmup_samples} samples)"), 0.0
    which = forecast.best(state, units)
    covers = forecast.covers(state, anchor, interval, steps, params, which, units)
    # Replicas asked for now serve from `steps` passes on; until then only the ones kept do, so the count
    # must cover the forecast at the end of start-up, and must not drop below what is needed sooner.
    uppers = [value + width for value, width in covers]
    ahead = _replicas_for(uppers[-1])
    sooner = _replicas_for(max(uppers[:-1])) if steps > 0 else 0
    wanted = max(ahead, min(obs.current, sooner))
    value, width = covers[-1]
    reason = (f"{forecast.NAMES[which]} forecast {value:.2f} replicas of demand in {steps * interval:.0f}s "
              f"(now {demand:.2f}) plus a {width:.2f} margin for a {params.target_miss:.1%} miss rate")
    if state.saturated:
        # Served load stops at capacity: demand is at least what was served and likely more. Infer it as the
        # HPA does (1/u at the target), compounding for every round of replicas that was ready and still fell short.
        inferred = math.ceil(demand * tuning.growth ** min(state.saturated_rounds, 4) - EPS)
        if inferred > wanted:
            wanted = inferred
            reason = (f"{reason}; saturated through {state.saturated_rounds} round(s) of replicas: demand inferred at "
                      f"{inferred} replicas or more")
    return wanted, "predictive", reason, tuning.band * width


def _replicas_for(upper: float) -> int:
    """The fewest replicas that serve `upper` replica units of demand below the `SATURATED` share of their
    capacity. A count planned at the bare ceiling of the demand ran its replicas where a reading cannot be
    told from a capped one: a smooth ramp, followed with a margin of a few hundredths of a replica, read as
    saturated every few hundred passes after a day or two, and had its demand inferred at 1/u (32
    replicas sent to 45, then walked back down five a pass by the max-step breaker). The share costs a
    replica only when the cover is within 0.1% below a whole number of them."""
    return math.ceil(upper / SATURATED - EPS)


def _saturated_rounds(rounds: int, saturated: bool, obs: Observation) -> int:
    """Rounds of replicas that fell short in the current run of saturated passes (0: not saturated).

    A run starts a round; a saturated pass adds one only when no replica is still starting (ready = live
    count): while the replicas asked for are starting, saturation is what was already known, and compounding
    the inferred growth on it asked for 1/u more at every pass of start-up (27 saturated replicas, 1% short,
    were sent to 76 in three passes and walked back down five a pass)."""
    if not saturated:
        return 0
    return rounds + 1 if rounds == 0 or obs.ready >= obs.current else rounds


def _margin_decided(tuning: Tuning, state: WorkloadState, interval: float) -> bool:
    """Whether this pass says anything about the margin: every pass except the later ones of a saturated run.

    Replicas asked for when a run of saturation starts serve only after start-up, so its first passes up to
    start-up plus one are passes a larger margin would have covered: misses of the margin. After that the
    count is what the saturation inference asked for (demand is censored at capacity, so forecasts made from
    it are lower bounds, and are not kept for scoring either). Counting those passes as margin misses made
    one long flash crowd, limited by the step breaker, raise every margin for days after it was over."""
    return state.saturated <= math.ceil(tuning.startup_seconds / interval - EPS) + 1


def churn_band(band: float, churn: float, wanted: int) -> float:
    """The band widened for churn: by e^`churn`, but by no more than `CHURN_SHARE` of the safe count `wanted`.

    Widening trades a little cost for fewer reversals, and a replica is a small cost only when the count is
    large. At a few replicas one replica is a third of the cost, and the band, held in whole replicas, is
    bimodal: with Poisson demand of two requests a minute against three per replica (a safe count of 2 or 3),
    a band widened from 1.2 to just past 2 moved every step to one replica above the safe count, then fell
    back below 2 as the churn decayed and dropped the count two replicas, which reversed again at the next
    rise and kept the churn up: the count ran at 4 where 3 held it, 3.3x the oracle. Bounded by a share of the
    count, the widening buys no extra replica below about five, and leaves a count of 30 room for six (its
    reversals on a held coarse source are what it is for)."""
    if churn <= 0:
        return band
    return band + min(band * math.exp(churn) - band, CHURN_SHARE * wanted)


def _banded(band: float, wanted: int, current: int) -> int:
    """Fewer, larger steps: hold while `current` is at most `band` replicas above the safe count `wanted`
    (after the stabilisation window, so a scale-down is one step, not one per expiring recommendation);
    outside it, move to the middle of the band. Scale-up is never held below the safe count."""
    if wanted > current or current > wanted + math.floor(band):
        return wanted + math.floor(band / 2.0)
    return current


def learn_churn(tuning: Tuning, state: WorkloadState, change: int, interval: float) -> None:
    """Widen the band while the count keeps reversing, narrow it while it does not (in place).

    A change against the direction of the one before is a reversal: replicas started and then killed (or the
    other way round) for noise the band was too narrow to hold. Each one raises a log factor on the band by
    `CHURN_STEP` less the allowance; every pass lowers it by the allowance, `reversals_per_hour` per hour of
    passes, so it settles where the count reverses at most that often (the adaptive-conformal update of
    `forecast.calibrate`, applied to churn). Changes one way, however many, never raise it: the steps of a ramp
    or of a breaker's walk are demand, not noise. Scale-up is never held by the band (see `_banded`), so a wider
    band costs replicas, never coverage. `change` is the change this pass made, after the guards."""
    if not tuning.predictive or tuning.reversals_per_hour <= 0:
        return
    direction = (change > 0) - (change < 0)
    reversed_ = direction != 0 and state.direction == -direction
    if direction:
        state.direction = direction
    allowance = min(1.0, tuning.reversals_per_hour * interval / 3600.0)
    value = state.churn + (CHURN_STEP * (1.0 - allowance) if reversed_ else -CHURN_STEP * allowance)
    state.churn = min(MAX_CHURN, max(0.0, value))


def _scale_to_zero(
    tuning: Tuning, bounds: Bounds, obs: Observation, state: WorkloadState, demand: float, estimate: int
) -> tuple[int, str, str] | None:
    if not (tuning.scale_to_zero and bounds.scale_to_zero and bounds.min_replicas == 0):
        state.idle_since = None
        return None
    if demand > tuning.activation_threshold:
        state.idle_since = None
        if obs.current == 0:
            return max(1, estimate), "wake-up", (f"demand {demand:.2f} above the activation threshold "
                                                 f"{tuning.activation_threshold}: waking from zero")
        return None
    if state.idle_since is None:
        state.idle_since = obs.at
    idle = obs.at - state.idle_since
    if obs.current == 0 or idle >= tuning.cooldown_seconds:
        return 0, "scale-to-zero", (f"demand {demand:.2f} at or below {tuning.activation_threshold} for "
                                    f"{idle:.0f}s (cooldown {tuning.cooldown_seconds:.0f}s)")
    return None
