"""`tenantops rightsize`: per-workload request recommendations with the monthly saving, or the backtest.

Without `--backtest` it fetches the usage history from Prometheus (range queries, one per resource),
runs the right-sizing decider over every selected tenant and prints current vs recommended requests
and what the difference is worth per month under the Pricing policy. With `--apply`, patches that the
policy's `apply` mode and guardrails allow are written to the Kubernetes API and recorded in the audit;
a patch the API did not take (failed, or still retryable) makes it exit 1 once everything is printed.
`--at` evaluates as of another time for a listing only: a patch is applied now, and now is the change
time the minimum interval counts from.

With `--backtest FILES...` it runs docs/benchmarks.md §2 on recorded usage series (`timestamp,value` CSV) and
writes each series' day-by-day requests to `--output DIR`.
"""

from __future__ import annotations

import csv
import dataclasses
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from tenantops.act.base import OutcomeStatus
from tenantops.cli.options import (
    PROMETHEUS_URL_HELP,
    STATE_HELP,
    config_options,
    echo_json,
    json_option,
    load,
    output_folder,
    refuse_unread,
    settings_from,
)
from tenantops.cli.progress import Progress
from tenantops.config.errors import ConfigError, ConfigIssue
from tenantops.config.kinds.rightsizing import RightsizingSpec
from tenantops.decide.rightsizing.backtest import BacktestResult, Unscorable, backtest
from tenantops.decide.rightsizing.params import resource_params
from tenantops.decide.rightsizing.slack_split import SlackSplit
from tenantops.sim.trace import default_traces_dir, read_samples
from tenantops.structs.rightsizing_findings import ResourceRecommendation, RightsizingFindings
from tenantops.structs.usage import Resource

GOAL_MEDIAN, GOAL_MAX = 0.8, 1.0


@click.command("rightsize")
@config_options
@json_option
@click.option("--tenant", "tenant_ids", multiple=True, help="Only this tenant (repeatable).")
@click.option("--prometheus-url", default=None,
              help=f"Prometheus base URL (the usage history). {PROMETHEUS_URL_HELP}")
@click.option("--kube-url", default=None, help="Kubernetes API for --apply. Env: TENANTOPS_KUBE_URL.")
@click.option("--state", "state_path", default=None, help=f"State database (guardrail intervals). {STATE_HELP}")
@click.option("--at", "at_text", default=None,
              help="Evaluate as of this ISO-8601 UTC time (default: now). Not with --apply, which applies now.")
@click.option("--apply", "do_apply", is_flag=True, help="Write the patches the policy's apply mode allows.")
@click.option("--backtest", "do_backtest", is_flag=True, help="Run docs/benchmarks.md §2 on the FILES given.")
@click.option("--output", "output_dir", type=click.Path(file_okay=False), default=None,
              help="Backtest: folder for DIR/<name>.csv request files.")
@click.option("--traces", default=None, type=click.Path(file_okay=False),
              help="Backtest without FILES: use TRACES/usage/*.csv. Env: TENANTOPS_TRACES.")
@click.option("--policy", "policy_name", default="standard", show_default=True,
              help="Backtest: the RightsizingPolicy whose parameters are used.")
@click.option("--resource", type=click.Choice(["cpu", "memory"]), default="cpu", show_default=True,
              help="Backtest: which resource's percentile and margin apply to the series.")
