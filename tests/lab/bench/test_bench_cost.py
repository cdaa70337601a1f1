"""`tenantops bench cost` on a real trace: it runs, prints figures and rejects a broken trace."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.cost.helpers import REPO

from tenantops_lab.bench.cost import command, load_hourly, to_daily


def traces() -> Path:
    return Path(os.environ.get("TENANTOPS_TRACES", REPO / "data" / "traces"))


def test_backtest_prints_precision_recall_and_forecast_lead(tmp_path: Path) -> None:
    shutil.copy(traces() / "nyc_taxi.csv", tmp_path)
    result = CliRunner().invoke(command, ["--traces", str(tmp_path), "--trials", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # progress goes to stderr: stdout stays one JSON document
    assert "bench cost: [1/1] nyc_taxi" in result.stderr
    daily = data["summary"]["detector"]["daily_1"]
    assert daily["tp"] + daily["fn"] > 0 and daily["recall"] is not None
    # A trace with daily and weekly cycles: doubling a day's spend is caught, and overruns are forecast ahead of time.
    assert daily["recall"] >= 0.8
    assert data["summary"]["forecast"]["overruns"] >= 1
    assert data["summary"]["forecast"]["median_days_early"] > 0


def test_hourly_means_scaled_to_ten_dollars_and_whole_days(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = ["timestamp,value"] + [f"2026-11-0{1 + h // 24}T{h % 24:02d}:30:00Z,{1 + h % 2}" for h in range(48)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    hour0, hours = load_hourly(path)
    assert len(hours) == 48 and abs(sum(v or 0 for v in hours) / 48 - 10.0) < 1e-9
    _, days = to_daily(hour0, hours)
    assert days == [pytest.approx(240.0), pytest.approx(240.0)]


def test_broken_trace_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("timestamp,value\n2026-11-01T00:00:00Z,1\nnot-a-time,2\n", encoding="utf-8")
    result = CliRunner().invoke(command, ["--traces", str(tmp_path)])
    assert result.exit_code != 0
    assert "bad.csv:3" in result.output
