"""What the demo shows while it runs: one table of tenants and a feed of decisions with their reasons.

The view only reads: the simulator's state (ground truth of demand and pods) and what the controller
reported after each pass (`DemoLog`, fed by the runner's post-pass hook). On a terminal it is a rich
`Live` display; elsewhere (CI, a test, a pipe) each action is printed as one line instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from tenantops.structs.findings import Findings
from tenantops_lab.sandbox.workload_sim import WorkloadSimulator, percentile


@dataclass(frozen=True)
class ActionEvent:
    """One actuator call the controller made, with the reason it recorded."""

    elapsed: float  # seconds since the demo started
    tenant: str
    workload: str
    current: int
    desired: int
    status: str
    rule: str
    reason: str

    @property
    def direction(self) -> str:
        return "up" if self.desired > self.current else "down" if self.desired < self.current else "none"


@dataclass
class DemoLog:
    """Thread-safe record of the controller's passes as the demo sees them."""

    started: float = field(default_factory=time.monotonic)
    passes: int = 0
    failed_passes: int = 0
    actions: list[ActionEvent] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    cost_rate: dict[str, float] = field(default_factory=dict)  # tenant -> USD per hour, last pass
    cost_total: dict[str, float] = field(default_factory=dict)  # tenant -> USD over the demo
    pass_seconds: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_pass(self, outcomes: list[ActionEvent], findings: Findings, alerts: list[str],
                    seconds: float | None, ok: bool) -> None:
        with self._lock:
            self.passes += 1
            self.failed_passes += 0 if ok else 1
            self.actions.extend(outcomes)
            self.alerts.extend(alerts)
            if seconds is not None:
                self.pass_seconds.append(seconds)
            for tenant, finding in (findings.cost.tenants if findings.cost is not None else {}).items():
                self.cost_rate[tenant] = finding.usd_per_hour
                self.cost_total[tenant] = self.cost_total.get(tenant, 0.0) + finding.usd

    def snapshot(self) -> tuple[int, list[ActionEvent], dict[str, float], dict[str, float], list[str]]:
        with self._lock:
            return (self.passes, list(self.actions), dict(self.cost_rate), dict(self.cost_total),
                    list(self.alerts))


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _util_style(value: float | None, target: float) -> str:
    if value is None:
        return "dim"
    if value > target * 1.25:
        return "bold red"
    if value < target * 0.5:
        return "yellow"
    return "green"


