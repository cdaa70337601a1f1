"""`tenantops bench cost`: the anomaly detector and the budget forecast backtested on recorded traces.

Each recorded trace (`data/traces/`) is read as a spend series: its hourly mean, scaled so an average hour
costs $10 (an average day $240, the size of a mid-sized tenant), and its UTC-day sums. Nothing in the traces
is labelled, so anomalies of known size are injected (an extra `size` × the day's or hour's usual spend, at
seeded random points) and the real detector (`decide.cost.anomaly`, with the standard AlertPolicy's gates)
judges every period from its past only. Precision counts every flag that is not an injection as false,
including the traces' own real incidents, so it is a lower bound; a second precision leaves out the flags
the detector already raises on the untouched trace (those incidents are real, only unlabelled).

Forecast: every 30-day window with at least 14 days before it is replayed as a 30-day month twice: once with
a step (spend × 1.5 from a random day) against a budget of 110% of the window's spend without the step, and
once unchanged against the same budget (a month that stays within budget). Each day the real model
(`decide.cost.forecast`) is refitted on closed days and asked for the month end; reported: how many days
before the actual spend crossed the budget the forecast first said it would, and how often it cried wolf.
"""

from __future__ import annotations

import csv
import functools
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from tenantops.cli.options import echo_json
from tenantops.cli.progress import Progress
from tenantops.decide.cost.anomaly import daily_baseline, hourly_baseline, judge
from tenantops.decide.cost.forecast import fit, forecast_month

GATES = {"z_threshold": 3.5, "min_impact_usd": 50.0, "min_impact_percent": 20.0}  # standard AlertPolicy
HOURLY_GATES = {**GATES, "min_impact_usd": 50.0 / 24}
MEAN_HOUR_USD = 10.0
SIZES = (0.3, 0.5, 1.0)
TRIALS = 8


def default_traces() -> Path:
    from tenantops.sim.trace import default_traces_dir

    return default_traces_dir()


