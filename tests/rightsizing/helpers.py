"""Builders for right-sizing tests: parameters, synthetic histories with a known shape."""

from __future__ import annotations

import dataclasses

import numpy as np

from tenantops.decide.rightsizing.recommender import ResourceParams

DAY = 86400.0
NOW = 1_700_006_400.0  # 2023-11-15 00:00:00 UTC, a day boundary


def cpu_params(**overrides: object) -> ResourceParams:
    base = ResourceParams(resource="cpu", percentile=0.95, margin=0.0, half_life_hours=16, minimum=0.025)
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def memory_params(**overrides: object) -> ResourceParams:
    base = ResourceParams(resource="memory", percentile=0.99, margin=0.15, half_life_hours=16,
                          minimum=250 * 2.0**20)
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def times(days: float, step: float = 300.0, end: float = NOW) -> np.ndarray:
    """Sample times every `step` seconds over the `days` before `end` (exclusive)."""
    count = int(days * DAY / step)
    return end - step * np.arange(count, 0, -1)


def day_night(t: np.ndarray, day_value: float, night_value: float) -> np.ndarray:
    """`day_value` from 08:00 to 20:00 UTC, `night_value` otherwise."""
    hour = (t % DAY) // 3600
    return np.where((hour >= 8) & (hour < 20), day_value, night_value)
