"""Running the demo end to end: set up, run the controller live, report, write results, tear down.

The controller is the production one (`engine.root.build_controller`, as `tenantops run` builds it), pointed
at the local stack through the same `Settings` a deployment would fill from TENANTOPS_* variables. Only
the policies differ: they are the repository's policies in compressed time (`demo.timescale`).

Stopping (end of the run, Ctrl-C or SIGTERM) always goes the same way: stop the controller after its
current pass, send and write the report, write the audit log and plots, then stop every server.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from tenantops.act.base import OutcomeStatus
from tenantops.config import Config, load_config
from tenantops.config.settings import Secret, Settings
from tenantops.demo.stack import DemoStack, StackOptions
from tenantops.demo.timescale import write_compressed
from tenantops.demo.view import ActionEvent, DemoLog, DemoView
from tenantops.demo.workloads import plan_workloads
from tenantops.sandbox.moto_server import FAKE_CREDENTIALS
from tenantops.sandbox.workload_sim import LatencySample, percentile
from tenantops.sim.trace import list_traces, load_trace

log = logging.getLogger(__name__)

OPS_EMAIL = "ops@example.com"
MAIL_FROM = "tenantops@demo.localhost"


@dataclass
class DemoOptions:
    catalog: Path
    policies: Path
    traces: Path
    output: Path
    minutes: float = 3.0  # wall-clock length of the replay
    speed: float = 1.0  # trace minutes per wall second
    scrape_seconds: float = 2.0
    interval_seconds: float = 1.0  # controller pass interval (wall)
    live: bool | None = None  # None: a live view on terminals, plain lines elsewhere
    region: str = "us-east-1"


@dataclass
class LatencySummary:
    count: int
    p50: float | None
    p99: float | None


@dataclass
class DemoResult:
    output: Path
    seconds: float
    passes: int
    failed_passes: int
    actions: int
    scaled_up: list[str]
    scaled_down: list[str]
    latency_up: LatencySummary
    latency_down: LatencySummary
    latency_all: LatencySummary
    report_sent: bool
    mails_received: int
    files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    interrupted: bool = False
    servers: dict[str, Any] = field(default_factory=dict)  # ports and the Prometheus pid, to check teardown
    slowest: list[dict[str, Any]] = field(default_factory=list)  # the slowest responses, to look into

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["output"] = str(self.output)
        return out


def summarise(samples: list[LatencySample], direction: str | None) -> LatencySummary:
    values = [s.seconds for s in samples if direction is None or s.direction == direction]
    p50, p99 = percentile(values, 50), percentile(values, 99)
    return LatencySummary(len(values), None if p50 is None else round(p50, 3), None if p99 is None else round(p99, 3))


def demo_deciders() -> tuple[list[Any], list[str]]:
    """The registered deciders, in registry order (all of them: the demo runs what production runs), and
    the names that could not be built (none since the registry imports them plainly)."""
    from tenantops.engine.deciders import build_deciders

    return list(build_deciders()), []


def _events_from(result: Any, elapsed: float) -> list[ActionEvent]:
    events = []
    for outcome in result.outcomes:
        if outcome.status is OutcomeStatus.UNCHANGED:
            continue
        a = outcome.action
        events.append(ActionEvent(round(elapsed, 3), a.tenant, a.workload, a.current, a.desired,
                                  outcome.status.value, a.rule, a.reason))
    return events


class Demo:
    """One demo run; `run()` returns a `DemoResult`. `request_stop()` is safe from signal handlers."""

    def __init__(self, options: DemoOptions, console: Console | None = None) -> None:
        self.options = options
        self.console = console or Console()
        self._stop = threading.Event()
        self.stack: DemoStack | None = None
        self.log = DemoLog()

    def request_stop(self) -> None:
        self._stop.set()

    # -- set-up --------------------------------------------------------------------------------------

    def prepare(self) -> tuple[Config, Path, Path]:
        """Write the compressed-time configuration into the output folder and load it (ConfigError: exit 2)."""
        opts = self.options
        factor = 60.0 * opts.speed
        catalog, policies = write_compressed(opts.policies, opts.catalog, opts.output / "config", factor,
                                             interval=opts.interval_seconds, scrape_seconds=opts.scrape_seconds)
        return load_config(catalog, policies), catalog, policies

    def settings(self, catalog: Path, policies: Path) -> Settings:
        assert self.stack is not None
        return Settings(
            catalog=str(catalog), policies=str(policies), prometheus_url=self.stack.prometheus.url,
            state=str(self.options.output / "state.db"), aws_endpoint_url=self.stack.moto.endpoint_url,
            aws_region=self.options.region, kube_url=self.stack.kube.url, smtp_host=self.stack.smtp.host,
            smtp_port=self.stack.smtp.port, smtp_password=Secret(""), mail_from=MAIL_FROM, ops_email=OPS_EMAIL,
        )

    # -- the run -------------------------------------------------------------------------------------

    def _set_aside_previous_run(self, output: Path) -> None:
        """Each demo starts from empty state: a previous run's folder is kept beside it, not resumed or mixed in.

        The demo's store, audit log and outbox live in its output folder; resuming them would replay another
        run's learned margins and append to its audit log, so the figures would describe neither run.
        """
        if not output.exists() or not any(output.iterdir()):
            return
        previous = output.with_name(output.name + ".previous")
        if previous.exists():
            shutil.rmtree(previous)
        output.rename(previous)
        self._progress(f"previous demo output kept in {previous}")

    def run(self) -> DemoResult:
        from tenantops.engine.root import build_controller
        from tenantops.record.metrics import ControllerMetrics

        opts = self.options
        self._set_aside_previous_run(opts.output)
        opts.output.mkdir(parents=True, exist_ok=True)
        config, catalog, policies = self.prepare()
        say = self._progress
        say(f"loading traces from {opts.traces}")
        traces = [load_trace(p) for p in list_traces(opts.traces)]
        duration = opts.minutes * 60.0
        # The replay starts while Prometheus waits for its first scrape: plan a little beyond the run.
        specs = plan_workloads(config, traces, (duration + 20.0) * opts.speed)
        # boto3 inside the controller must never pick up real credentials for the local moto endpoint.
        os.environ.update(FAKE_CREDENTIALS)
        os.environ.setdefault("AWS_DEFAULT_REGION", opts.region)
        started_wall = time.monotonic()
        problems: list[str] = []
        interrupted = False
        reconciler = None
        settings: Settings | None = None
        thread: threading.Thread | None = None
        runner = None
        try:
            self.stack = DemoStack.start(config, specs, StackOptions(
                scrape_interval=f"{opts.scrape_seconds:g}s", startup_seconds=120.0 / (60.0 * opts.speed),
                speed=opts.speed, mail_dir=opts.output / "mail", asg_region=opts.region), progress=say)
            settings = self.settings(catalog, policies)
            say("controller")
            deciders, missing = demo_deciders()
            problems.extend(f"decider {name} is not available" for name in missing)
            controller = build_controller(settings, dry_run=False, metrics=ControllerMetrics(), deciders=deciders)
            reconciler = controller.reconciler
            sim = self.stack.sim

            def on_pass(result: Any) -> None:
                alerts = [f"{a.severity.value}: {a.summary}" for a in result.alerts]
                self.log.record_pass(_events_from(result, sim.elapsed()), result.findings, alerts,
                                     result.timings.get("total"), result.ok)

            runner = controller.runner(config, on_pass=[on_pass])
            thread = threading.Thread(target=runner.run, name="controller", daemon=True)
            thread.start()
            interrupted = self._watch(duration)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if runner is not None:
                runner.stop()
            if thread is not None:
                thread.join(timeout=30)
        try:
            return self._finish(config, settings, started_wall, problems, interrupted)
        finally:
            if reconciler is not None:
                reconciler.store.close()
            if self.stack is not None:
                self.stack.close()

    def _watch(self, duration: float) -> bool:
        """Show progress until the replay is over or a stop was requested; True when interrupted."""
        assert self.stack is not None
        view = DemoView(self.stack.sim, self.log, duration, self.options.speed)
        live = self.console.is_terminal if self.options.live is None else self.options.live
        # The run lasts `duration` from the controller's start; the view's clock is the replay's.
        deadline = time.monotonic() + duration
        if live:
            with Live(view.render(), console=self.console, refresh_per_second=2, transient=False) as display:
                while not self._stop.wait(0.5):
                    display.update(view.render())
                    if time.monotonic() >= deadline:
                        break
        else:
            while not self._stop.wait(0.5):
                view.print_new_actions(self.console)
                if time.monotonic() >= deadline:
                    break
            view.print_new_actions(self.console)
        return self._stop.is_set()

    # -- results -------------------------------------------------------------------------------------

    def _finish(self, config: Config, settings: Settings | None, started: float, problems: list[str],
                interrupted: bool) -> DemoResult:
        from tenantops.demo.outputs import export_audit, send_report

        out = self.options.output
        files: dict[str, str] = {}
        sent = False
        mails = 0
        samples: list[LatencySample] = []
        _, actions, _, _, _ = self.log.snapshot()
        if self.stack is not None and settings is not None:
            sim = self.stack.sim
            sim.stop()  # freeze the history before plotting it
            samples = list(sim.latency.samples)
            self._progress("sending the cost report")
            try:
                files.update(send_report(config, settings, out / "report", self.stack.smtp))
                sent = True
            except Exception as exc:
                problems.append(f"report: {type(exc).__name__}: {exc}")
                log.warning("report failed", exc_info=True)
            mails = len(self.stack.smtp.wait_for(1, timeout=10 if sent else 0))
            try:
                files.update(export_audit(settings.state, out))
            except Exception as exc:
                problems.append(f"audit export: {type(exc).__name__}: {exc}")
            try:
                from tenantops.demo.plots import plot_latency, plot_replicas

                files["plot_replicas"] = str(plot_replicas(sim, actions, out / "plots" / "replicas.png"))
                files["plot_latency"] = str(plot_latency(samples, out / "plots" / "latency.png"))
            except Exception as exc:
                problems.append(f"plots: {type(exc).__name__}: {exc}")
        servers: dict[str, Any] = {}
        if self.stack is not None:
            servers = {"prometheus_pid": self.stack.prometheus.pid, "prometheus_port": self.stack.prometheus.port,
                       "moto_port": self.stack.moto.port, "smtp_port": self.stack.smtp.port,
                       "simulator_port": self.stack.sim.port,
                       "kube_port": self.stack.kube.port}
        applied = [a for a in actions if a.status == OutcomeStatus.APPLIED.value]
        result = DemoResult(
            output=out, seconds=round(time.monotonic() - started, 1), passes=self.log.passes,
            failed_passes=self.log.failed_passes, actions=len(applied),
            scaled_up=sorted({f"{a.tenant}/{a.workload}" for a in applied if a.direction == "up"}),
            scaled_down=sorted({f"{a.tenant}/{a.workload}" for a in applied if a.direction == "down"}),
            latency_up=summarise(samples, "up"), latency_down=summarise(samples, "down"),
            latency_all=summarise(samples, None), report_sent=sent, mails_received=mails, files=files,
            problems=problems, interrupted=interrupted, servers=servers,
            slowest=[asdict(s) for s in sorted(samples, key=lambda s: -s.seconds)[:5]],
        )
        summary = out / "summary.json"
        summary.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True))
        result.files["summary"] = str(summary)
        return result

    def _progress(self, message: str) -> None:
        self.console.print(f"[dim]demo:[/dim] {message}", highlight=False)
