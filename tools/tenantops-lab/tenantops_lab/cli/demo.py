"""`tenantops demo`: the control loop end to end on one machine, with real Prometheus, moto and SMTP."""

from __future__ import annotations

import json
import signal
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from tenantops.cli.options import FiniteFloatRange, config_options, settings_from
from tenantops.config.errors import ConfigError, ConfigIssue
from tenantops.notify.report.model import period_words

if TYPE_CHECKING:
    from tenantops_lab.demo.run import DemoResult


def _default_traces() -> Path:
    from tenantops.sim.trace import default_traces_dir

    return default_traces_dir()


@click.command("demo")
@config_options
@click.option("--minutes", type=FiniteFloatRange(0.25, 60), default=3.0, show_default=True,
              help="Wall-clock length of the replay.")
@click.option("--speed", type=FiniteFloatRange(0.1, 10), default=1.0, show_default=True,
              help="Trace minutes replayed per second; policy durations shrink by the same factor.")
@click.option("--output", type=click.Path(file_okay=False), default="demo-output", show_default=True,
              help="Folder for the report, audit log, plots, mail and the compressed-time configuration.")
@click.option("--traces", type=click.Path(), default=None,
              help="Folder of recorded traces. Env: TENANTOPS_TRACES. Default: the repository's data/traces.")
@click.option("--history-days", type=click.IntRange(0, 365), default=60, show_default=True,
              help="Days of recorded history backfilled into Prometheus before the replay (0: none).")
@click.option("--report-days", type=click.IntRange(1, 92), default=30, show_default=True,
              help="The mailed cost report's period, compared with the same number of days before it.")
@click.option("--live/--no-live", default=None, help="Live terminal view (default: when on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON at the end.")
@click.pass_context
def command(ctx: click.Context, catalog: str | None, policies: str | None, minutes: float, speed: float,
            output: str, traces: str | None, history_days: int, report_days: int, live: bool | None,
            as_json: bool) -> None:
    """Replay recorded traces as the catalogue's tenants and watch the controller scale them.

    Starts Prometheus (scraping a workload simulator every 0.5 s), moto's AWS server (the silo tenants'
    Auto Scaling groups), a Kubernetes API stand-in (the pooled tenants' Deployments) and an SMTP server;
    runs the controller live; then mails the cost report and writes it, the audit log and plots to
    --output. Ctrl-C stops early and still writes everything.
    """
    from tenantops_lab.demo.run import Demo, DemoOptions

    settings = settings_from(ctx, catalog=catalog, policies=policies)
    traces_dir = Path(traces) if traces else _default_traces()
    if not traces_dir.is_dir():
        raise ConfigError([ConfigIssue(str(traces_dir), 0, "--traces", "traces folder does not exist")])
    console = Console(stderr=as_json)
    demo = Demo(DemoOptions(catalog=Path(settings.catalog), policies=Path(settings.policies), traces=traces_dir,
                            output=Path(output), minutes=minutes, speed=speed, live=live,
                            history_days=history_days, report_days=report_days), console)

    def stop(signum: int, frame: FrameType | None) -> None:
        from tenantops.signals import from_signal

        from_signal(demo.request_stop, "tenantops-demo-stop")

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = demo.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    print_summary(console, result)
    for problem in result.problems:
        console.print(f"  [yellow]problem:[/yellow] {problem}")
    if result.problems:
        ctx.exit(1)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _when(stamp: str | None) -> str:
    """A trace time as the report prints times, to the minute in UTC (the JSON summary keeps ISO 8601)."""
    return "-" if stamp is None else datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _period(start: str, end: str) -> str:
    """The report's period as its own title names it (`period_words`; the period ends at midnight after its
    last day)."""
    return period_words(date.fromisoformat(start[:10]), date.fromisoformat(end[:10]))