@click.option("--no-schedule", is_flag=True, help="Backtest: never use a daily schedule.")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.pass_context
def command(ctx: click.Context, catalog: str | None, policies: str | None, as_json: bool, tenant_ids: tuple[str, ...],
            prometheus_url: str | None, kube_url: str | None, state_path: str | None, at_text: str | None,
            do_apply: bool, do_backtest: bool, output_dir: str | None, traces: str | None, policy_name: str,
            resource: str, no_schedule: bool, files: tuple[str, ...]) -> None:
    """Recommend CPU/memory requests and instance types, with the monthly saving; or --backtest FILES."""
    if do_backtest:
        refuse_unread(ctx, RECOMMEND_ONLY, "with --backtest")
    else:
        refuse_unread(ctx, BACKTEST_ONLY, "without --backtest")
    settings = settings_from(ctx, catalog=catalog, policies=policies, prometheus_url=prometheus_url,
                             kube_url=kube_url, state=state_path)
    if do_backtest:
        _backtest(settings.policies, policy_name, resource, not no_schedule, files, traces, output_dir, as_json)
        return
    if files:
        raise click.UsageError("FILES are only read with --backtest")
    if do_apply and at_text:
        # A patch is made now, so its change time is now: a pass as of another time stored that time as the
        # change, and the minimum interval was counted from it (a past --at let the next run change again at
        # once, a future one passed the interval itself), and a daily schedule applied another hour's request.
        raise click.UsageError("--at is for listing: --apply applies as of now (the change time the minimum "
                               "interval counts from)")
    _recommend(settings, tenant_ids, at_text, do_apply, as_json)


# Flags only one mode reads: given to the other one they were ignored without a word (`--policy aggressive`
# recommended with every tenant's own policy; `--backtest --apply` applied nothing).
BACKTEST_ONLY = ("output_dir", "traces", "policy_name", "resource", "no_schedule")
RECOMMEND_ONLY = ("tenant_ids", "prometheus_url", "kube_url", "state_path", "at_text", "do_apply")


# --------------------------------------------------------------------------------------------- backtest

def _backtest(policies_dir: str, policy_name: str, resource: str, schedule: bool, files: tuple[str, ...],
              traces: str | None, output_dir: str | None, as_json: bool) -> None:
    from tenantops.config.loader import load_policies

    if output_dir is None:
        raise click.UsageError("--backtest needs --output DIR")
    policies = load_policies(policies_dir)
    if policy_name not in policies.names("RightsizingPolicy"):
        have = ", ".join(policies.names("RightsizingPolicy"))
        message = f"no RightsizingPolicy {policy_name!r} (defined: {have})"
        raise ConfigError([ConfigIssue("--policy", 0, "policy", message)])
    spec = policies.get("RightsizingPolicy", policy_name)
    assert isinstance(spec, RightsizingSpec)
    kind: Resource = "cpu" if resource == "cpu" else "memory"
    base = resource_params(spec, kind, daily_schedule=schedule and spec.daily_schedule)
    # Recorded series come in their own units (often percent): the policy's floors and caps in cores or
    # bytes do not apply to them, the shape parameters do.
    params = dataclasses.replace(base, minimum=0.0, maximum=None)
    paths = [Path(f) for f in files]
    if not paths:
        folder = Path(traces) if traces else default_traces_dir() / "usage"
        if traces and (folder / "usage").is_dir():
            folder = folder / "usage"
        paths = sorted(folder.glob("*.csv"))
        if not paths:
            raise ConfigError([ConfigIssue(str(folder), 0, "--traces", "no usage *.csv series found")])
    loaded = [(p, *read_samples(p)) for p in paths]  # every file validated before any work
    results = []
    unscorable = []
    progress = Progress("rightsize --backtest", len(loaded))
    progress.start(f"{len(loaded)} usage series, policy {policy_name}, against the VPA recommender")
    for path, times, values in loaded:
        try:
            results.append(backtest(path.stem, times, values, params))
        except Unscorable as exc:
            unscorable.append(ConfigIssue(str(path), 0, "<trace>", str(exc)))
        progress.step(path.stem)
    if unscorable:  # like a malformed row: nothing written, nothing printed
        raise ConfigError(unscorable)
    out = output_folder(output_dir)
    for result in results:
        _write_requests(out / f"{result.name}.csv", result)
    payload = _backtest_payload(results, policy_name, resource, out)
    if as_json:
        echo_json(payload)
    else:
        _print_backtest(results, payload)


