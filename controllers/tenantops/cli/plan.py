"""`tenantops plan`: capacity, commitments and the cost-to-serve curve for the coming months.

Reads the controller's cost ledger (the state store), forecasts each tenant's and the fleet's spend month by
month with an interval, applies growth scenarios from `--scenario FILE`, projects the cost to serve one
customer at 100 to 10,000 customers, and suggests commitments (Savings Plans / Reserved Instances) per region
and instance family and spot-eligible workloads, at the Pricing policy's prices.

`--backtest` instead scores the planner on recorded demand traces (data/traces): the last two weeks forecast
from the weeks before against the seasonal-naive baseline, and the saving of its commitment against on-demand
and against the rule of thumb (commit to the minimum of the last 30 days' hourly usage).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from tenantops.cli.options import (
    STATE_HELP,
    config_options,
    echo_json,
    load,
    output_folder,
    refuse_unread,
    require_state,
    settings_from,
)
from tenantops.config.kinds.capacity import load_scenarios
from tenantops.decide.capacity.plan import BUCKETS, CapacityPlan, plan_for
from tenantops.decide.capacity.scenarios import Monthly
from tenantops.decide.cost.ledger import Ledger
from tenantops.notify.report.render import safe_cell
from tenantops.record.database import database_url


def _monthly_json(m: Monthly) -> list[dict[str, Any]]:
    return [{"month": k, "point": round(p, 2), "low": round(lo, 2), "high": round(hi, 2)}
            for k, p, lo, hi in zip(m.months, m.point, m.low, m.high, strict=True)]


def plan_json(plan: CapacityPlan) -> dict[str, Any]:
    return {
        "at": plan.at.isoformat(),
        "months": list(plan.months),
        "tenants": [{"tenant": t.tenant, "tier": t.tier, "isolation": t.isolation, "method": t.method,
                     "history_days": t.history_days, "cost_usd": _monthly_json(t.cost),
                     "usage_unit": t.usage_unit, "usage": _monthly_json(t.usage)} for t in plan.tenants],
        "buckets": {b: _monthly_json(m) for b, m in plan.buckets.items()},
        "fleet_usd": _monthly_json(plan.fleet),
        "scenarios": [{"name": s.name, "customers": s.customers, "fleet_usd": _monthly_json(s.fleet),
                       "notes": list(s.notes)} for s in plan.scenarios],
        "unit_cost": {
            "summary": plan.curve.summary, "rising": list(plan.curve.rising),
            "points": [{"customers": p.customers, "nodes": p.nodes,
                        "per_customer_usd": {k: round(v, 4) for k, v in p.per_customer_usd.items()},
                        "total_per_customer_usd": round(p.total_per_customer_usd, 4)} for p in plan.curve.points],
        },
        "commitments": [{"region": c.region, "family": c.family, "instance_type": c.instance_type,
                         "units": c.units, "hourly_commitment_usd": c.hourly_commitment_usd,
                         "term_years": c.term_years, "break_even_utilisation": c.break_even_utilisation,
                         "expected_saving_usd_month": c.expected_saving_usd_month,
                         "expected_unused_share": c.expected_unused_share, "floor_units": c.floor_units,
                         "reason": c.reason} for c in plan.commitments],
        "spot": [{"tenant": s.tenant, "workload": s.workload, "eligible": s.eligible, "monthly_usd": s.monthly_usd,
                  "saving_usd_month": s.saving_usd_month, "reason": s.reason} for s in plan.spot],
        "notes": list(plan.notes),
    }


def _csv_rows(plan: CapacityPlan) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(section: str, name: str, unit: str, m: Monthly) -> None:
        for k, p, lo, hi in zip(m.months, m.point, m.low, m.high, strict=True):
            rows.append({"section": section, "name": name, "unit": unit, "month": k, "point": round(p, 2),
                         "low": round(lo, 2), "high": round(hi, 2)})

    for t in plan.tenants:
        add("tenant", t.tenant, "usd", t.cost)
        add("tenant", t.tenant, t.usage_unit, t.usage)
    for b, m in plan.buckets.items():
        add("bucket", b, "usd", m)
    add("fleet", "fleet", "usd", plan.fleet)
    for s in plan.scenarios:
        add("scenario", s.name, "usd", s.fleet)
    return rows


def _text(plan: CapacityPlan) -> list[str]:
    lines = [f"Capacity plan as of {plan.at:%Y-%m-%d %H:%M} UTC, {len(plan.months)} months "
             f"(cost in USD; 80% interval for the fleet)"]
    head = f"{'tenant':<20}{'tier':<11}{'method':<15}" + "".join(f"{m:>11}" for m in plan.months)
    lines.append(head)
    for t in plan.tenants:
        lines.append(f"{t.tenant:<20}{t.tier:<11}{t.method:<15}" + "".join(f"{v:>11,.0f}" for v in t.cost.point))
    for b, m in plan.buckets.items():
        label = "idle (unallocated)" if b == BUCKETS[0] else "shared (unalloc.)"
        lines.append(f"{label:<46}" + "".join(f"{v:>11,.0f}" for v in m.point))
    lines.append(f"{'fleet':<46}" + "".join(f"{v:>11,.0f}" for v in plan.fleet.point))
    lines.append(f"{'  80% low':<46}" + "".join(f"{v:>11,.0f}" for v in plan.fleet.low))
    lines.append(f"{'  80% high':<46}" + "".join(f"{v:>11,.0f}" for v in plan.fleet.high))
    for s in plan.scenarios:
        lines.append(f"{('scenario: ' + s.name)[:45]:<46}" + "".join(f"{v:>11,.0f}" for v in s.fleet.point))
        lines.extend(f"  note: {n}" for n in s.notes)
    lines.append("")
    lines.append("Cost to serve one customer per month: " + plan.curve.summary)
    lines.append(f"{'customers':>10}{'pooled':>10}{'idle':>10}{'shared':>10}{'silo':>10}{'total':>10}{'nodes':>7}")
    for p in plan.curve.points:
        c = p.per_customer_usd
        lines.append(f"{p.customers:>10,}{c['pooled']:>10.2f}{c['idle']:>10.2f}{c['shared']:>10.2f}"
                     f"{c['silo']:>10.2f}{p.total_per_customer_usd:>10.2f}{p.nodes:>7}")
    lines.append("")
    lines.append("Commitments (per region and instance type; break-even = share of hours a unit must be used):")
    if not plan.commitments:
        lines.append("  none suggested")
    for a in plan.commitments:
        lines.append(f"  {a.region:<13}{a.instance_type:<12} commit {a.units:>5g} ({a.term_years}y, "
                     f"${a.hourly_commitment_usd:,.3f}/h)  saves ${a.expected_saving_usd_month:,.2f}/month  "
                     f"unused {a.expected_unused_share:.0%}  break-even {a.break_even_utilisation:.0%}")
    eligible = [advice for advice in plan.spot if advice.eligible]
    lines.append("")
    lines.append(f"Spot-eligible workloads ({len(eligible)} of {len(plan.spot)}, per the CapacityPolicy):")
    for advice in eligible:
        lines.append(f"  {advice.tenant}/{advice.workload}: ${advice.monthly_usd:,.2f}/month, "
                     f"saves ${advice.saving_usd_month:,.2f} ({advice.reason})")
    for note in plan.notes:
        lines.append(f"note: {note}")
    return lines


def _backtest(traces: str | None, as_json: bool) -> None:
    import numpy as np

    from tenantops.decide.capacity import backtest
    from tenantops.sim.trace import default_traces_dir, list_traces, read_samples

    folder = Path(traces) if traces else default_traces_dir()
    rows: list[dict[str, Any]] = []
    files = list_traces(folder)
    for i, path in enumerate(files, start=1):
        if not as_json:
            click.echo(f"[{i}/{len(files)}] {path.stem}", err=True)
        times, values = read_samples(path)
        hours = (times // 3600).astype(np.int64)
        first, last = int(hours[0]), int(hours[-1])
        sums = np.bincount(hours - first, weights=values, minlength=last - first + 1)
        counts = np.bincount(hours - first, minlength=last - first + 1)
        hourly = [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]
        result = backtest.run(hourly, first % 24)
        if result is None:
            rows.append({"trace": path.stem, "skipped": "shorter than four weeks"})
            continue
        c = result.commitment
        rows.append({
            "trace": path.stem, "train_days": result.train_days, "holdout_days": result.holdout_days,
            "planner_method": result.planner.method, "planner_wape": round(result.planner.wape, 4),
            "planner_coverage": round(result.planner.coverage, 3), "naive_wape": round(result.naive.wape, 4),
            "naive_coverage": round(result.naive.coverage, 3),
            "commit_units": c.planner_units, "commit_saving": round(c.planner_saving, 4),
            "rule_units": c.rule_units, "rule_saving": round(c.rule_saving, 4),
            "hindsight_units": c.hindsight_units, "hindsight_saving": round(c.hindsight_saving, 4),
        })
    if as_json:
        echo_json({"traces": rows})
        return
    click.echo(f"{'trace':<34}{'days':>6}{'WAPE':>8}{'cover':>7}{'naive':>8}{'cover':>7}"
               f"{'commit':>8}{'saving':>8}{'rule':>6}{'saving':>8}{'best':>6}{'saving':>8}")
    for r in rows:
        if "skipped" in r:
            click.echo(f"{r['trace']:<34}  skipped: {r['skipped']}")
            continue
        click.echo(f"{r['trace']:<34}{r['train_days']:>6}{r['planner_wape']:>8.1%}{r['planner_coverage']:>7.0%}"
                   f"{r['naive_wape']:>8.1%}{r['naive_coverage']:>7.0%}{r['commit_units']:>8g}"
                   f"{r['commit_saving']:>8.1%}{r['rule_units']:>6g}{r['rule_saving']:>8.1%}"
                   f"{r['hindsight_units']:>6g}{r['hindsight_saving']:>8.1%}")
    click.echo("WAPE: daily replica-hours of the last 14 days; cover: share inside the 80% band; saving: "
               "vs on-demand over those days (m6i.large, 1-year reserved); rule: min of the last 30 days' hours")


# What only the plan reads: the backtest scored every trace whatever --months, --scenario or --output said.
PLAN_ONLY = ("months", "scenario_file", "state", "output", "as_csv")


@click.command("plan")
@config_options
@click.option("--months", type=click.IntRange(1, 36), default=None,
              help="Months to forecast, this one included. Default: the CapacityPolicy's (6).")
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file of growth scenarios (scenarios: [{name, changes: [...]}]).")
@click.option("--state", default=None, help=f"State store of the controller (its cost ledger). {STATE_HELP}")
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Also write plan.json, plan.csv and capacity.png into this folder.")
@click.option("--backtest", "do_backtest", is_flag=True,
              help="Score the planner on recorded traces instead (see --traces).")
@click.option("--traces", type=click.Path(file_okay=False), default=None,
              help="Traces folder for --backtest. Env: TENANTOPS_TRACES. Default: data/traces.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (one row per series and month).")
@click.pass_context
def command(ctx: click.Context, catalog: str | None, policies: str | None, months: int | None,
            scenario_file: str | None, state: str | None, output: str | None, do_backtest: bool,
            traces: str | None, as_json: bool, as_csv: bool) -> None:
    """Forecast capacity and cost by month, growth scenarios, commitments, spot and the unit-cost curve."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if do_backtest:
        refuse_unread(ctx, PLAN_ONLY, "with --backtest")
        _backtest(traces, as_json)
        return
    refuse_unread(ctx, ("traces",), "without --backtest")
    from tenantops.cli.cost import read_state

    settings = settings_from(ctx, catalog=catalog, policies=policies, state=state)
    require_state(settings)  # a mistyped path is not a fleet without history
    config = load(settings)
    scenarios = []
    if scenario_file is not None:
        scenarios = load_scenarios(scenario_file, tiers=set(config.policies.tiers),
                                   tenants={t.id for t in config.tenants}).scenarios
    folder = output_folder(output) if output is not None else None  # after the inputs are known good
    now = datetime.now(UTC)
    plan = plan_for(config, Ledger(read_state(database_url(settings))), now, scenarios, months)
    payload = plan_json(plan)
    if folder is not None:
        import json

        from tenantops.notify.report.capacity import plan_chart

        (folder / "plan.json").write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")
        (folder / "plan.csv").write_text(_csv_text(plan), encoding="utf-8")
        (folder / "capacity.png").write_bytes(plan_chart(plan))
        if not as_json and not as_csv:
            click.echo(f"wrote {folder / 'plan.json'}, {folder / 'plan.csv'}, {folder / 'capacity.png'}", err=True)
    if as_json:
        echo_json(payload)
    elif as_csv:
        click.echo(_csv_text(plan), nl=False)
    else:
        for line in _text(plan):
            click.echo(line)


def _csv_text(plan: CapacityPlan) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["section", "name", "unit", "month", "point", "low", "high"])
    writer.writeheader()
    for row in _csv_rows(plan):
        writer.writerow({k: safe_cell(v) for k, v in row.items()})
    return buf.getvalue()
