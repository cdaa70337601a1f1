"""Turning query answers into readings: quality marks, never a made-up zero, one request per distinct query."""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config import Config, load_config
from tenantops.config.catalog import CatalogSpec
from tenantops.config.loader import Config as ConfigType
from tenantops.observe.prometheus import PlannedQuery, absorb, plan_queries
from tenantops.observe.usage_history import RangeQuery, absorb_matrix
from tenantops.structs.snapshot import Quality, Reading, WorkloadMetrics
from tenantops_lab.bench.catalog import synthetic_catalog

NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
END = NOW.timestamp()


def _planned(name: str = "cpu", tenants: frozenset[str] = frozenset({"a", "b"})) -> PlannedQuery:
    return PlannedQuery("q", 180, {name: tenants})


def _series(tenant: str, workload: str, *points: tuple[float, str]) -> dict:
    return {"metric": {"tenant": tenant, "workload": workload}, "values": [list(p) for p in points]}


def test_quality_marks_and_staleness() -> None:
    readings = {("a", k): {} for k in ("ok", "nan", "inf", "neg", "stale", "absent", "zero")}
    result = [
        _series("a", "ok", (END - 180, "1"), (END, "2.5")),
        _series("a", "nan", (END, "NaN")),
        _series("a", "inf", (END, "+Inf")),
        _series("a", "neg", (END, "-3")),
        _series("a", "stale", (END - 180, "7")),
        _series("a", "zero", (END, "0")),
    ]
    assert absorb(result, _planned(), NOW, readings) == 0
    got = {w: r.get("cpu") for (_, w), r in readings.items()}
    assert got["ok"] == Reading(2.5, Quality.OK, NOW)
    assert got["zero"] == Reading(0.0, Quality.OK, NOW)
    assert got["nan"].quality is Quality.NAN and got["nan"].value is None
    assert got["inf"].quality is Quality.INF and got["inf"].value is None
    assert got["neg"].quality is Quality.NEGATIVE and got["neg"].value is None
    assert got["stale"].quality is Quality.STALE and got["stale"].value == 7.0
    assert got["stale"].sampled_at.timestamp() == END - 180
    assert got["absent"] is None  # reads as MISSING through WorkloadMetrics.get
    assert WorkloadMetrics("a", "absent", readings[("a", "absent")]).get("cpu").quality is Quality.MISSING


def test_odd_series_are_ignored_not_fatal() -> None:
    readings = {("a", "api"): {}}
    result = [
        {"metric": {"workload": "api"}, "values": [[END, "1"]]},  # no tenant label
        _series("zzz", "api", (END, "1")),  # not in the catalogue
        _series("a", "api", (END, "not-a-number")),
        {"metric": {"tenant": "a", "workload": "api"}, "values": []},
        _series("a", "api", (END, "4")),
    ]
    assert absorb(result, _planned(), NOW, readings) == 4
    assert readings[("a", "api")]["cpu"].value == 4.0


def test_malformed_timestamps_and_labels_are_ignored_not_fatal() -> None:
    """A proxy or exporter bug can send any JSON; one bad series is counted and skipped, the rest is read."""
    readings = {("a", "api"): {}}
    result = [
        {"metric": {"tenant": "a", "workload": "api"}, "values": [[stamp, "1"]]}
        for stamp in ("NaN", "+Inf", 1e20, -1e20, "x", None, [END])
    ] + [
        {"metric": {"tenant": ["a"], "workload": "api"}, "values": [[END, "1"]]},  # unhashable label value
        _series("a", "api", (END, "4")),
    ]
    assert absorb(result, _planned(), NOW, readings) == 8
    assert readings[("a", "api")]["cpu"] == Reading(4.0, Quality.OK, NOW)