def _write_requests(path: Path, result: BacktestResult) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if result.scheduled:
            writer.writerow(["day", "hour", "request"])
            for r in result.requests:
                if r.hour is None:  # a flat day inside a scheduled series: the same value every hour
                    writer.writerows([r.day, h, f"{r.request:.6g}"] for h in range(24))
                else:
                    writer.writerow([r.day, r.hour, f"{r.request:.6g}"])
        else:
            writer.writerow(["day", "request"])
            writer.writerows([r.day, f"{r.request:.6g}"] for r in result.requests)


def _backtest_payload(results: list[BacktestResult], policy: str, resource: str, out: Path) -> dict[str, Any]:
    ratios = [r.slack_vs_vpa for r in results]
    median, worst = statistics.median(ratios), max(ratios)
    safe = all(r.within_budget for r in results)
    return {
        "policy": policy,
        "resource": resource,
        "series": [
            {
                "name": r.name, "csv": str(out / f"{r.name}.csv"), "samples": r.samples, "days": r.days,
                "scored_samples": r.scored_samples, "slack": r.score.slack, "overrun_rate": r.score.overrun_rate,
                "vpa_slack_at_overrun": r.vpa_slack_at_overrun, "slack_vs_vpa": r.slack_vs_vpa,
                "overrun_budget": r.overrun_budget, "within_budget": r.within_budget,
                "beyond_vpa_curve": r.beyond_vpa_curve, "scheduled": r.scheduled,
                "scheduled_days": r.scheduled_days, "schedule_saving": _schedule_saving(r),
                "fixed_peak": {"slack": r.fixed_peak.slack, "overrun_rate": r.fixed_peak.overrun_rate},
                "vpa": [{"q": p.percentile, "slack": p.slack, "overrun_rate": p.overrun_rate} for p in r.vpa],
                "hindsight": [{"shape": b.shape, "slack": b.score.slack, "overrun_rate": b.score.overrun_rate,
                               "slack_vs_vpa": b.slack_vs_vpa} for b in r.hindsight],
                "slack_split": _split_payload(r.slack_split),
                "vpa_default_slack_split": _split_payload(r.vpa_default_split),
            }
            for r in results
        ],
        "summary": {
            "series": len(results),
            "median_slack_vs_vpa": median,
            "max_slack_vs_vpa": worst,
            "median_slack": statistics.median(r.score.slack for r in results),
            "median_overrun_rate": statistics.median(r.score.overrun_rate for r in results),
            "over_budget": [r.name for r in results if not r.within_budget],
            "goal": {"median_at_most": GOAL_MEDIAN, "max_at_most": GOAL_MAX, "overrun_within_budget": safe,
                     "met": safe and median <= GOAL_MEDIAN and worst <= GOAL_MAX},
        },
    }


def _split_payload(split: SlackSplit | None) -> dict[str, float] | None:
    if split is None:
        return None
    return {"above_day_peak": split.above_day_peak, "day_over_hour": split.day_over_hour,
            "within_hour": split.within_hour}


def _split_text(split: SlackSplit | None) -> str:
    if split is None:
        return "-"
    return f"{split.above_day_peak:.3f} + {split.day_over_hour:.3f} + {split.within_hour:.3f}"


def _schedule_saving(result: BacktestResult) -> float | None:
    """On scheduled days, how much less the schedule requested than its own busiest hour held all day."""
    by_day: dict[int, list[float]] = {}
    for r in result.requests:
        if r.hour is not None:
            by_day.setdefault(r.day, []).append(r.request)
    flat = sum(max(v) * len(v) for v in by_day.values())
    return 1.0 - sum(sum(v) for v in by_day.values()) / flat if flat > 0 else None


