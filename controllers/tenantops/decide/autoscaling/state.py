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
VERSION = 3


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
        """Rebuild from storage; anything unreadable (unknown version, hand edit) starts afresh.

        Lists are copied (the stored value is never mutated) but not converted element by element: this
        runs for every workload on every pass, and the stored form is only ever written by `to_json`.
        Versions 1 and 2 hold every field this one has (version 2 also kept a coarse-source model that is
        gone: its keys are ignored), so an upgrade keeps every workload's forecast and stabilisation window.
        """
        if not isinstance(data, dict) or data.get("v") not in (1, 2, VERSION):
            return cls()
        try:
            state = cls(
                last_at=data["at"],
                decided_at=data["dec"],
                count=int(data["n"]),
                level=float(data["lvl"]),
                trend=float(data["trd"]),
                last_value=float(data["last"]),
                slope=float(data["slp"]),
                mae=list(data["mae"]),
                quantile=list(data["q"]),
                pending=[list(p) for p in data["pend"]],
                day=list(data["day"]),
                week=list(data["wk"]),
                seasonal_weight=float(data["sw"]),
                recommendations=[list(r) for r in data["recs"]],
                events=[list(e) for e in data["ev"]],
                idle_since=data["idle"],
                bad_passes=int(data["bad"]),
            )
        except (TypeError, ValueError, KeyError):
            return cls()
        if (len(state.mae) != FORECASTERS or len(state.quantile) != FORECASTERS or len(state.week) != 7
                or len(state.day) not in (0, DAY_BINS)):
            return cls()
        return state

