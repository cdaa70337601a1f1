"""`tenantops demo` end to end, as a user runs it: real servers, the real controller, a mailed report.

Runs the console script in a subprocess (its own signal handling and threads, as on a terminal) and
judges it by what it leaves behind: the summary, the audit log, the mail the SMTP server stored, and the
absence of any server process or port afterwards.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tenantops_lab.sandbox.ports import is_listening

# The subprocess gets 600 s (`communicate`); on two shared cores the set-up alone (backfill, the cost passes
# over the history) takes up to two minutes of the suite-wide 300 s.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[3]


def _demo(output: Path, traces: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TENANTOPS_TRACES": str(traces)}
    return subprocess.Popen(
        [sys.executable, "-m", "tenantops.cli.main", "demo", "--no-live", "--json", "--output", str(output), *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _assert_torn_down(servers: dict[str, int]) -> None:
    assert servers["prometheus_pid"] and _gone(servers["prometheus_pid"])
    for name, port in servers.items():
        if name.endswith("_port"):
            assert not is_listening(port), f"{name} {port} still listening"


def test_a_short_demo_scales_both_ways_mails_a_month_and_explains_every_action(
        tmp_path: Path, traces_dir: Path) -> None:
    proc = _demo(tmp_path, traces_dir, "--minutes", "1")
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    result = json.loads(stdout)

    assert result["problems"] == []
    assert result["scaled_up"], "no tenant was scaled up"
    assert result["scaled_down"], "no tenant was scaled down"
    assert result["latency_up"]["count"] > 0 and result["latency_up"]["p50"] is not None

    # The controller ran on trace time: a one-minute replay covers about an hour of it.
    start, end = (datetime.fromisoformat(result[k]) for k in ("trace_start", "trace_end"))
    assert 40 * 60 < (end - start).total_seconds() < 70 * 60

    # Two months of recorded history went in with promtool and the controller's cost passes read it.
    history = result["history"]
    assert history["days"] == 60 and history["samples"] > 100_000
    assert history["cost_passes"] >= 59 * 24 and history["cost_failed_passes"] == 0

    # The report holds a month with the story in it, counted from the report's own data.
    report = result["report"]
    assert report["days_with_cost"] == 30
    assert report["total_usd"] > 100  # dollars, not the pennies of wall-clock cost
    assert report["budget_warnings"], "no tenant heading over budget"
    # The history is laid at the same phase of the UTC week in every run (`demo.clock.replay_origin`), so the
    # recorded hours the detector judges do not move with the hour the test runs at.
    assert report["anomalies"], "no cost anomaly"
    assert report["savings"] > 0 and report["savings_usd_month"] > 0
    assert report["top_movers"]

    # Every workload is measured against its tier's goal, in trace minutes.
    figures = result["workloads"]
    assert len(figures) == 17
    for w in figures:
        assert w["minutes"] > 30
        assert 0 <= w["under_provisioned_minutes"] <= w["minutes"]
        assert w["violation_rate"] == pytest.approx(w["under_provisioned_minutes"] / w["minutes"], abs=1e-3)
        assert w["goal"] in (0.002, 0.004, 0.008)
        # Beside the live minutes: the HPA on the same load, and the decision replayed over the last week.
        assert w["hpa_minutes"] is not None and 0 <= w["hpa_minutes"] <= w["minutes"] + 1
        if w["replayed_rate"] is not None:
            assert w["replayed_days"] == 7.0 and w["replayed_within_goal"] == (w["replayed_rate"] <= w["goal"])
    assert sum(1 for w in figures if w["replayed_rate"] is not None) >= 10
    assert Path(result["kubeconfig"]).is_file()

    # The report arrived at the SMTP server (which wrote what it received as .eml).
    assert result["report_sent"] and result["mails_received"] >= 1
    # The demo runs production's deciders and hooks, so alert mails (and the scheduled report, when its cron
    # comes due in trace time) may arrive beside the closing report.
    received = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in sorted((tmp_path / "mail").glob("*.eml"))]
    [message] = [m for m in received if str(m["Subject"]).startswith("Cost report (tenantops demo)")]
    assert message["To"] == "ops@example.com"
    assert message.get_body(("html",)) is not None
    parts = [p.get_content_type() for p in message.walk()]
    assert "image/png" in parts and "text/csv" in parts, parts

    # Every actuator call is in the audit log next to the decision that asked for it, with a reason.
    rows = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    # (Right-sizing's request patches and the scheduled report's request are actuator calls too; the scaling
    # ones are what `actions` counts.)
    applied = [r for r in rows if r["kind"] == "act" and r["rule"] == "applied" and "requests" not in r["inputs"]
               and r["inputs"].get("target") != "outbox"]
    assert len(applied) == result["actions"] > 0
    decisions = {(r["at"], r["tenant"], r["workload"]): r for r in rows if r["kind"] == "scale"}
    for act in applied:
        decision = decisions.get((act["at"], act["tenant"], act["workload"]))
        assert decision is not None, f"no decision explains {act}"
        assert decision["reason"].strip() and decision["new"] == act["new"]
    assert (tmp_path / "plots" / "replicas.png").stat().st_size > 10_000
    _assert_torn_down(result["servers"])


def test_sigterm_stops_early_and_still_writes_everything(tmp_path: Path, traces_dir: Path) -> None:
    proc = _demo(tmp_path, traces_dir, "--minutes", "5", "--history-days", "2")
    deadline = time.monotonic() + 120
    while not (tmp_path / "state.db").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    time.sleep(3)  # a few controller passes
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr[-3000:]
    result = json.loads(stdout)
    assert result["interrupted"] is True
    assert result["seconds"] < 120
    assert result["report_sent"]
    assert (tmp_path / "summary.json").exists() and (tmp_path / "audit.jsonl").exists()
    _assert_torn_down(result["servers"])