def _print_backtest(results: list[BacktestResult], payload: dict[str, Any]) -> None:
    head = (f"{'series':34} {'days':>4} {'slack':>6} {'overrun':>8} {'budget':>7}    {'vpa@ovr':>8} {'vs_vpa':>7}  "
            f"{'fixed-peak':>15}  schedule")
    click.echo(head)
    click.echo("-" * len(head))
    for r, row in zip(results, payload["series"], strict=True):
        mark = "*" if r.beyond_vpa_curve else " "
        saving = row["schedule_saving"]
        sched = f"{r.scheduled_days} d, saves {saving:.0%}" if saving is not None else "no"
        click.echo(
            f"{r.name[:34]:34} {r.days:>4} {r.score.slack:>6.3f} {r.score.overrun_rate:>8.2%} "
            f"{r.overrun_budget:>7.2%} {'ok ' if r.within_budget else 'OVER'} {r.vpa_slack_at_overrun:>8.3f} "
            f"{r.slack_vs_vpa:>6.3f}{mark}  {r.fixed_peak.slack:>6.3f}/{r.fixed_peak.overrun_rate:>7.2%}  {sched}"
        )
    click.echo("\nVPA curve (q: overrun / slack):")
    for r in results:
        click.echo(f"  {r.name[:34]:34} " + "  ".join(
            f"{p.percentile:g}: {p.overrun_rate:.2%}/{p.slack:.3f}" for p in r.vpa))
    click.echo("\nHindsight bounds: least waste within the budget, knowing the scored days (slack / overrun / vs_vpa):")
    for r in results:
        click.echo(f"  {r.name[:34]:34} " + "  ".join(
            f"{b.shape}: {b.score.slack:.3f}/{b.score.overrun_rate:.2%}/{b.slack_vs_vpa:.3f}" for b in r.hindsight))
    click.echo("\nWhere the slack goes, as shares of the request: above each day's peak + the day's peak over the "
               "hour's + within the hour:")
    for r in results:
        click.echo(f"  {r.name[:34]:34} own {_split_text(r.slack_split)}   "
                   f"VPA q=0.9 {_split_text(r.vpa_default_split)}")
    s = payload["summary"]
    over = s["over_budget"]
    click.echo(
        f"\noverrun within budget on {len(results) - len(over)}/{len(results)} series"
        + (f" (over: {', '.join(over)})" if over else "")
        + f"; median slack_vs_vpa {s['median_slack_vs_vpa']:.3f} (goal <= {GOAL_MEDIAN}), "
        f"max {s['max_slack_vs_vpa']:.3f} (goal <= {GOAL_MAX}): {'met' if s['goal']['met'] else 'NOT met'}"
    )
    if any(r.beyond_vpa_curve for r in results):
        click.echo("* overran more often than every VPA run: compared with VPA's riskiest run (q = 0.5)")
    click.echo("schedule: days on which a daily schedule by UTC hour was recommended, and what it saved against "
               "holding its busiest hour all day")


# ------------------------------------------------------------------------------------------ recommend

