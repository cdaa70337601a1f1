"""Trace files: resampling as docs/benchmarks.md §1 says, and bad input named by file and line (exit 2)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tenantops.config.errors import ConfigError
from tenantops.sim.trace import load_trace, resample


def write(path: Path, rows: list[str]) -> Path:
    path.write_text("timestamp,value\n" + "".join(r + "\n" for r in rows))
    return path


def test_finer_than_a_step_is_averaged() -> None:
    times = np.array([0, 20, 40, 60, 80, 100], dtype=float)
    values = np.array([1, 2, 3, 10, 20, 30], dtype=float)
    assert resample(times, values).tolist() == [2.0, 20.0]


def test_coarser_than_a_step_holds_the_last_sample() -> None:
    """docs/benchmarks.md §1: no step between two coarse samples may carry anything of the next one."""
    times = np.array([0, 300, 600], dtype=float)
    values = np.array([0, 50, 20], dtype=float)
    assert resample(times, values).tolist() == [0.0] * 5 + [50.0] * 5 + [20.0]


def test_mixed_resolution_means_where_fine_and_holds_where_coarse() -> None:
    times = np.array([0, 30, 60, 90, 330], dtype=float)
    values = np.array([2, 4, 6, 10, 7], dtype=float)
    # steps 0 and 1 average their samples; 2..4 hold the last sample (10, not step 1's mean 8); 5 has 7
    assert resample(times, values).tolist() == [3.0, 8.0, 10.0, 10.0, 10.0, 7.0]


@pytest.mark.parametrize(
    ("rows", "line", "field"),
    [
        (["2024-01-01T00:00:00Z,1", "2024-01-01T00:01:00Z,abc"], 3, "value"),
        (["2024-01-01T00:00:00Z,1", "2024-01-01T00:01:00Z,nan"], 3, "value"),
        (["2024-01-01T00:01:00Z,1", "2024-01-01T00:00:00Z,2"], 3, "timestamp"),
        (["yesterday,1"], 2, "timestamp"),
        ([], 2, "<trace>"),
    ],
)
def test_bad_traces_name_file_and_line(tmp_path: Path, rows: list[str], line: int, field: str) -> None:
    path = write(tmp_path / "bad.csv", rows)
    with pytest.raises(ConfigError) as err:
        load_trace(path)
    issue = err.value.issues[0]
    assert (issue.file, issue.line, issue.field) == (str(path), line, field)


def test_a_trace_saved_with_a_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    """Spreadsheets save "CSV UTF-8" with a byte order mark before the header; it was taken for part of the
    first column's name, and the trace refused for a header that reads `timestamp,value`."""
    rows = ["2024-01-01T00:00:00Z,1", "2024-01-01T00:01:00Z,2"]
    plain = write(tmp_path / "plain.csv", rows)
    marked = tmp_path / "marked.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert load_trace(marked).demand.tolist() == load_trace(plain).demand.tolist() == [1.0, 2.0]


