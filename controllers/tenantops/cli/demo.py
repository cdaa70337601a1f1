"""`tenantops demo`: the control loop end to end on one machine, with real Prometheus, moto and SMTP."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from tenantops.cli.options import config_options, settings_from
from tenantops.config.errors import ConfigError, ConfigIssue


def _default_traces() -> Path:
    from tenantops.sim.trace import default_traces_dir

    return default_traces_dir()


@click.command("demo")
@config_options
@click.option("--minutes", type=click.FloatRange(0.25, 60), default=3.0, show_default=True,
              help="Wall-clock length of the replay.")
@click.option("--speed", type=click.FloatRange(0.1, 10), default=1.0, show_default=True,
              help="Trace minutes replayed per second; policy durations shrink by the same factor.")
@click.option("--output", type=click.Path(file_okay=False), default="demo-output", show_default=True,
              help="Folder for the report, audit log, plots, mail and the compressed-time configuration.")
@click.option("--traces", type=click.Path(), default=None,
              help="Folder of recorded traces. Env: TENANTOPS_TRACES. Default: the repository's data/traces.")
@click.option("--live/--no-live", default=None, help="Live terminal view (default: when on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON at the end.")
@click.pass_context
def command(ctx: click.Context, catalog: str | None, policies: str | None, minutes: float, speed: float,
            output: str, traces: str | None, live: bool | None, as_json: bool) -> None:
    """Replay recorded traces as the catalogue's tenants and watch the controller scale them.

    Starts Prometheus (scraping a workload simulator every 2 s), moto's AWS server (the silo tenants'
    Auto Scaling groups), a Kubernetes API stand-in (the pooled tenants' Deployments) and an SMTP server;
    runs the controller live; then mails the cost report and writes it, the audit log and plots to
    --output. Ctrl-C stops early and still writes everything.
    """
    from tenantops.demo.run import Demo, DemoOptions

    settings = settings_from(ctx, catalog=catalog, policies=policies)
    traces_dir = Path(traces) if traces else _default_traces()
    if not traces_dir.is_dir():
        raise ConfigError([ConfigIssue(str(traces_dir), 0, "--traces", "traces folder does not exist")])
    console = Console(stderr=as_json)
    demo = Demo(DemoOptions(catalog=Path(settings.catalog), policies=Path(settings.policies), traces=traces_dir,
                            output=Path(output), minutes=minutes, speed=speed, live=live), console)

    def stop(signum: int, frame: FrameType | None) -> None:
        demo.request_stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = demo.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    up, down = result.latency_up, result.latency_down

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}s"

    console.print()
    console.print(f"[bold]tenantops demo[/bold] {'(stopped early) ' if result.interrupted else ''}"
                  f"ran {result.seconds:.0f}s: {result.passes} controller passes, {result.actions} scaling actions")
    console.print(f"  scaled up:   {', '.join(result.scaled_up) or '-'}")
    console.print(f"  scaled down: {', '.join(result.scaled_down) or '-'}")
    console.print(f"  decision latency, load change -> actuator call: scale-up p50 {fmt(up.p50)} p99 {fmt(up.p99)}"
                  f" (n={up.count}); scale-down p50 {fmt(down.p50)} p99 {fmt(down.p99)} (n={down.count})")
    console.print(f"  cost report mailed: {'yes' if result.report_sent else 'no'} "
                  f"({result.mails_received} message(s) at the local SMTP server)")
    console.print(f"  output: {result.output.resolve()}")
    for name, path in sorted(result.files.items()):
        console.print(f"    {name:<16} {path}", highlight=False)
    for problem in result.problems:
        console.print(f"  [yellow]problem:[/yellow] {problem}")
    if result.problems:
        ctx.exit(1)
