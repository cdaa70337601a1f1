"""The declared, versioned state codec (`structs.codec`) as WorkloadState uses it: generated from the
fields, older versions migrated rather than reset, unreadable ones logged with the field."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantops.decide.autoscaling.state import BANDS, CELLS, CODEC, VERSION, WorkloadState

finite = st.floats(-1e6, 1e6, allow_nan=False)


def test_the_stored_form_is_every_field_and_the_version() -> None:
    stored = WorkloadState().to_json()
    assert set(stored) == {"v"} | {f.name for f in dataclasses.fields(WorkloadState)}
    assert stored["v"] == VERSION == CODEC.version


@given(level=finite, trend=finite, count=st.integers(0, 10**6), bad=st.integers(0, 100),
       recs=st.lists(st.tuples(finite, finite).map(list), max_size=5), idle=st.none() | finite)
def test_property_round_trip_through_json(level: float, trend: float, count: int, bad: int,
                                          recs: list[list[float]], idle: float | None) -> None:
    state = WorkloadState(level=level, trend=trend, count=count, bad_passes=bad, recommendations=recs,
                          idle_since=idle, err=[float(i) for i in range(CELLS)])
    again = WorkloadState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state


def test_version_5_short_keys_are_migrated_not_reset() -> None:
    v5 = {"v": 5, "at": 100.0, "dec": 90.0, "n": 42, "lvl": 3.5, "trd": 0.01, "slow": 3.0, "last": 3.4,
          "sat": 0, "cal": 0.1, "err": [1.0] * CELLS, "rate": [0.0] * CELLS, "exc": [0.0] * CELLS,
          "exc2": [0.0] * CELLS, "jmp": [0.0] * CELLS, "adj": [0.0] * CELLS, "scd": [2.0, 1.0], "pend": [],
          "day": [], "wk": [1.0] * 7, "sw": 0.2, "recs": [[95.0, 4.0]], "ev": [], "idle": None, "bad": 1}
    state = WorkloadState.from_json(v5)
    assert (state.level, state.count, state.last_at, state.recommendations) == (3.5, 42, 100.0, [[95.0, 4.0]])


def test_version_6_pooled_jump_tail_seeds_every_level_band() -> None:
    """Version 6 kept one jump tail over all levels: each band starts from it (no margin narrows on upgrade
    before the band's own outcomes say so); forecasts awaiting their outcome had no band and are dropped."""
    v6 = {**WorkloadState(level=3.5, count=42).to_json(), "v": 6,
          "rate": [0.05] * CELLS, "excess": [2.0] * CELLS, "excess2": [5.0] * CELLS, "jumps": [7.0] * CELLS,
          "scored": [300.0, 200.0], "pending": [[160.0, 0.0, 1.5, 3.0, 3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0]]}
    state = WorkloadState.from_json(v6)
    assert (state.level, state.count, state.pending) == (3.5, 42, [])
    assert state.rate == [0.05] * (CELLS * BANDS) and state.excess2 == [5.0] * (CELLS * BANDS)
    assert state.jumps == [7.0] * (CELLS * BANDS) and state.scored == [300.0, 200.0] * BANDS


def test_versions_before_leads_keep_the_window_and_restart_the_forecasters() -> None:
    v3 = {"v": 3, "lvl": 9.0, "day": [], "wk": [1.0] * 7, "sw": 0.5, "recs": [[1.0, 7.0]], "ev": [[2.0, 1.0]],
          "idle": 5.0, "bad": 2}
    state = WorkloadState.from_json(v3)
    assert state.recommendations == [[1.0, 7.0]] and state.events == [[2.0, 1.0]] and state.idle_since == 5.0
    assert state.level == 0.0 and state.seasonal_weight == 0.5


def test_unreadable_state_is_logged_with_the_field_not_silently_reset(caplog: pytest.LogCaptureFixture) -> None:
    stored = WorkloadState(level=2.0).to_json()
    with caplog.at_level(logging.WARNING, logger="tenantops.decide.autoscaling.state"):
        assert WorkloadState.from_json({**stored, "level": "lots"}) == WorkloadState()
        assert WorkloadState.from_json({**stored, "v": VERSION + 1}) == WorkloadState()
    messages = [r.getMessage() for r in caplog.records]
    assert any("field 'level'" in m for m in messages) and any(f"version {VERSION + 1}" in m for m in messages)
    assert WorkloadState.from_json(None) == WorkloadState()  # a new workload: no stored state, nothing to log
