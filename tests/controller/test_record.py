"""Durable state, the audit command, and the health/metrics port (the store on both backends: tests/state)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.cli.main import cli
from tenantops.record import audit
from tenantops.record.http import Health, HealthServer
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops.structs.plan import Decision

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def _decision(tenant: str, at: datetime = NOW, kind: str = "scale", **kw) -> Decision:
    return Decision(at, tenant, "api", kind, kw.get("rule", "r"), kw.get("reason", "because"), 1, 2, {"x": 1})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from("abcde"), st.one_of(st.none(), st.integers(), st.text(max_size=5),
                                                                      st.lists(st.integers(), max_size=3)),
                                max_size=4), max_size=6))
def test_property_store_equals_replaying_the_changes(batches) -> None:
    store = StateStore(":memory:")
    model: dict = {}
    for batch in batches:
        store.commit({"d": batch})
        for k, v in batch.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
        assert dict(store.state("d")) == model
    with store.engine.connect() as conn:
        rows = {k: v for k, v in conn.execute(sa.text("SELECT key, value FROM state WHERE decider = 'd'"))}
    assert {k: json.loads(v) for k, v in rows.items()} == model


def test_parse_since() -> None:
    assert audit.parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert audit.parse_since("30m", NOW) == NOW - timedelta(minutes=30)
    assert audit.parse_since("2026-04-01T10:00:00", NOW) == datetime(2026, 4, 1, 10, tzinfo=UTC)
    assert audit.parse_since("2026-04-01T10:00:00Z", NOW) == datetime(2026, 4, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither"):
        audit.parse_since("yesterday", NOW)


def test_audit_command_filters_and_json(tmp_path) -> None:
    path = tmp_path / "s.db"
    recent = datetime.now(UTC) - timedelta(minutes=5)
    with StateStore(path) as store:
        store.commit({}, [_decision("old", recent - timedelta(days=3)), _decision("acme", recent, reason="up"),
                          _decision("acme", recent, kind="skip", reason="stale"), _decision("other", recent)])
    runner = CliRunner()
    out = runner.invoke(cli, ["audit", "--state", str(path), "--tenant", "acme", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [(r["tenant"], r["kind"], r["reason"]) for r in rows] == [("acme", "scale", "up"), ("acme", "skip", "stale")]
    assert rows[0]["inputs"] == {"x": 1} and rows[0]["old"] == 1 and rows[0]["new"] == 2
    out = runner.invoke(cli, ["audit", "--state", str(path), "--since", "1h", "--kind", "scale"])
    assert out.exit_code == 0
    lines = out.output.strip().splitlines()
    assert len(lines) == 2 and all(" scale " in line for line in lines) and "old" not in out.output
    out = runner.invoke(cli, ["audit", "--state", str(path), "--limit", "1", "--json"])
    assert [r["tenant"] for r in json.loads(out.output)] == ["other"]  # the newest


def test_audit_command_bad_input_exits_2(tmp_path) -> None:
    from tenantops.cli.main import main

    path = tmp_path / "s.db"
    StateStore(path).close()
    for args in (["audit", "--state", str(path), "--since", "last tuesday"],
                 ["audit", "--state", str(tmp_path / "nope.db")]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2


def _get(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 (loopback test server)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_health_and_metrics_on_one_port_and_nothing_else() -> None:
    clock = [100.0]
    health = Health(stall_after=60, clock=lambda: clock[0])
    metrics = ControllerMetrics()
    metrics.passes.labels("ok").inc()
    server = HealthServer(health, metrics.registry, host="127.0.0.1", port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert _get(f"{base}/healthz") == (200, "ok\n")
        assert _get(f"{base}/readyz")[0] == 503  # no pass yet
        health.set_ready(True)
        assert _get(f"{base}/readyz") == (200, "ok\n")
        status, body = _get(f"{base}/metrics")
        assert status == 200 and 'tenantops_passes_total{result="ok"} 1.0' in body
        for path in ("/", "/debug/pprof", "/metrics/../etc/passwd", "/healthz/x"):
            assert _get(f"{base}{path}")[0] == 404
        assert _get(f"{base}/metrics", method="POST")[0] == 405
        clock[0] += 61  # the loop stopped ticking
        status, body = _get(f"{base}/healthz")
        assert status == 503 and "stalled" in body
    finally:
        server.stop()
