"""The recommender: floors, percentiles, stability, OOM bumps, schedules and confidence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.rightsizing.recommender import oom_bump, recommend
from tenantops.structs.usage import OomKill

from .helpers import DAY, NOW, cpu_params, day_night, memory_params, times

usage_st = st.lists(st.floats(0, 64, allow_nan=False), min_size=1, max_size=200)


def _series(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    v = np.array(values)
    return NOW - 300.0 * np.arange(v.size, 0, -1), v


@settings(max_examples=60, deadline=None)
@given(usage_st, st.floats(0, 8), st.floats(0.05, 1.0), st.floats(0, 1), st.booleans())
def test_never_below_the_policy_minimum(values: list[float], minimum: float, q: float, margin: float,
                                       schedule: bool) -> None:
    t, v = _series(values)
    rec = recommend(t, v, NOW, cpu_params(minimum=minimum, percentile=q, margin=margin, daily_schedule=schedule))
    assert rec is not None
    assert rec.target >= minimum and rec.lower >= minimum
    assert rec.lower <= rec.target <= rec.upper
    if rec.schedule is not None:
        assert min(rec.schedule) >= minimum and max(rec.schedule) == rec.target


@settings(max_examples=60, deadline=None)
@given(usage_st, st.floats(0.05, 1.0), st.floats(0.05, 1.0))
def test_monotone_in_the_percentile(values: list[float], q1: float, q2: float) -> None:
    t, v = _series(values)
    low, high = sorted((q1, q2))
    a = recommend(t, v, NOW, cpu_params(percentile=low, minimum=0.0))
    b = recommend(t, v, NOW, cpu_params(percentile=high, minimum=0.0))
    assert a is not None and b is not None
    assert a.target <= b.target


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 32), st.floats(0.5, 1.0), st.floats(0, 0.5), st.integers(2, 14))
def test_stable_on_constant_usage(level: float, q: float, margin: float, days: int) -> None:
    t = times(days)
    v = np.full(t.size, level)
    params = cpu_params(percentile=q, margin=margin, minimum=0.0, daily_schedule=True)
    first = recommend(t, v, NOW, params)
    later = recommend(t, v, NOW + 3 * DAY, dataclasses.replace(params, lookback_days=30))
    assert first is not None and later is not None
    # Nothing ever exceeded the usage itself: the request is it plus the raise-fast margin, every day.
    assert first.target == pytest.approx(level * (1 + margin)) and later.target == pytest.approx(first.target)
    assert first.schedule is None


def test_oom_bump_follows_vpa() -> None:
    params = memory_params()
    assert oom_bump(1000 * 2.0**20, params) == pytest.approx(1200 * 2.0**20)  # x1.2 wins for large pods
    assert oom_bump(200 * 2.0**20, params) == pytest.approx(300 * 2.0**20)  # +100 MiB wins for small ones


@settings(max_examples=40, deadline=None)
@given(st.floats(100 * 2.0**20, 8 * 2.0**30), st.floats(0.1, 13.0))
def test_memory_after_an_oom_kill_is_at_least_the_bump(used: float, days_ago: float) -> None:
    t = times(14)
    v = np.full(t.size, 300 * 2.0**20)
    kill = OomKill(NOW - days_ago * DAY, used)
    params = memory_params()
    rec = recommend(t, v, NOW, params, ooms=[kill])
    plain = recommend(t, v, NOW, params)
    assert rec is not None and plain is not None
    assert rec.target >= oom_bump(used, params) - 1e-6
    assert rec.target >= plain.target
    assert rec.oom_floor == pytest.approx(oom_bump(used, params))


def test_oom_outside_the_lookback_or_for_cpu_is_ignored() -> None:
    t = times(3)
    v = np.full(t.size, 300 * 2.0**20)
    old = OomKill(NOW - 20 * DAY, 4 * 2.0**30)
    rec = recommend(t, v, NOW, memory_params(), ooms=[old])
    assert rec is not None and rec.oom_floor is None and rec.target < 2.0**30
    cpu = recommend(t, np.full(t.size, 0.5), NOW, cpu_params(), ooms=[OomKill(NOW - DAY, 4.0)])
    assert cpu is not None and cpu.target == pytest.approx(0.5)


def test_confidence_grows_with_history() -> None:
    confidences = []
    for days in (1, 3, 7, 14):
        t = times(days)
        rec = recommend(t, np.full(t.size, 1.0), NOW, cpu_params())
        assert rec is not None
        confidences.append(rec.confidence)
    assert confidences == sorted(confidences)
    assert confidences[0] < 0.2 and confidences[-1] == 1.0


def test_upper_bound_narrows_with_history() -> None:
    rng = np.random.default_rng(1)
    spans = []
    for days in (1, 7):
        t = times(days)
        rec = recommend(t, rng.uniform(0.5, 1.0, t.size), NOW, cpu_params())
        assert rec is not None
        spans.append(rec.upper / rec.target)
    assert spans[1] < spans[0]


def test_day_night_usage_gets_a_schedule_only_where_allowed() -> None:
    t = times(7)
    v = day_night(t, 4.0, 0.5)
    rec = recommend(t, v, NOW, cpu_params(daily_schedule=True))
    assert rec is not None and rec.schedule is not None
    assert rec.request_at(12) == pytest.approx(4.0)
    assert rec.request_at(2) == pytest.approx(0.5)
    assert "schedule saves" in rec.reason
    flat = recommend(t, v, NOW, cpu_params(daily_schedule=False))
    assert flat is not None and flat.schedule is None and flat.target == pytest.approx(4.0)


def test_steady_usage_is_not_given_a_schedule() -> None:
    rng = np.random.default_rng(7)
    t = times(7)
    rec = recommend(t, 1.0 + rng.normal(0, 0.01, t.size), NOW, cpu_params(daily_schedule=True))
    assert rec is not None and rec.schedule is None


def test_recent_usage_outweighs_old_usage() -> None:
    t = times(10)
    v = np.where(t < NOW - 3 * DAY, 8.0, 1.0)  # was 8 cores, has used 1 for the last three days
    rec = recommend(t, v, NOW, cpu_params())
    assert rec is not None and rec.target == pytest.approx(1.0)


def test_bad_samples_future_samples_and_empty_history() -> None:
    t = times(2)
    v = np.full(t.size, 1.0)
    v[::7] = np.nan
    v[::11] = -5.0
    future_t = np.concatenate([t, [NOW + 10.0]])
    future_v = np.concatenate([v, [1000.0]])
    rec = recommend(future_t, future_v, NOW, cpu_params())
    assert rec is not None and rec.target == pytest.approx(1.0)
    assert recommend([], [], NOW, cpu_params()) is None
    with pytest.raises(ValueError):
        recommend([1.0, 2.0], [1.0], NOW, cpu_params())


def test_maximum_caps_the_request() -> None:
    t = times(2)
    rec = recommend(t, np.full(t.size, 10.0), NOW, cpu_params(maximum=4.0))
    assert rec is not None and rec.target == 4.0 and rec.upper == 4.0


# Multi-day histories, so the calibrated path (replayed days, multiplier, raise-fast floor) is the one tested.
history_st = st.tuples(
    st.integers(0, 2**32 - 1),  # rng seed
    st.integers(2, 6),  # days of history
    st.floats(0.01, 16),  # base level
    st.floats(0, 2),  # relative noise
    st.floats(0, 1),  # day/night amplitude
    st.floats(0, 0.05),  # share of spikes
)


def _history(params: tuple[int, int, float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    seed, days, level, noise, amplitude, spikes = params
    rng = np.random.default_rng(seed)
    t = times(days)
    hour = (t % DAY) // 3600
    v = level * (1 + amplitude * np.sin(hour / 24 * 2 * np.pi)) * (1 + noise * rng.random(t.size))
    v = np.where(rng.random(t.size) < spikes, v * 5, v)
    return t, v


@settings(max_examples=120, deadline=None)
@given(history_st, st.floats(0.5, 1.0), st.floats(0.5, 1.0), st.booleans())
def test_calibrated_request_is_monotone_in_the_percentile(history: tuple[int, int, float, float, float, float],
                                                          q1: float, q2: float, schedule: bool) -> None:
    t, v = _history(history)
    low, high = sorted((q1, q2))
    a = recommend(t, v, NOW, cpu_params(percentile=low, minimum=0.0, daily_schedule=schedule))
    b = recommend(t, v, NOW, cpu_params(percentile=high, minimum=0.0, daily_schedule=schedule))
    assert a is not None and b is not None
    assert a.target <= b.target + 1e-9
    # The choice of model does not depend on the percentile, so this holds hour by hour too.
    assert (a.schedule is None) == (b.schedule is None)
    for hour in range(24):
        assert a.request_at(hour) <= b.request_at(hour) + 1e-9


@settings(max_examples=40, deadline=None)
@given(history_st, st.floats(0, 8), st.floats(0.5, 1.0), st.booleans())
def test_calibrated_request_is_never_below_the_minimum_nor_the_newest_days_need(
        history: tuple[int, int, float, float, float, float], minimum: float, q: float, schedule: bool) -> None:
    t, v = _history(history)
    rec = recommend(t, v, NOW, cpu_params(percentile=q, minimum=minimum, daily_schedule=schedule))
    assert rec is not None
    assert min(rec.request_at(h) for h in range(24)) >= minimum
    assert rec.lower <= rec.target <= rec.upper
    # Raise fast: the busiest hour covers the newest day's samples but the share it aims to miss.
    assert rec.overrun_target is not None and 0 <= rec.overrun_target <= 0.6
    assert rec.overrun_target >= 0.6 * (1 - q) - 1e-12
    newest = np.sort(v[t > t.max() - DAY])
    assert rec.target >= newest[int(np.ceil((1 - rec.overrun_target) * newest.size)) - 1] * (1 - 1e-9)


@settings(max_examples=30, deadline=None)
@given(history_st, st.floats(100 * 2.0**20, 4 * 2.0**30))
def test_an_oom_kill_is_never_averaged_away(history: tuple[int, int, float, float, float, float],
                                            used: float) -> None:
    t, v = _history(history)
    v = v / 16 * 2.0**30  # bytes: up to a few GiB
    params = memory_params()
    # However long ago inside the lookback and however much lower usage has been since.
    for days_ago in (0.2, 3.0, 13.0):
        rec = recommend(t, v, NOW, params, ooms=[OomKill(NOW - days_ago * DAY, used)])
        assert rec is not None and rec.target >= oom_bump(used, params) - 1e-6
        assert min(rec.request_at(h) for h in range(24)) >= oom_bump(used, params) - 1e-6
