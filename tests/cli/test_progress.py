"""Progress of long commands: one line per finished item on stderr, so `--json` on stdout stays clean."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tenantops.cli.main import cli
from tenantops.cli.progress import Progress

REPO = Path(__file__).resolve().parents[2]


def test_progress_counts_items_with_the_time_so_far() -> None:
    lines: list[str] = []
    ticks = iter([0.0, 1.2, 3.7])
    progress = Progress("simulate", 2, echo=lines.append, clock=lambda: next(ticks))
    progress.start("2 traces")
    progress.step("nasa")
    progress.step("elb")
    assert lines == ["simulate: 2 traces", "simulate: [1/2] nasa (1s)", "simulate: [2/2] elb (4s)"]


def test_a_backtest_under_json_prints_progress_on_stderr_and_only_json_on_stdout(tmp_path: Path) -> None:
    series = sorted((REPO / "data" / "traces" / "usage").glob("*.csv"))[:2]
    runner = CliRunner()
    result = runner.invoke(cli, ["rightsize", "--policies", str(REPO / "policies"), "--backtest",
                                 "--output", str(tmp_path), "--json", *map(str, series)])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # stdout is one JSON document
    assert "rightsize --backtest: [2/2]" in result.stderr


def test_a_benchmark_under_json_prints_progress_on_stderr_and_only_json_on_stdout() -> None:
    result = CliRunner().invoke(cli, ["bench", "catalog", "--tenants", "20", "--tenants", "40", "--repeat", "1",
                                      "--policies", str(REPO / "policies"), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["tenants"] for r in rows] == [20, 40]
    lines = result.stderr.splitlines()
    assert lines[0] == "bench catalog: 2 catalogue sizes, each loaded 1x"
    assert lines[1].startswith("bench catalog: [1/2] 20 tenants (") and lines[2].startswith("bench catalog: [2/2] 40")