def load_hourly(path: Path) -> tuple[int, list[float | None]]:
    """(first epoch hour, hourly means) of a `timestamp,value` CSV; hours without samples are None."""
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    with path.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if line == 1 or not row:
                continue
            try:
                at = datetime.fromisoformat(row[0].replace("Z", "+00:00"))
                value = float(row[1])
            except (ValueError, IndexError):
                raise click.ClickException(f"{path}:{line}: timestamp,value expected, got {row!r}") from None
            hour = int(at.timestamp() // 3600)
            acc = sums[hour]
            acc[0] += value
            acc[1] += 1
    if not sums:
        raise click.ClickException(f"{path}: no samples")
    first, last = min(sums), max(sums)
    values = [sums[h][0] / sums[h][1] if h in sums else None for h in range(first, last + 1)]
    known = [v for v in values if v is not None]
    scale = MEAN_HOUR_USD / statistics.fmean(known) if statistics.fmean(known) > 0 else 1.0
    return first, [None if v is None else v * scale for v in values]


def to_daily(hour0: int, hours: list[float | None]) -> tuple[int, list[float | None]]:
    """Whole UTC days only; a day missing more than two hours is unknown."""
    start = hour0 + (-hour0) % 24
    out: list[float | None] = []
    for h in range(start, hour0 + len(hours) - 23, 24):
        chunk = hours[h - hour0:h - hour0 + 24]
        known = [v for v in chunk if v is not None]
        out.append(sum(known) * 24 / len(known) if len(known) >= 22 else None)
    return start // 24, out


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    fp_new: int = 0  # false flags the untouched trace did not already raise (its own incidents excluded)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def precision_new(self) -> float | None:
        return self.tp / (self.tp + self.fp_new) if self.tp + self.fp_new else None

    def add(self, other: Score) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        self.fp_new += other.fp_new


def _hourly_base(values: list[float | None], index: int, hour0: int) -> list[float]:
    return hourly_baseline(values, index, hour0)


def _detect(values: list[float | None], first_eval: int, baseline: Any, gates: dict[str, float]) -> set[int]:
    flagged = set()
    for i in range(first_eval, len(values)):
        v = values[i]
        if v is None:
            continue
        verdict = judge(v, baseline(values, i), **gates)
        if verdict is not None and verdict.anomalous:
            flagged.add(i)
    return flagged


def backtest_detector(values: list[float | None], first_eval: int, baseline: Any, gates: dict[str, float],
                      size: float, rng: random.Random, spacing: int,
                      clean: set[int] | None = None) -> tuple[Score, int]:
    """Inject anomalies of `size` × the usual spend at random points; score the detector on them."""
    candidates = [i for i in range(first_eval, len(values)) if values[i] is not None]
    picks: list[int] = []
    for i in rng.sample(candidates, len(candidates)):
        if all(abs(i - p) >= spacing for p in picks):
            picks.append(i)
        if len(picks) >= max(1, len(candidates) // (spacing * 2)):
            break
    injected = list(values)
    for i in sorted(picks):
        usual = statistics.median(b for b in baseline(injected, i)) if baseline(injected, i) else injected[i]
        injected[i] = (injected[i] or 0.0) + size * (usual or 0.0)
    flagged = _detect(injected, first_eval, baseline, gates)
    truth = set(picks)
    false = flagged - truth
    return Score(len(flagged & truth), len(false), len(truth - flagged), len(false - (clean or set()))), len(truth)


def backtest_forecast(days: list[float | None], rng: random.Random) -> list[dict[str, Any]]:
    """Replay 30-day windows as months (with and without a spend step); see the module docstring."""
    out = []
    for start in range(14, len(days) - 29, 30):
        window = days[start:start + 30]
        if any(v is None for v in window):
            continue
        base = [float(v) for v in window if v is not None]
        budget = 1.1 * sum(base)
        step_day = rng.randint(5, 20)
        stepped = [v * 1.5 if i >= step_day else v for i, v in enumerate(base)]
        for scenario, series in (("step", stepped), ("steady", base)):
            month0 = datetime(2026, 11, 1, tzinfo=UTC)  # a 30-day month
            history = [(month0.date() - timedelta(days=start - k), days[k]) for k in range(start)]
            flag_day = cross_day = None
            mtd = 0.0
            for d, spend in enumerate(series):
                mtd += spend
                history.append((month0.date() + timedelta(days=d), spend))
                now = month0 + timedelta(days=d + 1) if d < 29 else month0 + timedelta(days=29, hours=23, minutes=59)
                fc = forecast_month(fit(history), mtd, 0.0 if d < 29 else spend, now, budget)
                if flag_day is None and fc.forecast >= budget:
                    flag_day = d + 1
                if cross_day is None and mtd >= budget:
                    cross_day = d + 1
            out.append({"start": start, "scenario": scenario, "step_day": step_day if scenario == "step" else None,
                        "overran": cross_day is not None, "flag_day": flag_day, "cross_day": cross_day,
                        "days_early": (cross_day - flag_day) if cross_day and flag_day else None})
    return out


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:5.2f}"


@click.command("cost")
@click.option("--traces", "traces_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of trace CSVs. Env: TENANTOPS_TRACES. Default: the repository's data/traces.")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Seed of the random points where anomalies are injected (the same seed, the same figures).")
@click.option("--trials", type=click.IntRange(1, 100), default=TRIALS, show_default=True,
              help="Injections per trace, anomaly size and granularity.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def command(traces_dir: str | None, seed: int, trials: int, as_json: bool) -> None:
    """Precision/recall of the spend anomaly detector on injected anomalies, and how early budget
    overruns are forecast, on the recorded traces treated as spend series."""
    root = Path(traces_dir) if traces_dir else default_traces()
    files = sorted(root.glob("*.csv"))
    if not files:
        raise click.BadParameter(f"no *.csv traces in {root}", param_hint="--traces")
    rng = random.Random(seed)
    rows = []
    totals = {(g, s): Score() for g in ("daily", "hourly") for s in SIZES}
    forecasts: list[dict[str, Any]] = []
    progress = Progress("bench cost", len(files))
    progress.start(f"{len(files)} traces, {trials} trials per anomaly size and granularity")
    for path in files:
        hour0, hours = load_hourly(path)
        _day0, days = to_daily(hour0, hours)
        hourly_base = functools.partial(_hourly_base, hour0=hour0)
        row: dict[str, Any] = {"trace": path.stem, "days": len(days), "hours": len(hours)}
        clean_daily = _detect(days, 7, daily_baseline, GATES)
        clean_hourly = _detect(hours, 7 * 24, hourly_base, HOURLY_GATES)
        row["flags_without_injection"] = {"daily": len(clean_daily), "hourly": len(clean_hourly)}
        for size in SIZES:
            for gran, values, first, base, gates, spacing, clean in (
                ("daily", days, 7, daily_baseline, GATES, 3, clean_daily),
                ("hourly", hours, 7 * 24, hourly_base, HOURLY_GATES, 12, clean_hourly),
            ):
                score = Score()
                for _ in range(trials):
                    trial, _n = backtest_detector(values, first, base, gates, size, rng, spacing, clean)
                    score.add(trial)
                row[f"{gran}_{size:g}"] = {"precision": score.precision, "recall": score.recall,
                                           "precision_excluding_trace_incidents": score.precision_new,
                                           "tp": score.tp, "fp": score.fp, "fn": score.fn}
                totals[(gran, size)].add(score)
        fc = backtest_forecast(days, rng)
        forecasts += [{"trace": path.stem, **f} for f in fc]
        rows.append(row)
        progress.step(path.stem)
    overruns = [f for f in forecasts if f["overran"]]
    early = [f["days_early"] for f in overruns if f["days_early"] is not None]
    steady = [f for f in forecasts if f["scenario"] == "steady"]
    summary: dict[str, Any] = {
        "detector": {f"{g}_{s:g}": {"precision": sc.precision, "recall": sc.recall,
                                     "precision_excluding_trace_incidents": sc.precision_new,
                                     "tp": sc.tp, "fp": sc.fp, "fn": sc.fn} for (g, s), sc in totals.items()},
        "forecast": {
            "months": len(forecasts), "overruns": len(overruns),
            "flagged_before_overrun": sum(1 for e in early if e > 0),
            "median_days_early": statistics.median(early) if early else None,
            "min_days_early": min(early) if early else None,
            "steady_months": len(steady),
            "steady_false_flags": sum(1 for f in steady if f["flag_day"] is not None and not f["overran"]),
        },
    }
    if as_json:
        echo_json({"benchmark": "cost", "seed": seed, "trials": trials, "traces": rows, "summary": summary,
                   "forecast_windows": forecasts})
        return
    click.echo(f"Anomaly detector (same-weekday median/MAD, z>3.5, >= $50 and >= 20%), {trials} trials per trace, "
               f"seed {seed}; spend scaled to $10/h average")
    click.echo(f"{'trace':<24}{'days':>5}{'clean d/h':>11}" + "".join(
        f"{g[0]}{s:g} P/R".rjust(14) for s in SIZES for g in ("daily", "hourly")))
    for row in rows:
        cells = "".join(
            f"{_fmt(row[f'{g}_{s:g}']['precision'])}/{_fmt(row[f'{g}_{s:g}']['recall'])}".rjust(14)
            for s in SIZES for g in ("daily", "hourly"))
        own = f"{row['flags_without_injection']['daily']}/{row['flags_without_injection']['hourly']}"
        click.echo(f"{row['trace']:<24}{row['days']:>5}{own:>11}{cells}")
    cells = "".join(f"{_fmt(totals[(g, s)].precision)}/{_fmt(totals[(g, s)].recall)}".rjust(14)
                    for s in SIZES for g in ("daily", "hourly"))
    click.echo(f"{'all traces':<40}{cells}")
    cells = "".join(f"{_fmt(totals[(g, s)].precision_new)}/{_fmt(totals[(g, s)].recall)}".rjust(14)
                    for s in SIZES for g in ("daily", "hourly"))
    click.echo(f"{'all, own incidents excl.':<40}{cells}")
    click.echo("P/R = precision/recall; d0.3 = daily, anomaly +30% of the usual spend; 'clean d/h' = flags on the "
               "untouched trace (its own incidents), counted as false in the first precision, excluded in the second")
    f = summary["forecast"]
    click.echo(
        f"Budget forecast: {f['overruns']} overrunning 30-day months (step ×1.5 vs budget 110% of normal): "
        f"{f['flagged_before_overrun']} flagged before the overrun, median {f['median_days_early']} days early "
        f"(min {f['min_days_early']}); {f['steady_false_flags']} false flags in {f['steady_months']} steady months")
