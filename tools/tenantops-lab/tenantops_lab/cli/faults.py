"""`tenantops faults`: run the fault-injection and abuse suite and print what was tried and what held.

The suite is the `tests/faults` folder of a checkout (real servers, injected faults, fuzzed input, and the
checkout's own policies, catalogue and deploy manifests, so it is not something a wheel could carry); each
test records its cases in a ledger that this command turns into one table per fault or input class. By
default the suite is the one of the checkout this lab is installed from, whatever the working directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import click

from tenantops.cli.options import FiniteFloatRange, echo_json

# tools/tenantops-lab/tenantops_lab/cli/faults.py -> the checkout's root
CHECKOUT = Path(__file__).resolve().parents[4]
SUITE = CHECKOUT / "tests" / "faults"
EXIT_BAD_INPUT = 2


def _run_streaming(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run pytest with its progress (dots and percentages) copied to stderr as it goes; keep its output for
    the failure report."""
    lines: list[str] = []
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            click.echo(f"faults: {line.rstrip()}", err=True)
        code = proc.wait()
    return subprocess.CompletedProcess(args, code, "".join(lines), "")


@click.command("faults")
@click.option("--tests", "tests_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="The fault suite folder. Default: tests/faults of the checkout the lab is installed from.")
@click.option("-k", "keyword", default=None, help="Only tests matching this pytest -k expression.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--drill-seconds", type=FiniteFloatRange(min=1), default=None,
              help="Also run the long drills (two replicas with the shipped timings) for this many seconds; "
                   "e.g. -k leadership --drill-seconds 1800.")
def command(tests_dir: str | None, keyword: str | None, as_json: bool, drill_seconds: float | None) -> None:
    """Run the fault suite; print fault/input class, cases tried, cases that held. Exit 1 unless all held."""
    if tests_dir is None:
        if not SUITE.is_dir():
            click.echo(f"error: the fault suite is the tests/faults folder of a tenantops checkout, and {SUITE} "
                       "is not one; pass --tests DIR", err=True)
            sys.exit(EXIT_BAD_INPUT)
        tests_dir = str(SUITE)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "ledger.jsonl"
        args = [sys.executable, "-m", "pytest", tests_dir, "-q", "-p", "no:cacheprovider"]
        if keyword:
            args += ["-k", keyword]
        env = {**os.environ, "TENANTOPS_FAULT_RESULTS": str(ledger)}
        if drill_seconds is not None:
            env["TENANTOPS_DRILL_SECONDS"] = str(drill_seconds)
        click.echo(f"faults: running the fault suite in {tests_dir} (pytest's progress below) ...", err=True)
        proc = _run_streaming(args, env)
        rows = [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()] if ledger.exists() else []
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        counts = table[str(row["class"])]
        counts[0] += 1
        counts[1] += int(bool(row["held"]))
        if not row["held"]:
            failures[str(row["class"])].append(str(row.get("detail", "")))
    all_held = proc.returncode == 0 and bool(rows) and all(t == h for t, h in table.values())
    if as_json:
        echo_json({"classes": [{"class": c, "tried": t, "held": h} for c, (t, h) in sorted(table.items())],
                   "pytest_exit": proc.returncode, "all_held": all_held})
    else:
        width = max([len(c) for c in table] + [20])
        click.echo(f"{'fault or input class':<{width}}  {'tried':>6}  {'held':>6}")
        for name, (tried, held) in sorted(table.items()):
            mark = "" if tried == held else "   <-- did not hold"
            click.echo(f"{name:<{width}}  {tried:>6}  {held:>6}{mark}")
        total_t = sum(t for t, _ in table.values())
        total_h = sum(h for _, h in table.values())
        click.echo(f"{'total':<{width}}  {total_t:>6}  {total_h:>6}")
        for name, details in failures.items():
            click.echo(f"\n{name}: first failures:\n  " + "\n  ".join(details[:3]))
    if not all_held:
        sys.exit(1)
