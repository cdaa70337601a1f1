"""Weighted percentiles and decay: the statistics every recommendation rests on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.rightsizing.estimator import decay_weights, hourly_profile, weighted_percentile

values_st = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60)


def test_percentile_of_equal_weights_matches_the_order_statistic() -> None:
    v = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    w = np.ones(5)
    assert weighted_percentile(v, w, 0.2) == 1.0
    assert weighted_percentile(v, w, 0.5) == 3.0
    assert weighted_percentile(v, w, 0.9) == 5.0
    assert weighted_percentile(v, w, 1.0) == 5.0


def test_heavier_recent_samples_pull_the_percentile() -> None:
    v = np.array([10.0, 1.0])
    assert weighted_percentile(v, np.array([1.0, 9.0]), 0.5) == 1.0
    assert weighted_percentile(v, np.array([9.0, 1.0]), 0.5) == 10.0


def test_decay_halves_per_half_life_and_ignores_the_future() -> None:
    w = decay_weights(np.array([0.0, 3600.0 * 16, 3600.0 * 32, 3600.0 * 40]), 3600.0 * 32, 16)
    assert w.tolist() == pytest.approx([0.25, 0.5, 1.0, 1.0])


def test_no_samples_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError):
        weighted_percentile(np.empty(0), np.empty(0), 0.5)


@settings(deadline=None)  # a property, not a timing: examples may wait for a shared CPU
@given(values_st, st.floats(0.01, 1.0), st.floats(0.01, 1.0))
def test_percentile_is_monotone_and_one_of_the_samples(values: list[float], q1: float, q2: float) -> None:
    v = np.array(values)
    w = np.linspace(0.1, 1.0, v.size)
    low, high = sorted((q1, q2))
    a, b = weighted_percentile(v, w, low), weighted_percentile(v, w, high)
    assert a <= b
    assert a in v and b in v
    assert v.min() <= a <= v.max()


def test_profile_needs_every_hour_seen() -> None:
    t = np.arange(0, 12 * 3600, 300, dtype=float)  # only 00:00-12:00
    v = np.ones_like(t)
    assert hourly_profile(t, v, np.ones_like(t), 0.5, 1) is None
    full = np.arange(0, 86400, 300, dtype=float)
    profile = hourly_profile(full, (full // 3600).astype(float), np.ones_like(full), 0.5, 0)
    assert profile is not None and profile.tolist() == [float(h) for h in range(24)]
