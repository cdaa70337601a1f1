"""Running the demo end to end: set up, run the controller live, report, write results, tear down.

The controller is the production one (`engine.root.build_controller`, as `tenantops run` builds it), pointed
at the local stack through the same `Settings` a deployment would fill from TENANTOPS_* variables. Only
the policies differ: they are the repository's policies in compressed time (`demo.timescale`).

Stopping (end of the run, Ctrl-C or SIGTERM) always goes the same way: stop the controller after its
current pass, send and write the report, write the audit log and plots, then stop every server.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from tenantops.act.base import OutcomeStatus
from tenantops.config import Config, load_config
from tenantops.config.settings import Secret, Settings
from tenantops.record.store import StateStore
from tenantops.sim.trace import list_traces, load_trace
from tenantops.structs.findings import Findings
from tenantops_lab.demo.clock import TraceClock, TraceTimeSource, replay_origin
from tenantops_lab.demo.history import HOUR, HistoryGrid, HistorySource, history_series, seed_cost
from tenantops_lab.demo.schedule import PassFigures, pass_figures
from tenantops_lab.demo.stack import DemoStack, StackOptions
from tenantops_lab.demo.timescale import write_compressed, write_history_config
from tenantops_lab.demo.view import ActionEvent, DemoLog, DemoView
from tenantops_lab.demo.workloads import plan_workloads
from tenantops_lab.demo.yardstick import Yardstick, yardsticks
from tenantops_lab.sandbox.moto_server import FAKE_CREDENTIALS
from tenantops_lab.sandbox.workload_sim import Key, LatencySample, WorkloadSimulator, WorkloadSpec, percentile

log = logging.getLogger(__name__)

OPS_EMAIL = "ops@example.com"
HISTORY_GAP_SECONDS = 5 * 60 + 30  # Prometheus' default query lookback (5m), plus a margin
MAIL_FROM = "tenantops@demo.localhost"


@dataclass
class DemoOptions:
    catalog: Path
    policies: Path
    traces: Path
    output: Path
    minutes: float = 3.0  # wall-clock length of the replay
    speed: float = 1.0  # trace minutes per wall second
    scrape_seconds: float = 0.5  # a 2-minute rate window of the policy is 2 s: four scrapes
    interval_seconds: float | None = None  # wall seconds between passes (None: the ControllerPolicy's, see `prepare`)
    history_days: int = 60  # recorded history backfilled before the replay (0: none)
    dense_days: int = 3  # of which every 2 minutes per pod (what right-sizing reads; older: hourly)
    report_days: int = 30  # the cost report's period (against the same number of days before it)
    live: bool | None = None  # None: a live view on terminals, plain lines elsewhere
    region: str = "us-east-1"


@dataclass
class LatencySummary:
    count: int
    p50: float | None
    p99: float | None


@dataclass
class WorkloadFigures:
    """One workload over the live part, in trace minutes (measured by the simulator, not the controller)."""

    tenant: str
    workload: str
    trace: str
    minutes: float
    under_provisioned_minutes: float  # demand above what the ready replicas can serve (their CPU requests)
    violation_rate: float
    goal: float  # the tier's ScalingPolicy `predictive.target_miss`
    within_goal: bool
    scaled_up: int
    scaled_down: int
    replicas_min: int
    replicas_max: int
    history_days: float
    history_looped: bool
    # [start, length] of each run of under-provisioned minutes, from the live part's start (trace minutes):
    # set beside the schedule's late passes, a reader tells the machine's misses from the policy's.
    under_provisioned_runs: list[list[float]] = field(default_factory=list)
    # Beside the live figures, from the benchmark's environment (see `demo.yardstick`): the same decision
    # replayed over the recorded days before the live window, and the HPA at 70% on the live window's load.
    replayed_days: float = 0.0
    replayed_rate: float | None = None
    replayed_within_goal: bool | None = None
    hpa_minutes: float | None = None


@dataclass
class HistoryFigures:
    days: int
    series: int
    samples: int
    backfill_seconds: float
    cost_passes: int
    cost_failed_passes: int
    cost_seconds: float
    start: str | None
    end: str | None


@dataclass
class ReportFigures:
    """What the mailed report holds, counted from its data (not from the run)."""

    period_start: str
    period_end: str
    days_with_cost: int
    total_usd: float
    budget_warnings: list[str]
    anomalies: list[str]
    savings_usd_month: float
    savings: int
    top_movers: list[str]


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
    trace_seconds_per_wall_second: float = 60.0
    trace_start: str | None = None  # trace time of the first live pass
    trace_end: str | None = None
    workloads: list[WorkloadFigures] = field(default_factory=list)
    schedule: PassFigures | None = None
    history: HistoryFigures | None = None
    report: ReportFigures | None = None
    kubeconfig: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["output"] = str(self.output)
        return out


def summarise(samples: list[LatencySample], direction: str | None, factor: float = 1.0) -> LatencySummary:
    """Latency percentiles in trace seconds (`factor` trace seconds per wall second of the replay)."""
    values = [s.seconds * factor for s in samples if direction is None or s.direction == direction]
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
        self.specs: list[WorkloadSpec] = []
        self.history_figures: HistoryFigures | None = None
        self.kubeconfig: str | None = None
        self.live_started = 0.0  # simulator seconds at the controller's first live pass
        self.history_end: datetime | None = None  # trace time the history ends and the planned demand starts
        self.last_findings = Findings()
        self.trace_times: list[datetime] = []

    def request_stop(self) -> None:
        self._stop.set()

    # -- set-up --------------------------------------------------------------------------------------

    def prepare(self) -> tuple[Config, Path, Path]:
        """Write the demo's copy of the configuration into the output folder and load it (ConfigError: exit 2)."""
        opts = self.options
        interval = self.interval_seconds
        catalog, policies = write_compressed(opts.policies, opts.catalog, opts.output / "config", self.factor,
                                             interval=interval, scrape_seconds=opts.scrape_seconds)
        return load_config(catalog, policies), catalog, policies

    @functools.cached_property
    def interval_seconds(self) -> float:
        """Wall seconds between passes: the ControllerPolicy's interval in trace time (its jitter is dropped,
        so passes stay on the trace's schedule), unless the options set one."""
        if self.options.interval_seconds is not None:
            return self.options.interval_seconds
        policy = load_config(self.options.catalog, self.options.policies).policies.controller
        return policy.interval_seconds / self.factor

    @property
    def factor(self) -> float:
        """Trace seconds per wall second."""
        return 60.0 * self.options.speed

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
        """The whole demo; a log line that repeats (the same message and arguments) is shown once, since
        a 60x replay repeats in three minutes what a controller logs over hours."""
        once = OnceFilter()
        handlers = logging.getLogger().handlers
        for handler in handlers:
            handler.addFilter(once)
        try:
            return self._run()
        finally:
            for handler in handlers:
                handler.removeFilter(once)

    def _run(self) -> DemoResult:
        from tenantops.engine.inputs import HistoryRefresh
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
        # The replay starts while the controller waits for a full rate window: plan a little beyond the run.
        specs = plan_workloads(config, traces, (duration + 30.0) * opts.speed, history_minutes=opts.history_days * 1440)
        self.specs = specs
        # History ends before now (trace time = wall time up to there) and the replay continues it from that
        # instant, the same phase of the UTC week in every run (`replay_origin`: the month the report shows
        # and its anomalies do not move with the hour the demo is started at). It ends more than
        # Prometheus' 5-minute lookback before the replay's first query: a backfill carries no staleness
        # markers, so a history pod's last request sample would otherwise count as a running pod in every
        # instant query of the first five wall minutes.
        history_end = replay_origin(time.time() - HISTORY_GAP_SECONDS)
        self.history_end = datetime.fromtimestamp(history_end, UTC)
        say(f"history ends and the replay starts at {datetime.fromtimestamp(history_end, UTC):%a %Y-%m-%d %H:%M} "
            "UTC (trace time; the same time of the week in every run)")
        clock = TraceClock(origin_trace=history_end, factor=self.factor, origin_wall=history_end)
        grid = HistoryGrid.build(history_end, opts.history_days, opts.dense_days) if opts.history_days > 0 else None
        # boto3 inside the controller must never pick up real credentials for the local moto endpoint.
        os.environ.update(FAKE_CREDENTIALS)
        os.environ.setdefault("AWS_DEFAULT_REGION", opts.region)
        started_wall = time.monotonic()
        problems: list[str] = []
        interrupted = False
        reconciler = None
        refreshes: list[HistoryRefresh] = []
        settings: Settings | None = None
        thread: threading.Thread | None = None
        runner = None
        try:
            history = history_series(specs, grid, history_end) if grid is not None else []
            mark = time.monotonic()
            self.stack = DemoStack.start(config, specs, StackOptions(
                scrape_interval=f"{round(opts.scrape_seconds * 1000)}ms", startup_seconds=120.0 / self.factor,
                speed=opts.speed, mail_dir=opts.output / "mail", asg_region=None, history=history,
                replay=False), progress=say)
            self.history_figures = HistoryFigures(
                opts.history_days, len(history), sum(len(h.samples) for h in history),
                round(time.monotonic() - mark, 1), 0, 0, 0.0, None, None)
            del history
            settings = self.settings(catalog, policies)
            self.kubeconfig = self._write_kubeconfig()
            deciders, missing = demo_deciders()
            problems.extend(f"decider {name} is not available" for name in missing)
            controller = build_controller(settings, dry_run=False, metrics=ControllerMetrics(), deciders=deciders)
            reconciler = controller.reconciler
            if grid is not None:
                self._seed_history(settings, reconciler.store, grid)
            # The live part: the controller on the replay's clock, which starts where the history ends.
            # Prometheus is read at the wall instant of each trace time (`demo.clock`).
            reconciler.source = TraceTimeSource(reconciler.source, clock)
            for provider in reconciler.inputs:
                if isinstance(provider, HistoryRefresh):
                    provider.fetch = at_wall_time(provider.fetch, clock)
                    # Days of range queries take seconds of wall time, which at 60x are minutes in which
                    # no pass decides: fetched before the replay, then refreshed beside the passes.
                    say("usage history for right-sizing (14 days of range queries)")
                    provider.refresh(config, datetime.fromtimestamp(history_end, UTC))
                    provider.background = True
                    refreshes.append(provider)
            sim = self.stack.sim
            clock.reset(history_end)
            sim.start_replay()
            self._warm_up()
            self.live_started = sim.elapsed()
            say("controller (on trace time: one wall second is "
                f"{self.factor:g} trace seconds)")

            def on_pass(result: Any) -> None:
                alerts = [f"{a.severity.value}: {a.summary}" for a in result.alerts]
                self.log.record_pass(_events_from(result, sim.elapsed()), result.findings, alerts,
                                     result.timings.get("total"), result.ok)
                self.last_findings = result.findings
                self.trace_times.append(result.at)

            runner = controller.runner(config, on_pass=[on_pass], clock=clock.now)
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
            for refresh in refreshes:
                refresh.wait(timeout=30)  # a refresh under way finishes before its Prometheus goes away
        try:
            return self._finish(config, settings, started_wall, problems, interrupted)
        finally:
            if reconciler is not None:
                reconciler.store.close()
            if self.stack is not None:
                self.stack.close()

    def _seed_history(self, settings: Settings, store: StateStore, grid: HistoryGrid) -> None:
        """The controller's cost passes over the backfilled history, one per trace hour, committed into the
        controller's own store, which its live passes then continue."""
        from tenantops.engine.reconcile import Reconciler
        from tenantops.engine.root import register_actuators

        opts = self.options
        history_catalog, history_policies = write_history_config(opts.policies, opts.catalog,
                                                                 opts.output / "config" / "history",
                                                                 pass_seconds=HOUR)
        history_config = load_config(history_catalog, history_policies)
        hours = grid.hours()
        self._progress(f"cost passes over {opts.history_days} days of history ({len(hours)} hourly passes)")
        cost = [d for d in demo_deciders()[0] if d.name == "cost"]
        seeder = Reconciler(HistorySource(settings.prometheus_url, history_config, hours), store, cost,
                            register_actuators())
        every = max(1, len(hours) // 10)

        def progress(done: int, total: int) -> None:
            if done % every == 0 or done == total:
                self._progress(f"  {done}/{total} history passes")

        seeded = seed_cost(seeder, history_config, hours, progress)
        assert self.history_figures is not None
        self.history_figures = dataclasses.replace(
            self.history_figures, cost_passes=seeded.passes, cost_failed_passes=seeded.failed,
            cost_seconds=seeded.seconds, start=seeded.first.isoformat() if seeded.first else None,
            end=seeded.last.isoformat() if seeded.last else None)

    def _warm_up(self) -> None:
        """Wait until Prometheus holds a full rate window of the replay before the controller's first pass.

        A rate over a window the series only partly covers reads low (Prometheus extrapolates only half a
        scrape beyond the first sample), so a controller starting at once sees about half the CPU in use
        and cuts replicas it needs a minute later. In production the window is always full.
        """
        opts = self.options
        window = 4 * opts.scrape_seconds  # the shortest rate window of the demo's copy (timescale)
        self._stop.wait(window + 2 * opts.scrape_seconds)

    def _watch(self, duration: float) -> bool:
        """Show progress until the replay is over or a stop was requested; True when interrupted."""
        assert self.stack is not None
        view = DemoView(self.stack.sim, self.log, duration, self.options.speed)
        live = self.console.is_terminal if self.options.live is None else self.options.live
        # The run lasts `duration` from the controller's start; the view's clock is the replay's.
        deadline = time.monotonic() + duration
        if live:
            def frame() -> Any:
                size = self.console.size
                return view.render(size.width, size.height - 1)

            with Live(frame(), console=self.console, refresh_per_second=2, transient=False) as display:
                while not self._stop.wait(0.5):
                    display.update(frame())
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
        from tenantops_lab.demo.outputs import export_audit, send_report

        out = self.options.output
        files: dict[str, str] = {}
        sent = False
        mails = 0
        report: ReportFigures | None = None
        samples: list[LatencySample] = []
        figures: list[WorkloadFigures] = []
        _, actions, _, _, _ = self.log.snapshot()
        now = self.trace_times[-1] if self.trace_times else datetime.now(UTC)
        if self.stack is not None and settings is not None:
            sim = self.stack.sim
            sim.stop()  # freeze the history before plotting it
            samples = list(sim.latency.samples)
            figures = workload_figures(config, self.specs, sim, actions, self.live_started, self.options.speed)
            if self.history_end is not None:
                self._progress("replaying each workload's last week in the benchmark's environment")
                figures = with_yardsticks(figures, yardsticks(
                    config, self.specs, self.live_started * self.options.speed,
                    max((w.minutes for w in figures), default=0.0), self.history_end))
            self._progress("sending the cost report")
            try:
                sent_files, data = send_report(config, settings, out / "report", self.stack.smtp, now,
                                               period_days=self.options.report_days,
                                               rightsizing=self.last_findings.rightsizing)
                files.update(sent_files)
                report = report_figures(data)
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
                from tenantops_lab.demo.plots import plot_latency, plot_replicas

                files["plot_replicas"] = str(plot_replicas(sim, actions, out / "plots" / "replicas.png",
                                                           speed=self.options.speed, live_from=self.live_started))
                files["plot_latency"] = str(plot_latency(samples, out / "plots" / "latency.png", factor=self.factor))
            except Exception as exc:
                problems.append(f"plots: {type(exc).__name__}: {exc}")
        servers: dict[str, Any] = {}
        if self.stack is not None:
            servers = {"prometheus_pid": self.stack.prometheus.pid, "prometheus_port": self.stack.prometheus.port,
                       "moto_port": self.stack.moto.port, "smtp_port": self.stack.smtp.port,
                       "simulator_port": self.stack.sim.port,
                       "kube_port": self.stack.kube.port}
        applied = [a for a in actions if a.status == OutcomeStatus.APPLIED.value]
        factor = self.factor
        result = DemoResult(
            output=out, seconds=round(time.monotonic() - started, 1), passes=self.log.passes,
            failed_passes=self.log.failed_passes, actions=len(applied),
            scaled_up=sorted({f"{a.tenant}/{a.workload}" for a in applied if a.direction == "up"}),
            scaled_down=sorted({f"{a.tenant}/{a.workload}" for a in applied if a.direction == "down"}),
            latency_up=summarise(samples, "up", factor), latency_down=summarise(samples, "down", factor),
            latency_all=summarise(samples, None, factor), report_sent=sent, mails_received=mails, files=files,
            problems=problems, interrupted=interrupted, servers=servers,
            slowest=[{**asdict(s), "trace_seconds": round(s.seconds * factor, 1)}
                     for s in sorted(samples, key=lambda s: -s.seconds)[:5]],
            trace_seconds_per_wall_second=factor,
            trace_start=self.trace_times[0].isoformat() if self.trace_times else None,
            trace_end=self.trace_times[-1].isoformat() if self.trace_times else None,
            workloads=figures, history=self.history_figures, report=report, kubeconfig=self.kubeconfig,
            schedule=pass_figures(self.interval_seconds * factor, factor, list(self.log.pass_seconds),
                                  self.trace_times, actions),
        )
        summary = out / "summary.json"
        summary.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True))
        result.files["summary"] = str(summary)
        return result

    def _write_kubeconfig(self) -> str | None:
        """A kubeconfig for the Kubernetes API stand-in, so `kubectl` works against the demo's cluster."""
        assert self.stack is not None
        path = self.stack.kube.write_kubeconfig((self.options.output / "kubeconfig").resolve())
        self._progress(f"kubectl: export KUBECONFIG={path}")
        return str(path)

    def _progress(self, message: str) -> None:
        self.console.print(f"[dim]demo:[/dim] {message}", highlight=False)