def test_cli_exits_2_on_bad_trace(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", ["2024-01-01T00:00:00Z,1", "2024-01-01T00:01:00Z,NaN"])
    proc = subprocess.run([sys.executable, "-m", "tenantops.cli.main", "simulate", "--trace", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert f"{path}:3: value" in proc.stderr


@pytest.mark.slow
def test_cli_writes_decisions_and_prints_figures(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    rows = [f"2024-01-01T{h:02d}:{m:02d}:00Z,{50 + 30 * np.sin((h * 60 + m) / 90) + rng.normal(0, 3):.3f}"
            for h in range(8) for m in range(60)]
    trace = write(tmp_path / "t.csv", rows)
    out = tmp_path / "decisions.csv"
    png = tmp_path / "run.png"
    proc = subprocess.run([sys.executable, "-m", "tenantops.cli.main", "simulate", "--trace", str(trace), "--output",
                           str(out), "--plot", str(png), "--json"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    import json

    figures = json.loads(proc.stdout)
    assert len(figures["hpa_curve"]) == 8
    assert 0 <= figures["violation_rate"] <= 1 and figures["cost_vs_oracle"] >= 1.0
    with open(out) as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["step", "timestamp", "demand", "desired", "provisioned", "ready"]
    assert len(table) == 1 + len(rows)
    assert png.stat().st_size > 1000


@pytest.mark.parametrize(("which", "message"), [
    (["--trace", "TRACE", "--only", "nasa_http_1995"], "--only"),
    (["--all", "--only", ","], "--only"),
    (["--all", "--only", " "], "--only"),
    (["--all", "--only", ""], "--only"),
])
def test_simulate_only_is_honoured_or_refused(tmp_path: Path, which: list[str], message: str) -> None:
    """`--only` with `--trace` was ignored (the one trace ran, exit 0); an --only naming no trace (`,` or a
    blank) ran none and printed `all_meet_goal: true` (exit 0)."""
    trace = write(tmp_path / "t.csv", [f"2024-01-01T00:{m:02d}:00Z,{10 + m}" for m in range(30)])
    args = [str(trace) if a == "TRACE" else a for a in which]
    proc = subprocess.run([sys.executable, "-m", "tenantops.cli.main", "simulate", *args, "--json"],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and proc.stdout == "" and "Traceback" not in proc.stderr


def _simulate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tenantops.cli.main", "simulate", *args], capture_output=True,
                          text=True, check=False, cwd=cwd)


def test_simulate_all_names_every_bad_trace_before_replaying_any(tmp_path: Path) -> None:
    """A bad trace among good ones was found only when its replay came up: the good traces before it were
    replayed (minutes on the recorded traces, their progress printed) and a second bad file went unnamed."""
    folder = tmp_path / "traces"
    folder.mkdir()
    write(folder / "a_good.csv", [f"2024-01-01T00:{m:02d}:00Z,{10 + m}" for m in range(30)])
    write(folder / "b_nan.csv", ["2024-01-01T00:00:00Z,1", "2024-01-01T00:01:00Z,nan"])
    write(folder / "c_negative.csv", ["2024-01-01T00:00:00Z,-1"])
    proc = _simulate("--traces", str(folder), "--jobs", "1", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "b_nan.csv:3: value: 'nan' is not a finite number" in proc.stderr
    assert "c_negative.csv:2: value: -1.0 is negative" in proc.stderr
    assert "[1/" not in proc.stderr and proc.stdout == "" and "Traceback" not in proc.stderr


def test_simulate_all_prints_each_figure_and_the_goal_per_trace(tmp_path: Path) -> None:
    """docs/benchmarks.md §1: the table has violations, the HPA's at u=0.7, cost against the oracle and the HPA,
    excess closed, actions against the HPA's and the goal for every trace; progress goes to stderr, and under
    --json stdout is the JSON document alone."""
    folder = tmp_path / "traces"
    folder.mkdir()
    for name, base in (("flat", 40), ("ramp", 5)):
        write(folder / f"{name}.csv",
              [f"2024-01-01T{m // 60:02d}:{m % 60:02d}:00Z,{base + (m if name == 'ramp' else m % 3)}"
               for m in range(180)])
    table = _simulate("--traces", str(folder), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1].split() == ["trace", "rec", "viol", "hpa@0.7", "vs_orcl", "vs_hpa", "excess", "actions",
                                "hpa_act", "act/hpa", "goal"]
    assert [line.split()[0] for line in lines[2:4]] == ["flat", "ramp"]
    assert all(line.split()[10] in ("yes", "NO") for line in lines[2:4])
    assert lines[4].startswith("per-minute: ") and "of 2 meet the goal" in lines[4] and len(lines) == 5
    assert "simulate: [2/2]" in table.stderr and "act/hpa" not in table.stderr
    as_json = _simulate("--traces", str(folder), "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    import json

    figures = json.loads(as_json.stdout)
    for trace in figures["traces"]:
        for key in ("source_seconds", "per_minute", "violation_rate",
                    "hpa_violation_rate_u07", "cost_vs_oracle", "cost_vs_hpa", "excess_closed",
                    "actions_vs_hpa", "meets_goal", "goals"):
            assert key in trace, key
    assert "simulate: [2/2]" in as_json.stderr and "{" not in as_json.stderr


def test_simulate_all_puts_per_minute_recordings_first_and_counts_them_apart(tmp_path: Path) -> None:
    """The issue's order: per-minute recordings are the benchmark's first concern, a held coarse source is read
    apart. A 5-minute recording named first alphabetically comes after the per-minute one, its period is shown,
    and the goal is counted per kind."""
    folder = tmp_path / "traces"
    folder.mkdir()
    def rows(every: int) -> list[str]:
        return [f"2024-01-01T{m // 60:02d}:{m % 60:02d}:00Z,{20 + m % 7}" for m in range(0, 600, every)]

    write(folder / "a_coarse.csv", rows(5))
    write(folder / "b_minute.csv", rows(1))
    table = _simulate("--traces", str(folder), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert [line.split()[:2] for line in lines[2:4]] == [["b_minute", "1m"], ["a_coarse", "5m"]]
    assert lines[4].startswith("per-minute: ") and lines[4].split(":")[1].strip().endswith(
        ("of 1 meet the goal", "of 1 meet the goal (b_minute)"))
    assert lines[5].startswith("coarser (held): ") and "of 1 meet the goal" in lines[5]
    import json

    as_json = json.loads(_simulate("--traces", str(folder), "--json", cwd=tmp_path).stdout)
    assert [(t["trace"], t["source_seconds"], t["per_minute"]) for t in as_json["traces"]] == [
        ("b_minute", 60.0, True), ("a_coarse", 300.0, False)]
