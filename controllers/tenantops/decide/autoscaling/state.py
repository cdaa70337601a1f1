"""What the autoscaler remembers about one workload between passes, in a form small enough to store as JSON.

The controller keeps one of these per workload (tens of thousands), so history is never kept raw: the
forecasters hold two levels, a trend, a 24-bin daily profile with 7 weekday factors, and for each
forecaster and lead an error scale and a conformal correction, and per level band a jump rate and size; the forecasts
awaiting their outcome are a handful; the behaviour stage holds only the recommendations and scale events
inside its windows (and the changes decided whose write has no outcome yet).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tenantops.structs.codec import StateCodec, StateUnreadable

log = logging.getLogger(__name__)

DAY_BINS = 24
FORECASTERS = 4
LEADS = 2  # scored leads with their own margins: the next pass and the provisioning lead
CELLS = FORECASTERS * LEADS
BANDS = 2  # level bands of the jump tail (quiet, busy: forecast.band), each with its own rate and size
TAIL_CELLS = CELLS * BANDS
VERSION = 7


def _cells(value: float) -> list[float]:
    return [value] * CELLS


def _tail_cells(value: float) -> list[float]:
    return [value] * TAIL_CELLS


@dataclass(slots=True)
class WorkloadState:
    """Mutable working copy; `to_json`/`from_json` are the stored form (`CODEC`, from these fields)."""

    last_at: float | None = None  # epoch seconds of the newest observation used
    decided_at: float | None = None  # epoch seconds of the previous decision (its interval)
    count: int = 0  # observations seen
    level: float = 0.0  # fast level of demand in replica units at capacity
    trend: float = 0.0  # its slope, replica units per second
    slow: float = 0.0  # slow level, replica units
    last_value: float = 0.0  # the newest observation
    saturated: int = 0  # consecutive observations at the ready replicas' capacity
    saturated_rounds: int = 0  # of them, rounds of replicas that were all ready and still at capacity
    direction: int = 0  # of the newest change of the count: +1 up, -1 down, 0 none yet
    churn: float = 0.0  # log factor widening the band, from how often the count reversed (recommender.learn_churn)
    calibration: float = 0.0  # log factor on every margin, from how often the replicas were saturated
    # Per forecaster x lead (forecast.margin_units): noise scale (mean absolute error below the jump
    # threshold, in sqrt(level + 1) units) and conformal correction; per band x forecaster x lead
    # (forecast.tail_cell): jump rate, mean jump excess and its square, jumps seen.
    err: list[float] = field(default_factory=lambda: _cells(1.0))
    rate: list[float] = field(default_factory=lambda: _tail_cells(0.0))
    excess: list[float] = field(default_factory=lambda: _tail_cells(0.0))
    excess2: list[float] = field(default_factory=lambda: _tail_cells(0.0))  # mean squared jump excess
    jumps: list[float] = field(default_factory=lambda: _tail_cells(0.0))  # jumps seen (up to the tail's memory)
    adjust: list[float] = field(default_factory=lambda: _cells(0.0))
    scored: list[float] = field(default_factory=lambda: [0.0] * (LEADS * BANDS))  # outcomes scored per band, lead
    # [due_at, lead, scale, band, forecasts..., margins...]
    pending: list[list[float]] = field(default_factory=list)
    day: list[float] = field(default_factory=list)  # demand by hour of day (empty until first seen)
    week: list[float] = field(default_factory=lambda: [1.0] * 7)  # weekday factors on the daily profile
    seasonal_weight: float = 0.0  # how much of the profile has been learnt (0..1)
    recommendations: list[list[float]] = field(default_factory=list)  # [at, replicas] in the windows
    events: list[list[float]] = field(default_factory=list)  # [at, change] scale events in the period
    # [at, change] decided and sent for writing, outcome not yet known: the engine's outcome stage (or the
    # restart's reading of the intent) turns each into a scale event or drops it (`behavior.settle`).
    proposed: list[list[float]] = field(default_factory=list)
    idle_since: float | None = None  # demand below the activation threshold since (scale to zero)
    bad_passes: int = 0  # consecutive passes without usable metrics

    def to_json(self) -> dict[str, Any]:
        return CODEC.dump(self)

    @classmethod
    def from_json(cls, data: Any) -> WorkloadState:
        """Rebuild from storage: older versions are migrated (`_MIGRATIONS`), nothing is dropped silently.

        No stored value (a new workload) is a fresh state. One that cannot be read (a newer version, a hand
        edit) is logged with the field that failed and starts afresh, so the next pass stores a good one.
        """
        if data is None:
            return cls()
        try:
            return CODEC.load(data)
        except StateUnreadable as exc:
            log.warning("autoscaling state unreadable (%s): this workload's forecasts start afresh", exc)
            return cls()


_V5_KEYS = {
    "at": "last_at", "dec": "decided_at", "n": "count", "lvl": "level", "trd": "trend", "slow": "slow",
    "last": "last_value", "sat": "saturated", "cal": "calibration", "err": "err", "rate": "rate",
    "exc": "excess", "exc2": "excess2", "jmp": "jumps", "adj": "adjust", "scd": "scored", "pend": "pending",
    "day": "day", "wk": "week", "sw": "seasonal_weight", "recs": "recommendations", "ev": "events",
    "idle": "idle_since", "bad": "bad_passes",
}
"""The short keys version 5 stored (written out by hand then); version 6 stores the field names."""


def _before_leads(data: dict[str, Any]) -> dict[str, Any]:
    """Versions 1-4 (one margin per forecaster, no leads): the stabilisation window, scale events, daily
    profile and idle clock carry over; the forecasters start afresh (they warm up in minutes)."""
    kept = ("day", "wk", "sw", "recs", "ev", "idle", "bad")
    return {"v": 5, **{k: data[k] for k in kept if k in data}}


def _field_names(data: dict[str, Any]) -> dict[str, Any]:
    return {"v": 6, **{_V5_KEYS[k]: v for k, v in data.items() if k in _V5_KEYS}}


def _banded_tail(data: dict[str, Any]) -> dict[str, Any]:
    """Version 6 pooled the jump tail over levels: every band starts from the pooled tail (so no margin
    narrows on upgrade until the band's own outcomes say so). The forecasts awaiting their outcome carry no
    band and are dropped: they are a pass or two of scoring."""
    out = {**data, "v": 7, "pending": []}
    for key in ("rate", "excess", "excess2", "jumps"):
        if isinstance(data.get(key), list):
            out[key] = list(data[key]) * BANDS
    if isinstance(data.get("scored"), list):
        out["scored"] = list(data["scored"]) * BANDS
    return out


_MIGRATIONS = {1: _before_leads, 2: _before_leads, 3: _before_leads, 4: _before_leads, 5: _field_names,
               6: _banded_tail}


def _check(state: WorkloadState) -> str | None:
    if len(state.err) != CELLS or len(state.adjust) != CELLS:
        return f"margin cells are not {CELLS} long"
    if any(len(c) != TAIL_CELLS for c in (state.rate, state.excess, state.excess2, state.jumps)):
        return f"jump tail cells are not {TAIL_CELLS} long"
    if len(state.scored) != LEADS * BANDS or len(state.week) != 7 or len(state.day) not in (0, DAY_BINS):
        return "scored, week or day has the wrong length"
    return None


CODEC = StateCodec(WorkloadState, VERSION, _MIGRATIONS, _check)
"""The stored form, generated from the fields: adding or removing a field is a one-line change above
(and a migration when an old value must be carried over)."""
