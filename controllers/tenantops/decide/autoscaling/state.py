"""What the autoscaler remembers about one workload between passes, in a form small enough to store as JSON.

The controller keeps one of these per workload (tens of thousands), so history is never kept raw: the
forecasters hold two levels, a trend, a 24-bin daily profile with 7 weekday factors, and for each
forecaster and lead an error scale, a jump rate and size and a conformal correction; the forecasts
awaiting their outcome are a handful; the behaviour stage holds only the recommendations and scale events
inside its windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DAY_BINS = 24
FORECASTERS = 4
LEADS = 2  # scored leads with their own margins: the next pass and the provisioning lead
CELLS = FORECASTERS * LEADS
VERSION = 5


def _cells(value: float) -> list[float]:
    return [value] * CELLS


@dataclass(slots=True)
class WorkloadState:
    """Mutable working copy; `to_json`/`from_json` are the stored form."""

    last_at: float | None = None  # epoch seconds of the newest observation used
    decided_at: float | None = None  # epoch seconds of the previous decision (its interval)
    count: int = 0  # observations seen
    level: float = 0.0  # fast level of demand in replica units at capacity
    trend: float = 0.0  # its slope, replica units per second
    slow: float = 0.0  # slow level, replica units
    last_value: float = 0.0  # the newest observation
    saturated: int = 0  # consecutive observations at the ready replicas' capacity
    calibration: float = 0.0  # log factor on every margin, from how often the replicas were saturated
    # Per forecaster x lead (forecast.margin_units): noise scale (mean absolute error below the jump
    # threshold, in sqrt(level + 1) units), jump rate, mean jump excess and its square, conformal correction.
    err: list[float] = field(default_factory=lambda: _cells(1.0))
    rate: list[float] = field(default_factory=lambda: _cells(0.0))
    excess: list[float] = field(default_factory=lambda: _cells(0.0))
    excess2: list[float] = field(default_factory=lambda: _cells(0.0))  # mean squared jump excess
    jumps: list[float] = field(default_factory=lambda: _cells(0.0))  # jumps seen (up to the tail's memory)
    adjust: list[float] = field(default_factory=lambda: _cells(0.0))
    scored: list[float] = field(default_factory=lambda: [0.0] * LEADS)  # outcomes scored per lead
    pending: list[list[float]] = field(default_factory=list)  # [due_at, lead, scale, forecasts..., margins...]
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
            "slow": self.slow,
            "last": self.last_value,
            "sat": self.saturated,
            "cal": self.calibration,
            "err": list(self.err),
            "rate": list(self.rate),
            "exc": list(self.excess),
            "exc2": list(self.excess2),
            "jmp": list(self.jumps),
            "adj": list(self.adjust),
            "scd": list(self.scored),
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
        Older versions (one margin per forecaster, no leads) keep their stabilisation window, scale events,
        daily profile and idle clock; the forecasters start afresh (they warm up in minutes).
        """
        if not isinstance(data, dict) or data.get("v") not in (1, 2, 3, 4, VERSION):
            return cls()
        try:
            if data["v"] != VERSION:
                return cls(day=list(data["day"]), week=list(data["wk"]), seasonal_weight=float(data["sw"]),
                           recommendations=[list(r) for r in data["recs"]], events=[list(e) for e in data["ev"]],
                           idle_since=data["idle"], bad_passes=int(data["bad"]))
            state = cls(
                last_at=data["at"],
                decided_at=data["dec"],
                count=int(data["n"]),
                level=float(data["lvl"]),
                trend=float(data["trd"]),
                slow=float(data["slow"]),
                last_value=float(data["last"]),
                saturated=int(data["sat"]),
                calibration=float(data["cal"]),
                err=list(data["err"]),
                rate=list(data["rate"]),
                excess=list(data["exc"]),
                excess2=list(data["exc2"]),
                jumps=list(data["jmp"]),
                adjust=list(data["adj"]),
                scored=list(data["scd"]),
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
        cells = (state.err, state.rate, state.excess, state.excess2, state.jumps, state.adjust)
        if (any(len(c) != CELLS for c in cells) or len(state.scored) != LEADS or len(state.week) != 7
                or len(state.day) not in (0, DAY_BINS)):
            return cls()
        return state