class OnceFilter(logging.Filter):
    """Lets each distinct log message through once."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def workload_figures(config: Config, specs: list[WorkloadSpec], sim: WorkloadSimulator, actions: list[ActionEvent],
                     live_from: float, speed: float) -> list[WorkloadFigures]:
    """Per workload over the live part: trace minutes under-provisioned against the tier's miss goal.

    A minute is under-provisioned when demand is above what the ready replicas serve at their CPU
    requests (the benchmark's `D_t > R_t C`, docs/benchmarks.md §1); its share of the minutes is the
    violation rate the tier's `predictive.target_miss` bounds.
    """
    out = []
    by_key = {s.key: s for s in specs}
    for key, points in sim.history.items():
        spec = by_key[key]
        live = [p for p in points if p.at >= live_from]
        minutes = under = 0.0
        runs: list[list[float]] = []
        short = False
        for before, after in itertools.pairwise(live):
            step = (after.at - before.at) * speed
            if before.demand_cores > before.ready * spec.cpu_request + 1e-9:
                under += step
                if not short:
                    runs.append([round(minutes, 1), 0.0])
                runs[-1][1] = round(runs[-1][1] + step, 1)
                short = True
            else:
                short = False
            minutes += step
        goal = float(config.for_tenant(spec.tenant).scaling.predictive.target_miss)
        rate = under / minutes if minutes > 0 else 0.0
        mine = [a for a in actions if (a.tenant, a.workload) == key and a.status == OutcomeStatus.APPLIED.value]
        desired = [p.desired for p in live] or [spec.initial_replicas]
        out.append(WorkloadFigures(
            spec.tenant, spec.workload, spec.trace, round(minutes, 1), round(under, 1), round(rate, 4), goal,
            rate <= goal, sum(1 for a in mine if a.direction == "up"), sum(1 for a in mine if a.direction == "down"),
            min(desired), max(desired), round(len(spec.history) / 1440, 1), spec.history_looped, runs))
    return out


def with_yardsticks(figures: list[WorkloadFigures], found: Mapping[Key, Yardstick]) -> list[WorkloadFigures]:
    """The live figures with the benchmark environment's beside them (`demo.yardstick`)."""
    out = []
    for w in figures:
        y = found.get((w.tenant, w.workload))
        if y is None:
            out.append(w)
            continue
        out.append(dataclasses.replace(w, replayed_days=y.replayed_days, replayed_rate=y.replayed_rate,
                           replayed_within_goal=None if y.replayed_rate is None else y.replayed_rate <= w.goal,
                           hpa_minutes=y.hpa_minutes))
    return out


def report_figures(data: Any) -> ReportFigures:
    """Counted from the report's own data: what a reader of the mail sees."""
    from tenantops.notify.report.model import BudgetStatus

    now = {r.tenant for r in data.tenant_rows
           if r.budget is not None and r.budget.status in (BudgetStatus.AT_RISK, BudgetStatus.OVER)}
    warnings = sorted(now | {a.tenant for a in data.alerts if a.kind == "budget" and a.tenant})
    anomalies = [f"{a.tenant}: {a.summary}" for a in data.alerts if "anomaly" in a.cause]
    return ReportFigures(
        period_start=data.period_start.isoformat(), period_end=data.period_end.isoformat(),
        days_with_cost=sum(1 for d in data.daily if d.usd), total_usd=round(data.total_usd, 2),
        budget_warnings=warnings, anomalies=anomalies,
        savings_usd_month=round(data.total_savings_usd_month, 2), savings=len(data.savings),
        top_movers=[r.tenant for r in data.top_movers])


def at_wall_time(fetch: Callable[[Config, datetime], Any], clock: TraceClock) -> Callable[[Config, datetime], Any]:
    """A usage-history fetch asked for a trace time, sent for the wall instant Prometheus stored it at."""

    def fetch_at_wall(config: Config, now: datetime) -> Any:
        return fetch(config, clock.to_wall(now))

    return fetch_at_wall