def print_summary(console: Console, result: DemoResult) -> None:
    """The closing summary: what the controller did, per workload against its goal, and what the report holds."""
    up, down = result.latency_up, result.latency_down
    console.print()
    console.print(f"[bold]tenantops demo[/bold] {'(stopped early) ' if result.interrupted else ''}"
                  f"ran {result.seconds:.0f}s: {result.passes} controller passes, {result.actions} scaling actions"
                  f" (trace time {_when(result.trace_start)} to {_when(result.trace_end)}, "
                  f"{result.trace_seconds_per_wall_second:g}x)")
    if result.history is not None:
        h = result.history
        console.print(f"  history: {h.days} days backfilled ({h.samples:,} samples, {h.series:,} series), "
                      f"{h.cost_passes} hourly cost passes {_when(h.start)} to {_when(h.end)}")
    if result.schedule is not None:
        console.print(f"  schedule: {result.schedule.describe()}")
    console.print(f"  scaled up:   {', '.join(result.scaled_up) or '-'}")
    console.print(f"  scaled down: {', '.join(result.scaled_down) or '-'}")
    console.print(f"  decision latency in trace time, load change -> actuator call: scale-up p50 {_minutes(up.p50)} "
                  f"p99 {_minutes(up.p99)} (n={up.count}); scale-down p50 {_minutes(down.p50)} "
                  f"p99 {_minutes(down.p99)} (n={down.count})")
    if result.workloads:
        table = Table(title="per workload over the live part (trace minutes)", title_justify="left",
                      box=None, pad_edge=False)
        for name in ("workload", "under-prov.", "rate", "goal", "", "week", "HPA", "up/down", "replicas"):
            table.add_column(name, justify="left" if name in ("workload", "") else "right", no_wrap=True)
        for w in result.workloads:
            colour = "green" if w.replayed_within_goal else "red"
            week = "-" if w.replayed_rate is None else f"[{colour}]{w.replayed_rate:.2%}[/{colour}]"
            table.add_row(f"{w.tenant}/{w.workload}", f"{w.under_provisioned_minutes:.1f}/{w.minutes:.0f}",
                          f"{w.violation_rate:.1%}", f"{w.goal:.1%}",
                          "[green]ok[/green]" if w.within_goal else "[red]over[/red]", week,
                          "-" if w.hpa_minutes is None else f"{w.hpa_minutes:.0f}",
                          f"{w.scaled_up}/{w.scaled_down}", f"{w.replicas_min}-{w.replicas_max}")
        console.print(table)
        met = sum(1 for w in result.workloads if w.within_goal)
        console.print(f"  {met} of {len(result.workloads)} workloads within their tier's miss goal over the live part")
        replayed = [w for w in result.workloads if w.replayed_rate is not None]
        if replayed:
            days = max(w.replayed_days for w in replayed)
            console.print(f"  week: the same decision replayed over the {days:g} recorded days before the live window"
                          f" (the benchmark's environment): {sum(1 for w in replayed if w.replayed_within_goal)} of "
                          f"{len(replayed)} within goal; HPA: minutes the HPA at 70% leaves under-provisioned on "
                          "the live window's load")
    if result.report is not None:
        r = result.report
        console.print(f"  cost report {_period(r.period_start, r.period_end)}: {r.days_with_cost} days "
                      f"with cost, ${r.total_usd:,.2f}; budget warnings: {', '.join(r.budget_warnings) or 'none'}; "
                      f"anomalies: {len(r.anomalies)}; savings ${r.savings_usd_month:,.2f}/month "
                      f"({r.savings} recommendations); top movers: {', '.join(r.top_movers) or '-'}")
    console.print(f"  cost report mailed: {'yes' if result.report_sent else 'no'} "
                  f"({result.mails_received} message(s) at the local SMTP server)")
    if result.kubeconfig:
        console.print(f"  kubeconfig (valid while the demo runs): {result.kubeconfig}", highlight=False)
    console.print(f"  output: {result.output.resolve()}")
    for name, path in sorted(result.files.items()):
        console.print(f"    {name:<16} {path}", highlight=False)