def _recommend(settings: Any, tenant_ids: tuple[str, ...], at_text: str | None, do_apply: bool,
               as_json: bool) -> None:
    """One pass of the right-sizing concern through the controller `tenantops run` builds
    (`engine.root.build_controller`): the same history input, and with `--apply` the same requests actuator,
    whose applied outcomes alone are remembered. Without `--apply` it is a dry run on an in-memory store:
    nothing is written anywhere."""
    from tenantops.engine.root import build_controller

    config = load(settings)
    now = _parse_at(at_text)
    tenants = list(config.tenants)
    if tenant_ids:
        unknown = sorted(set(tenant_ids) - {t.id for t in tenants})
        if unknown:
            message = f"unknown tenant(s): {', '.join(unknown)}"
            raise ConfigError([ConfigIssue(config.catalog_path, 0, "--tenant", message)])
        tenants = [t for t in tenants if t.id in tenant_ids]
    if not do_apply:
        settings = settings.model_copy(update={"state": ":memory:", "database_url": None})
    controller = build_controller(settings, dry_run=not do_apply, decider_names=["rightsizing"])
    try:
        result = controller.reconciler.run_pass(config, now, dry_run=not do_apply, tenants=tenants)
    finally:
        controller.close()
    down = getattr(controller.reconciler.source, "unreachable", None)
    if isinstance(down, Exception):  # nothing to recommend from; say which setting to fix
        raise down
    findings = result.findings.rightsizing
    applied = [{"tenant": o.patch.tenant, "workload": o.patch.workload, "status": str(o.status), "detail": o.detail}
               for o in result.patch_outcomes] if do_apply else []
    if as_json:  # the edge: the findings' own JSON, and what --apply did
        payload = findings.to_json() if findings is not None else {}
        if applied:
            payload["applied"] = applied
        echo_json(payload)
    else:
        _print_recommendations(findings or RightsizingFindings(), applied)
    # As `reconcile --once` does: a patch that was not made (failed, or retryable and left) is a failure.
    missed = [o for o in result.patch_outcomes if o.status in (OutcomeStatus.FAILED, OutcomeStatus.RETRYABLE)]
    if do_apply and missed:
        raise click.ClickException(f"{len(missed)} of {len(applied)} request patch(es) not applied: " + "; ".join(
            f"{o.patch.tenant}/{o.patch.workload}: {o.status} {o.detail}" for o in missed))


def _parse_at(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError([ConfigIssue("--at", 0, "at", f"{text!r} is not an ISO-8601 time")]) from None
    if not 1971 <= value.year <= 9000:  # the evaluation window reaches back weeks: year 1 overflows
        raise ConfigError([ConfigIssue("--at", 0, "at", f"{text!r} is outside the years 1971..9000")])
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _print_recommendations(findings: RightsizingFindings, applied: list[dict[str, str]]) -> None:
    from tenantops.quantities import quantity

    def q(resource: str, value: float | None) -> str:
        return "-" if value is None else quantity(resource, value)

    head = (f"{'tenant/workload':32} {'cpu now':>8} {'cpu target [lower, upper]':>26} {'mem now':>9} "
            f"{'mem target [lower, upper]':>28} {'saving/mo':>10}  conf  note")
    click.echo(head)
    click.echo("-" * len(head))
    for row in findings.recommendations:
        cpu, mem = row.cpu, row.memory
        saving = row.saving_month
        notes = []
        for resource, rec in (("cpu", cpu), ("memory", mem)):
            if rec.schedule:
                hourly = rec.schedule
                notes.append(f"{resource} schedule by UTC hour {q(resource, min(hourly))}..{q(resource, max(hourly))} "
                             f"(saves {1 - sum(hourly) / 24 / max(hourly):.0%} vs its peak all day)")
        inst = row.instance
        if inst is not None and inst.recommended and inst.change is not None:
            notes.append(f"instance {inst.current} -> {inst.recommended} "
                         f"(saves {inst.saving_month or 0:.2f}/mo, risk {inst.risk_label}): "
                         f"launch template {inst.change.name} instanceType, via pulumi up")

        def bounds(resource: str, rec: ResourceRecommendation) -> str:
            return f"{q(resource, rec.recommended)} [{q(resource, rec.lower)}, {q(resource, rec.upper)}]"

        click.echo(
            f"{(row.tenant + '/' + row.workload)[:32]:32} {q('cpu', cpu.current):>8} {bounds('cpu', cpu):>26} "
            f"{q('memory', mem.current):>9} {bounds('memory', mem):>28} "
            f"{'-' if saving is None else f'{saving:.2f}':>10}  {row.confidence:.2f}  {'; '.join(notes)}"
        )
    click.echo(f"\ntotal monthly saving: {findings.saving_month:.2f} {findings.currency}")
    for item in applied:
        click.echo(f"applied {item['tenant']}/{item['workload']}: {item['status']} {item['detail']}")
    for err in findings.history.errors if findings.history is not None else ():
        click.echo(f"warning: usage history query failed: {err}", err=True)
