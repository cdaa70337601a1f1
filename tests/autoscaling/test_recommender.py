"""Behaviour of the estimator stages: forecast ahead, fallback, scale to zero, budget cap."""

from __future__ import annotations

from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Recommendation, Tuning, recommend
from tenantops.decide.autoscaling.state import WorkloadState

from .conftest import spec

T0 = 1_700_000_000.0


def feed(tuning: Tuning, bounds: Bounds, values: list[float], state: WorkloadState | None = None,
         current: int = 1, over_budget: bool = False) -> list[Recommendation]:
    state = state or WorkloadState()
    out = []
    for i, value in enumerate(values):
        now = T0 + 60 * i
        obs = Observation(now - 60, current, current, (MetricLoad("cpu", value, 0.7, 1.0),), over_budget=over_budget)
        rec = recommend(tuning, bounds, obs, state, now)
        out.append(rec)
        current = rec.desired
    return out


def test_warm_up_uses_the_hpa_rule_and_says_so() -> None:
    recs = feed(Tuning.of(spec()), Bounds(1, 100), [5.0] * 3)
    assert recs[-1].rule == "reactive"
    assert "warming up" in recs[-1].reason


def test_reactive_algorithm_is_the_hpa() -> None:
    recs = feed(Tuning.of(spec(algorithm="reactive")), Bounds(1, 100), [7.0] * 30, current=10)
    assert {r.rule for r in recs[1:]} == {"reactive"}
    assert recs[-1].desired == 10  # 7 cores over 10 replicas is exactly the 0.7 target


def test_predictive_provisions_ahead_of_a_ramp() -> None:
    ramp = [10.0 + 0.5 * i for i in range(120)]
    recs = feed(Tuning.of(spec()), Bounds(1, 1000), ramp, current=10)
    last = recs[-1]
    assert last.rule == "predictive"
    assert "forecast" in last.reason
    # the demand three minutes after the last observation is ~1.5 higher; capacity must already cover it
    assert last.desired >= ramp[-1] + 1.5


def test_predictive_is_cheaper_than_the_target_on_steady_load() -> None:
    recs = feed(Tuning.of(spec()), Bounds(1, 1000), [50.0] * 300, current=72)
    assert recs[-1].rule == "predictive"
    assert 50 <= recs[-1].desired < 72  # 50/0.7 = 72 is what the HPA keeps


def test_scale_to_zero_after_cooldown_and_wake_up() -> None:
    tuning = Tuning.of(spec(scale_to_zero={"enabled": True, "activation_threshold": 0.05, "cooldown_seconds": 300}))
    bounds = Bounds(0, 10, scale_to_zero=True)
    state = WorkloadState()
    recs = feed(tuning, bounds, [2.0] * 20 + [0.0] * 10, state=state, current=3)
    zero_at = next(i for i, r in enumerate(recs) if r.desired == 0)
    assert zero_at >= 20 + 300 // 60  # not before the cooldown has passed
    assert recs[zero_at].rule == "scale-to-zero"
    woke = feed(tuning, bounds, [3.0], state=state, current=0)[0]
    assert woke.rule == "wake-up" and woke.desired >= 1


def test_scale_to_zero_needs_the_tier_to_allow_it() -> None:
    tuning = Tuning.of(spec(scale_to_zero={"enabled": True, "activation_threshold": 0.05, "cooldown_seconds": 0}))
    recs = feed(tuning, Bounds(0, 10, scale_to_zero=False), [0.0] * 30, current=3)
    assert min(r.desired for r in recs) == 1


def test_budget_cap_blocks_scale_up_and_says_why() -> None:
    tuning = Tuning.of(spec(budget_action="cap"))
    recs = feed(tuning, Bounds(1, 100), [2.0] * 20 + [40.0] * 5, current=3, over_budget=True)
    assert max(r.desired for r in recs) <= 3
    assert any(r.rule == "budget-cap" and "over its budget" in r.reason for r in recs)


def test_budget_alert_only_does_not_cap() -> None:
    recs = feed(Tuning.of(spec(budget_action="alert")), Bounds(1, 100), [2.0] * 20 + [40.0] * 5, current=3,
                over_budget=True)
    assert max(r.desired for r in recs) > 3


def test_missing_metrics_hold() -> None:
    state = WorkloadState()
    rec = recommend(Tuning.of(spec()), Bounds(1, 10), Observation(T0, 4, 4, ()), state, T0)
    assert (rec.desired, rec.rule) == (4, "hold")


def test_the_shipped_scale_to_zero_tier_serves_a_trickle_and_sleeps_only_when_idle() -> None:
    """Asleep, every request is refused, so a tier that slept through demand at or below a threshold above
    zero refused that demand for as long as it lasted: the economical tier's 0.05 was 3 requests a second
    against 60 per replica, refused all night, against a miss goal of 0.8%. Shipped, it sleeps only after
    its cooldown without a request and wakes on the first (KEDA's default activation threshold, 0)."""
    from pathlib import Path

    from tenantops.config.kinds.scaling import ScalingSpec
    from tenantops.config.loader import load_policies

    shipped = load_policies(Path(__file__).resolve().parents[2] / "policies").get("ScalingPolicy", "economical")
    assert isinstance(shipped, ScalingSpec) and shipped.scale_to_zero.enabled
    tuning, bounds = Tuning.of(shipped), Bounds(0, 10, scale_to_zero=True)
    state = WorkloadState()
    trickle = feed(tuning, bounds, [0.02] * 120, state=state, current=1)  # 1.2 requests a second, for 2 hours
    assert min(r.desired for r in trickle) == 1
    idle = feed(tuning, bounds, [0.0] * 30, state=state, current=trickle[-1].desired)
    assert idle[-1].desired == 0 and idle[-1].rule == "scale-to-zero"
    woke = feed(tuning, bounds, [0.02], state=state, current=0)[0]
    assert woke.rule == "wake-up" and woke.desired == 1
