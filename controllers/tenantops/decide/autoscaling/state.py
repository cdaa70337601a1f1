"""What the autoscaler remembers about one workload between passes, in a form small enough to store as JSON.

The controller keeps one of these per workload (tens of thousands), so history is never kept raw: the
forecaster holds a level, a trend, a 24-bin daily profile with 7 weekday factors, and a handful of
pending forecasts awaiting their outcome; the behaviour stage holds only the recommendations and scale
events inside its windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DAY_BINS = 24
FORECASTERS = 3
VERSION = 1


@dataclass(slots=True)
class WorkloadState:
    """Mutable working copy; `to_json`/`from_json` are the stored form."""

    last_at: float | None = None  # epoch seconds of the newest observation used
    decided_at: float | None = None  # epoch seconds of the previous decision (its interval)
    count: int = 0  # observations seen
    level: float = 0.0  # demand in replica units at capacity
    trend: float = 0.0  # replica units per second
    last_value: float = 0.0  # the newest observation, for the "no change" and "same slope" forecasters
    slope: float = 0.0  # slope between the two newest observations, per second
    # Per forecaster (see forecast.FORECASTERS): mean absolute error at the provisioning lead (replica
    # units) and the conformal multiplier of it that covers the target share of outcomes.
    mae: list[float] = field(default_factory=lambda: [0.0] * FORECASTERS)
    quantile: list[float] = field(default_factory=lambda: [3.0] * FORECASTERS)
    pending: list[list[float]] = field(default_factory=list)  # [due_at, forecast..., scale...]
    day: list[float] = field(default_factory=list)  # demand by hour of day (empty until first seen)
    week: list[float] = field(default_factory=lambda: [1.0] * 7)  # weekday factors on the daily profile
    seasonal_weight: float = 0.0  # how much of the profile has been learnt (0..1)
    recommendations: list[list[float]] = field(default_factory=list)  # [at, replicas] in the windows
    events: list[list[float]] = field(default_factory=list)  # [at, change] scale events in the period
    idle_since: float | None = None  # demand below the activation threshold since (scale to zero)
    bad_passes: int = 0  # consecutive passes without usable metrics

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "at": self.last_at,
            "dec": self.decided_at,
            "n": self.count,
            "lvl": self.level,
            "trd": self.trend,
            "last": self.last_value,
            "slp": self.slope,
            "mae": list(self.mae),
            "q": list(self.quantile),
            "pend": [list(p) for p in self.pending],
            "day": list(self.day),
            "wk": list(self.week),
            "sw": self.seasonal_weight,
            "recs": [list(r) for r in self.recommendations],
            "ev": [list(e) for e in self.events],
            "idle": self.idle_since,
            "bad": self.bad_passes,
        }

    @classmethod
    def from_json(cls, data: Any) -> WorkloadState:
        """Rebuild from storage; anything unreadable (older version, hand edit) starts afresh."""
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return cls()
        try:
            return cls(
                last_at=_opt_float(data.get("at")),
                decided_at=_opt_float(data.get("dec")),
                count=int(data.get("n", 0)),
                level=float(data.get("lvl", 0.0)),
                trend=float(data.get("trd", 0.0)),
                last_value=float(data.get("last", 0.0)),
                slope=float(data.get("slp", 0.0)),
                mae=[float(x) for x in data["mae"]],
                quantile=[float(x) for x in data["q"]],
                pending=[[float(x) for x in p] for p in data.get("pend", [])],
                day=[float(x) for x in data.get("day", [])],
                week=[float(x) for x in data.get("wk", [1.0] * 7)],
                seasonal_weight=float(data.get("sw", 0.0)),
                recommendations=[[float(a), float(b)] for a, b in data.get("recs", [])],
                events=[[float(a), float(b)] for a, b in data.get("ev", [])],
                idle_since=_opt_float(data.get("idle")),
                bad_passes=int(data.get("bad", 0)),
            )
        except (TypeError, ValueError, KeyError):
            return cls()


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