def test_history_points_with_non_finite_times_are_dropped() -> None:
    planned = RangeQuery("cpu", "q", timedelta(days=1), 60, frozenset({"a"}))
    samples: dict[tuple[str, str, str, str], list[tuple[float, float]]] = {}
    series = {"metric": {"tenant": "a", "workload": "api"},
              "values": [[END - 60, "0.5"], ["NaN", "0.7"], ["+Inf", "0.9"], [END, "0.6"]]}
    assert absorb_matrix([series], planned, {("a", "api")}, samples) == 0
    assert samples[("a", "api", "cpu", "")] == [(END - 60, 0.5), (END, 0.6)]


def test_history_points_outside_the_sane_range_are_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The live pass marks 1e300 cores IMPLAUSIBLE; the history right-sizing reads must not take it as a peak."""
    known = {("a", "api")}
    cpu = RangeQuery("cpu", "q", timedelta(days=1), 60, frozenset({"a"}))
    memory = RangeQuery("memory", "q", timedelta(days=1), 60, frozenset({"a"}))
    samples: dict[tuple[str, str, str, str], list[tuple[float, float]]] = {}
    with caplog.at_level("WARNING"):
        absorb_matrix([{"metric": {"tenant": "a", "workload": "api"},
                        "values": [[END - 120, "0.5"], [END - 60, "1e300"], [END, "99999"]]}], cpu, known, samples)
        absorb_matrix([{"metric": {"tenant": "a", "workload": "api"},
                        "values": [[END - 60, str(2.0**51)], [END, str(2.0**30)]]}], memory, known, samples)
    assert samples[("a", "api", "cpu", "")] == [(END - 120, 0.5), (END, 99999.0)]
    assert samples[("a", "api", "memory", "")] == [(END, 2.0**30)]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["a/api: 1 cpu history point(s) above the sane limit of 100000 ignored",
                        f"a/api: 1 memory history point(s) above the sane limit of {2.0**50:g} ignored"]


def test_same_text_under_two_names_feeds_each_tenant_its_own_name() -> None:
    planned = PlannedQuery("q", 180, {"cpu": frozenset({"a"}), "load": frozenset({"b"})})
    readings = {("a", "w"): {}, ("b", "w"): {}}
    absorb([_series("a", "w", (END, "1")), _series("b", "w", (END, "2"))], planned, NOW, readings)
    assert set(readings[("a", "w")]) == {"cpu"} and set(readings[("b", "w")]) == {"load"}


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["NaN", "+Inf", "-Inf", "0", "-0", "1e308"]),
)


@given(st.lists(st.tuples(st.sampled_from(["w1", "w2", "w3", "w4"]), values, st.booleans()), max_size=12))
def test_property_every_reading_is_either_trustworthy_or_marked(entries: list) -> None:
    readings = {("a", w): {} for w in ("w1", "w2", "w3", "w4")}
    result = [_series("a", w, (END if fresh else END - 180, str(v) if not isinstance(v, str) else v))
              for w, v, fresh in entries]
    absorb(result, _planned(tenants=frozenset({"a"})), NOW, readings)
    for (_, w), found in readings.items():
        reading = WorkloadMetrics("a", w, found).get("cpu")
        if reading.quality is Quality.OK:
            assert reading.value is not None and math.isfinite(reading.value) and reading.value >= 0
        else:
            assert not reading.ok
        mine = [e for e in entries if e[0] == w]
        if not mine:
            assert reading.quality is Quality.MISSING  # never a zero for a series that is not there
        elif not mine[-1][2]:
            assert reading.quality is Quality.STALE


@functools.cache
def _base() -> ConfigType:
    root = Path(__file__).resolve().parents[2]
    return load_config(root / "stacks/dev.catalog.yaml", root / "policies")


@functools.cache
def _synthetic(n: int) -> Config:
    return Config(CatalogSpec.model_validate(synthetic_catalog(n)), _base().policies)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=300))
def test_property_requests_do_not_grow_with_tenants(n: int) -> None:
    config = _synthetic(n)
    planned = plan_queries(config, config.tenants)
    distinct = {q.strip() for t in config.tenants for q in config.for_tenant(t).metrics.queries.values()}
    assert len(planned) == len(distinct) <= 10
    readers = {tid for p in planned for ids in p.readers.values() for tid in ids}
    assert readers == {t.id for t in config.tenants}
