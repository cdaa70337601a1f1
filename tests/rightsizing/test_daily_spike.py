"""A spike that recurs at the same UTC hour every day (a scheduled job) is covered in its hour only."""

from __future__ import annotations

import numpy as np
import pytest

from tenantops.decide.rightsizing.calibration import recurring_spike
from tenantops.decide.rightsizing.recommender import recommend

from .helpers import DAY, NOW, cpu_params, day_night, times

HOUR = 3600.0


def _noise(days: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    t = times(days)
    return t, np.random.default_rng(seed).uniform(0.9, 1.1, t.size)


def _spike_at(t: np.ndarray, v: np.ndarray, hours: list[int], height: float) -> np.ndarray:
    """One sample of `height` five minutes into `hours[d]` on day d (counted back from NOW)."""
    v = v.copy()
    for back, hour in enumerate(hours, start=1):
        at = NOW - back * DAY + hour * HOUR + 300.0
        v[np.argmin(np.abs(t - at))] = height
    return v


@pytest.mark.parametrize("seed", range(5))
def test_a_daily_cron_spike_gets_a_schedule_that_covers_it_in_its_hour(seed: int) -> None:
    t, v = _noise(8, seed)
    v = _spike_at(t, v, [3] * 8, 5.0)
    rec = recommend(t, v, NOW, cpu_params(daily_schedule=True, margin=0.1))
    assert rec is not None and rec.schedule is not None
    assert rec.request_at(3) >= 5.0 * 1.1 - 1e-9 and rec.target == rec.request_at(3)
    # The rest of the day is held at a level calibrated without the spike: about the noise's peak.
    assert all(1.0 <= rec.request_at(h) <= 1.1 * 1.1 + 1e-9 for h in range(24) if h != 3)
    assert "03:00 UTC" in rec.reason
    # Without a schedule the job's hour is still covered, all day (and with the policy's flat model).
    flat = recommend(t, v, NOW, cpu_params(daily_schedule=False, margin=0.1))
    assert flat is not None and flat.schedule is None


def test_a_spike_missing_on_some_days_still_counts_when_it_recurs_on_most() -> None:
    t, v = _noise(7, 11)
    v = _spike_at(t, v, [3] * 7, 5.0)
    v[(t >= NOW - 2 * DAY + 3 * HOUR) & (t < NOW - 2 * DAY + 4 * HOUR)] = 1.0  # one day without the job
    found = recurring_spike(t, v, NOW, 0.0)
    assert found is not None and found[0] == 3 and found[1] == pytest.approx(5.0)


@pytest.mark.parametrize("seed", range(5))
def test_pure_noise_gets_no_schedule(seed: int) -> None:
    t, v = _noise(8, seed)
    assert recurring_spike(t, v, NOW, 0.1) is None
    rec = recommend(t, v, NOW, cpu_params(daily_schedule=True, margin=0.1))
    assert rec is not None and rec.schedule is None


@pytest.mark.parametrize("seed", range(5))
def test_a_spike_at_a_moving_hour_gets_no_schedule(seed: int) -> None:
    t, v = _noise(8, seed)
    hours = [int(h) for h in np.random.default_rng(100 + seed).permutation(24)[:8]]
    v = _spike_at(t, v, hours, 5.0)
    assert recurring_spike(t, v, NOW, 0.1) is None
    rec = recommend(t, v, NOW, cpu_params(daily_schedule=True, margin=0.1))
    assert rec is not None and rec.schedule is None and rec.target >= 1.0


def test_three_days_are_needed_and_a_busiest_hour_barely_above_the_rest_is_no_job() -> None:
    t, v = _noise(3, 5)
    assert recurring_spike(t, _spike_at(t, v, [3] * 3, 5.0), NOW, 0.0) is not None
    t2, v2 = _noise(2, 5)
    assert recurring_spike(t2, _spike_at(t2, v2, [3] * 2, 5.0), NOW, 0.0) is None
    # The top of a smooth day: the same hour is busiest every day, but holding it all day costs little.
    hour = (t % DAY) // HOUR
    smooth = 1.0 + 0.5 * np.cos((hour - 15) / 24 * 2 * np.pi)
    assert recurring_spike(t, smooth, NOW, 0.0) is None


def test_the_covered_spike_keeps_the_request_monotone_in_the_percentile_hour_by_hour() -> None:
    t, v = _noise(8, 3)
    v = _spike_at(t, v, [3] * 8, 5.0)
    low, high = (recommend(t, v, NOW, cpu_params(daily_schedule=True, percentile=q)) for q in (0.6, 0.999))
    assert low is not None and high is not None and low.schedule is not None and high.schedule is not None
    assert all(low.request_at(h) <= high.request_at(h) + 1e-9 for h in range(24))


def test_a_daily_job_on_a_day_night_workload_keeps_the_day_night_schedule() -> None:
    t = times(8)
    v = day_night(t, 4.0, 0.5)
    v = _spike_at(t, v, [3] * 8, 8.0)
    rec = recommend(t, v, NOW, cpu_params(daily_schedule=True))
    assert rec is not None and rec.schedule is not None
    assert rec.request_at(3) >= 8.0 and rec.request_at(12) == pytest.approx(4.0)
    assert rec.request_at(22) == pytest.approx(0.5) and "hourly p" in rec.reason
