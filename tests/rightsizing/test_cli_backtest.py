"""`tenantops rightsize --backtest`: CSV in, figures and per-day request files out; bad input exits 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tenantops.cli.main import main

from .helpers import DAY

REPO = Path(__file__).resolve().parents[2]
MIDNIGHT = 1_700_006_400.0


def _write(path: Path, t: np.ndarray, v: np.ndarray) -> Path:
    from datetime import UTC, datetime

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        for when, value in zip(t, v, strict=True):
            writer.writerow([datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), f"{value:.4f}"])
    return path


def _run(args: list[str]) -> int:
    try:
        main(["rightsize", "--policies", str(REPO / "policies"), *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_backtest_prints_json_and_writes_request_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = MIDNIGHT + 3600 * 14 + np.arange(0, 4 * DAY, 300.0)
    rng = np.random.default_rng(2)
    steady = _write(tmp_path / "steady.csv", t, 2.0 + rng.uniform(0, 0.2, t.size))
    hour = (t % DAY) // 3600
    cyclic = _write(tmp_path / "cyclic.csv", t, np.where((hour >= 8) & (hour < 20), 5.0, 1.0))
    out = tmp_path / "out"
    assert _run(["--backtest", str(steady), str(cyclic), "--output", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    names = [s["name"] for s in payload["series"]]
    assert names == ["steady", "cyclic"]
    for series in payload["series"]:
        assert len(series["vpa"]) == 6 and 0 <= series["overrun_rate"] <= 1 and series["slack"] >= 0
        assert [b["shape"] for b in series["hindsight"]] == ["flat per day", "one daily schedule", "schedule per day"]
        assert all(b["overrun_rate"] <= series["overrun_budget"] for b in series["hindsight"])
        parts = series["slack_split"]
        assert set(parts) == {"above_day_peak", "day_over_hour", "within_hour"}
        assert sum(parts.values()) == pytest.approx(series["slack"])
        assert set(series["vpa_default_slack_split"]) == set(parts)
    assert payload["summary"]["series"] == 2
    rows = list(csv.reader((out / "steady.csv").open()))
    assert rows[0] == ["day", "request"] and [r[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    sched = list(csv.reader((out / "cyclic.csv").open()))
    assert sched[0] == ["day", "hour", "request"] and len(sched) == 1 + 4 * 24
    assert payload["series"][1]["scheduled"] is True


def test_backtest_covers_a_daily_job_in_its_hour_once_it_has_recurred(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    t = MIDNIGHT + np.arange(0, 8 * DAY, 300.0)
    v = np.random.default_rng(4).uniform(0.9, 1.1, t.size)
    v[(t % DAY) == 3 * 3600 + 300] = 5.0  # a job at 03:05 UTC, every day
    out = tmp_path / "out"
    assert _run(["--backtest", str(_write(tmp_path / "cron.csv", t, v)), "--output", str(out), "--json"]) == 0
    series = json.loads(capsys.readouterr().out)["series"][0]
    assert series["scheduled"] is True and series["overrun_rate"] <= series["overrun_budget"]
    rows = list(csv.reader((out / "cron.csv").open()))
    assert rows[0] == ["day", "hour", "request"]
    by_day: dict[int, dict[int, float]] = {}
    for day, hour, request in rows[1:]:
        by_day.setdefault(int(day), {})[int(hour)] = float(request)
    # From day 3 (three full days seen) the job's hour is covered and the rest of the day is not held at it.
    for day in range(3, 8):
        assert by_day[day][3] >= 5.0 and max(r for h, r in by_day[day].items() if h != 3) < 2.0


def test_backtest_table_on_the_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = MIDNIGHT + np.arange(0, 3 * DAY, 300.0)
    series = _write(tmp_path / "s.csv", t, np.full(t.size, 1.0))
    assert _run(["--backtest", str(series), "--output", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "slack_vs_vpa" in text and "VPA curve" in text and text.splitlines()[2].startswith("s ")
    assert "Hindsight bounds" in text and "schedule per day: 0.000/0.00%" in text
    # Constant usage: all of the slack is headroom above the day's peak (the margin), none is shape.
    split = next(line for line in text.splitlines() if line.strip().startswith("s ") and " own " in line)
    own = split.split(" own ")[1].split("VPA")[0].split(" + ")
    assert float(own[0]) > 0 and float(own[1]) == 0 and float(own[2]) == 0


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        ("timestamp,value\n2024-01-01T00:00:00Z,1\n2024-01-01T00:05:00Z,abc\n", 3, "value"),
        ("timestamp,value\n2024-01-01T00:00:00Z,1\nyesterday,2\n", 3, "timestamp"),
        ("timestamp,value\n2024-01-01T00:00:00Z,1\n2024-01-01T00:05:00Z,-3\n", 3, "value"),
        ("time,usage\n2024-01-01T00:00:00Z,1\n", 1, "<header>"),
    ],
)
def test_bad_csv_names_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, line: int,
                                          field: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(body)
    assert _run(["--backtest", str(bad), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{line}: {field}" in err
    assert not (tmp_path / "o").exists()  # nothing written when the input is bad


def test_unknown_policy_and_missing_output_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path / "g.csv", MIDNIGHT + np.arange(0, DAY, 300.0), np.ones(288))
    assert _run(["--backtest", str(good), "--output", str(tmp_path), "--policy", "nope"]) == 2
    assert "no RightsizingPolicy 'nope'" in capsys.readouterr().err
    assert _run(["--backtest", str(good)]) == 2


@pytest.mark.slow
def test_shared_usage_traces_stay_within_the_overrun_budget(traces_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    usage = sorted((traces_dir / "usage").glob("*.csv"))
    assert usage, "the repository carries its usage series in data/traces/usage"
    assert _run(["--backtest", *map(str, usage), "--output", str(tmp_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    summary = payload["summary"]
    # Safety first (docs/benchmarks.md §2): no series overruns more than VPA's default (or 1%).
    assert summary["over_budget"] == [] and summary["goal"]["overrun_within_budget"] is True
    assert all(s["overrun_rate"] <= s["overrun_budget"] for s in payload["series"])
    # ... and the slack it buys is reported against VPA at the same overrun, goal or not.
    assert summary["goal"]["met"] == (summary["median_slack_vs_vpa"] <= 0.8 and summary["max_slack_vs_vpa"] <= 1.0)


@pytest.mark.parametrize(
    ("times", "reason"),
    [
        (MIDNIGHT + np.array([3600.0]), "covers 1 UTC day"),  # one row
        (MIDNIGHT + np.arange(0, 20 * 3600, 300.0), "covers 1 UTC day"),  # less than a day
        # a day of history, then the next samples 60 days later: nothing in the lookback before them
        (np.concatenate([MIDNIGHT + np.arange(0, DAY, 300.0), MIDNIGHT + 60 * DAY + np.arange(0, DAY, 300.0)]),
         "lookback"),
    ],
    ids=["one row", "under a day", "two months apart"],
)
def test_a_series_with_nothing_to_score_is_bad_input_naming_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], times: np.ndarray, reason: str) -> None:
    """Day 0 is history; a series whose later days get no request (there are none, or the samples before them
    are all older than the policy's lookback) has no score. It used to end in `IndexError` (exit 1), or in
    `NaN` figures printed as invalid JSON and counted as over budget."""
    short = _write(tmp_path / "short.csv", times, np.ones(times.size))
    good = _write(tmp_path / "good.csv", MIDNIGHT + np.arange(0, 3 * DAY, 300.0), np.ones(864))
    out = tmp_path / "o"
    assert _run(["--backtest", str(good), str(short), "--output", str(out), "--json"]) == 2
    captured = capsys.readouterr()
    assert f"{short}: <trace>: " in captured.err and reason in captured.err and "Traceback" not in captured.err
    assert captured.out == "" and not out.exists()  # nothing printed or written when any input is bad


@pytest.mark.parametrize(("args", "flag"), [
    (["--policy", "aggressive"], "--policy"),
    (["--resource", "memory"], "--resource"),
    (["--no-schedule"], "--no-schedule"),
    (["--output", "OUT"], "--output"),
    (["--traces", "OUT"], "--traces"),
    (["--backtest", "--output", "OUT", "--apply"], "--apply"),
    (["--backtest", "--output", "OUT", "--tenant", "acme"], "--tenant"),
    (["--backtest", "--output", "OUT", "--at", "2026-11-01T00:00:00Z"], "--at"),
])
def test_a_flag_of_the_other_mode_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   args: list[str], flag: str) -> None:
    """`rightsize --policy aggressive` recommended with each tenant's own policy, and `--backtest --apply`
    applied nothing, both without a word: a flag of the other mode is refused (exit 2) before any work."""
    out = tmp_path / "out"
    args = [str(out) if a == "OUT" else a for a in args]
    assert _run(["--prometheus-url", "http://127.0.0.1:9", *args]) == 2
    err = capsys.readouterr().err
    assert flag in err and "TENANTOPS_PROMETHEUS_URL" not in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    ("body", "line", "field", "says"),
    [
        (b"timestamp,value\n2024-01-01T00:00:00Z,1\n2024-01-01T00:05:00Z,\xff\xfe\n", 3, "<trace>", "not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "<trace>", "not UTF-8 text"),
        (b'timestamp,value\n2024-01-01T00:00:00Z,"' + b"1" * 200_000 + b'"\n', 2, "<row>", "not CSV"),
    ],
)
def test_a_file_that_is_not_csv_text_is_bad_input_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              body: bytes, line: int, field: str, says: str) -> None:
    # A binary file, one saved as Latin-1, or a field past the csv module's limit: exit 1 with the bare
    # UnicodeDecodeError or csv.Error, naming neither the file nor the line.
    bad = tmp_path / "bad.csv"
    bad.write_bytes(body)
    assert _run(["--backtest", str(bad), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{line}: {field}: {says}" in err
    assert not (tmp_path / "o").exists()