class DemoView:
    """Builds the live display from the simulator and the log."""

    def __init__(self, sim: WorkloadSimulator, log: DemoLog, duration: float, speed: float) -> None:
        self.sim = sim
        self.log = log
        self.duration = duration
        self.speed = speed
        self._printed = 0

    WIDE = 120  # from this width on, the table shows every column and the last decision's reason

    def render(self, width: int = 200, height: int | None = None) -> RenderableType:
        """The display for a `width` x `height` terminal: every workload on one line, then as many of the
        newest decisions (one line each, cut with an ellipsis) as fit below; narrow terminals get the
        essential columns only. Times are trace time: a wall second is `speed` trace minutes."""
        passes, actions, rate, total, alerts = self.log.snapshot()
        elapsed = self.sim.elapsed()
        factor = 60.0 * self.speed
        samples = [s.seconds * factor / 60.0 for s in self.sim.latency.samples if s.direction == "up"]
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        latency = "-" if p50 is None or p99 is None else f"{p50:.1f}/{p99:.1f} min"
        wide = width >= self.WIDE
        minute = self.sim.trace_minutes()
        # Narrow, "latency" goes: the line then fits 80 columns with its unit, even for an hour-long replay.
        status = (f"trace min {minute:.0f}/{self.duration * self.speed:.0f}  passes {passes}  actions {len(actions)}"
                  f"  scale-up{' latency' if wide else ''} p50/p99 {latency}")
        header = Table.grid(padding=(0, 1))
        if wide:
            header.add_row(ProgressBar(total=self.duration, completed=min(elapsed, self.duration), width=30),
                           Text(status, no_wrap=True, overflow="ellipsis"))
        else:
            header.add_row(Text(status, no_wrap=True, overflow="ellipsis"))
        table = Table(expand=True, show_edge=False, pad_edge=False, box=None,
                      padding=(0, 1))
        columns = ((("tenant/workload", "left"), ("iso", "left"), ("trace", "left"), ("demand", "right"),
                    ("ready/set", "right"), ("needs", "right"), ("cpu", "right"), ("$/h", "right"),
                    ("$ so far", "right"), ("last decision", "left")) if wide else
                   (("tenant/workload", "left"), ("demand", "right"), ("ready/set", "right"), ("needs", "right"),
                    ("cpu", "right"), ("$/h", "right"), ("last", "left")))
        for column, justify in columns:
            table.add_column(column, justify=justify, no_wrap=True, overflow="ellipsis",  # type: ignore[arg-type]
                             ratio=1 if column.startswith("last") else None)
        last: dict[tuple[str, str], ActionEvent] = {(a.tenant, a.workload): a for a in actions}
        traces = {s.key: s.trace for s in self.sim.specs}
        targets = {s.key: s.target_utilization for s in self.sim.specs}
        shown_cost: set[str] = set()
        for st in self.sim.status():
            key = (st.tenant, st.workload)
            event = last.get(key)
            decision = Text("")
            if event is not None:
                arrow = "▲" if event.direction == "up" else "▼"
                reason = f" {event.reason}" if wide else ""
                decision = Text(f"{arrow}{event.current}→{event.desired}{reason}",
                                style="cyan" if event.direction == "up" else "magenta")
            first = st.tenant not in shown_cost
            shown_cost.add(st.tenant)
            util = Text(_fmt_pct(st.utilization), style=_util_style(st.utilization, targets.get(key, 0.7)))
            per_hour = f"{rate.get(st.tenant, 0.0):.2f}" if first else ""
            name = f"{st.tenant}/{st.workload}"
            if wide:
                table.add_row(name, st.isolation, traces.get(key, ""), f"{st.demand_cores:.2f}",
                              f"{st.ready}/{st.desired}", str(st.needed), util, per_hour,
                              f"{total.get(st.tenant, 0.0):.2f}" if first else "", decision)
            else:
                table.add_row(name, f"{st.demand_cores:.1f}", f"{st.ready}/{st.desired}", str(st.needed), util,
                              per_hour, decision)
        body: list[RenderableType] = [header, table]
        rows = len(self.sim.specs) + 2  # header line, table header, one line per workload
        room = (height - rows - 2) if height is not None else 8  # the panel's borders take two lines
        shown_alerts = alerts[-2:] if alerts and (height is None or room >= 6) else []
        if shown_alerts:
            room -= len(shown_alerts) + 2
        if room > 0 and actions:
            feed = Table.grid(padding=(0, 1), expand=True)
            feed.add_column(no_wrap=True)
            feed.add_column(no_wrap=True)
            feed.add_column(no_wrap=True)
            feed.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
            for event in actions[-room:]:
                feed.add_row(f"{event.elapsed * self.speed:4.0f}m", f"{event.tenant}/{event.workload}",
                             f"{event.current}→{event.desired}", Text(event.reason, no_wrap=True, overflow="ellipsis"))
            body.append(Panel(feed, title="decisions (newest last; m = trace minute)", expand=True))
        if shown_alerts:
            body.append(Panel(Text("\n".join(shown_alerts), no_wrap=True, overflow="ellipsis"), title="alerts",
                              expand=True))
        return Group(*body)

    def print_new_actions(self, console: Console) -> None:
        """Plain-line output for non-terminals: every action once, as it happens."""
        _, actions, _, _, _ = self.log.snapshot()
        for event in actions[self._printed:]:
            console.print(f"[{event.elapsed:6.1f}s] {event.tenant}/{event.workload} {event.current}->"
                          f"{event.desired} ({event.status}, {event.rule}): {event.reason}",
                          highlight=False, markup=False)
        self._printed = len(actions)
