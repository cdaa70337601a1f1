"""One workload's whole production decision: the recommender, then the single-workload guards.

`decide_workload` is what the controller's `AutoscalingDecider` runs for every workload of a pass and
what `tenantops simulate` runs at every step of a trace, so the figures of docs/benchmarks.md §1 score
the decision that production makes: estimate, damping, bounds and budget cap (`recommender`), then the
freeze and max-step breakers and the workload's bounds (`breakers.guard_scale`). The change that comes
out of the guards is only proposed (`behavior.record_scale`): it becomes a scale event when its write's
outcome settles it (`behavior.settle`), as the HPA records only the rescale it made. The cross-workload
rule (the global replica ceiling) is the engine's guard stage; what it holds is never written, so never
settled as an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tenantops.config.kinds.scaling import BreakerSpec
from tenantops.decide import breakers
from tenantops.decide.autoscaling.behavior import record_scale
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Recommendation, Tuning, learn_churn, recommend
from tenantops.decide.autoscaling.state import WorkloadState


@dataclass(frozen=True, slots=True)
class Guards:
    """The breaker limits that apply to one workload (from its tier's `BreakerPolicy`)."""

    max_step_up: int
    max_step_down: int

    @classmethod
    def of(cls, spec: BreakerSpec) -> Guards:
        return cls(spec.max_step_up, spec.max_step_down)


@dataclass(frozen=True, slots=True)
class WorkloadDecision:
    desired: int
    rule: str
    reason: str
    recommendation: Recommendation
    trips: tuple[tuple[breakers.Trip, int], ...] = ()


def decide_workload(
    tuning: Tuning, bounds: Bounds, guards: Guards, obs: Observation, problems: Sequence[str],
    state: WorkloadState, now: float,
) -> WorkloadDecision:
    """Replicas for one workload at `now` from its observation and stored state (updated in place; a
    change is left proposed in it until its outcome is settled).

    `obs.current` is the live count; `problems` lists the configured metrics that were missing, stale or
    invalid this pass (they freeze scale-down)."""
    rec = recommend(tuning, bounds, obs, state, now)
    state.bad_passes = state.bad_passes + 1 if problems else 0
    guarded = breakers.guard_scale(
        rec.desired, obs.current, problems=problems, max_up=guards.max_step_up, max_down=guards.max_step_down,
        min_replicas=0 if bounds.scale_to_zero else bounds.min_replicas, max_replicas=bounds.max_replicas,
    )
    rule, reason = rec.rule, rec.reason
    for trip in guarded.trips:
        rule, reason = f"breaker:{trip[0].breaker}", f"{reason}; {trip[0].detail}"
    record_scale(state, now, obs.current, guarded.desired)
    learn_churn(tuning, state, guarded.desired - obs.current, rec.interval)
    return WorkloadDecision(guarded.desired, rule, reason, rec, guarded.trips)
