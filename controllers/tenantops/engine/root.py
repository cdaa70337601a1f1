"""The composition root: the one place the controller is assembled, for `tenantops run`,
`reconcile --once`, the demo and `rightsize`, so they cannot differ silently.

It builds the metrics source, the state store, the deciders (`engine.deciders`), the pass inputs
(usage history for right-sizing, the cost ledger's committed month-to-date for the budget cap, the network
egress of the interval the cost decider charges), the
actuators (one registered per effect type a Plan carries, `register_actuators`: scale writes, request
patches, report requests into the store's outbox), and the hooks after each pass (cost gauges; unless
dry-run, alert routing and the delivery run, which renders the requested reports and sends mail).
Callers differ only in how often they call the pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tenantops.act.base import Actuator
from tenantops.act.kube_events import EventRecorder, events_of
from tenantops.config.loader import Config
from tenantops.config.settings import Settings
from tenantops.decide.base import Decider, PassInput
from tenantops.decide.cost.decider import charge_window
from tenantops.decide.cost.ledger import Ledger
from tenantops.engine.deciders import build_deciders
from tenantops.engine.effects import Actuators
from tenantops.engine.inputs import HistoryRefresh, InputProvider, StateView, provider_name
from tenantops.engine.patch_effects import PatchEffects, RequestActuator
from tenantops.engine.reconcile import PassResult, Reconciler
from tenantops.engine.report_effects import ReportEffects, ReportQueue
from tenantops.engine.runner import Runner
from tenantops.engine.scale_effects import ScaleEffects
from tenantops.engine.wiring import build_actuators, build_reconciler, build_request_actuator, post_pass_hooks
from tenantops.notify.worker import Courier
from tenantops.observe.network import NetworkSource
from tenantops.observe.prometheus import Clock, utc_now
from tenantops.observe.replicas import LiveReplicas
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops.structs.plan import ScaleAction, TargetKind
from tenantops.structs.reports import ReportRequest
from tenantops.structs.requests import RequestPatch

log = logging.getLogger(__name__)


def committed_spend(inp: PassInput, state: StateView) -> PassInput:
    """Each tenant's month-to-date as the cost ledger committed it in earlier passes (this month only):
    what the autoscaler's budget cap compares with the budget. Another concern's committed state, never
    its output of the same pass."""
    month = f"{inp.now.year:04d}-{inp.now.month:02d}"
    spend = {t: m.total_usd for t, m in Ledger(state("cost")).month_to_date().items() if m.month == month}
    return replace(inp, spend_mtd_usd=spend)


class NetworkInput:
    """The network-egress input: each pooled tenant's egress over exactly the interval the cost decider
    will charge this pass (`charge_window` over the cost state committed so far), evaluated on
    Prometheus' clock as the snapshot was. A read that fails is *not measured* (`NetworkEgress.reason`)."""

    name = "network_egress"

    def __init__(self, source: NetworkSource) -> None:
        self.source = source

    def __call__(self, inp: PassInput, state: StateView) -> PassInput:
        _, seconds = charge_window(state("cost"), inp.now, inp.config)
        clock = inp.snapshot.clock
        end = clock.evaluated_at if clock is not None else inp.now
        return replace(inp, network=self.source.read(inp.config, end, seconds))


def register_actuators(
    scale: Mapping[TargetKind, Actuator] | None = None, requests: RequestActuator | None = None,
    reports: ReportQueue | None = None,
) -> Actuators:
    """The actuator of each effect type a Plan carries, around the clients there are (a kind without one
    fails its effects, or reports them as dry-run). A new effect type is registered here; `Actuators`
    refuses a registry that leaves one out."""
    return Actuators({
        ScaleAction: ScaleEffects(scale),
        RequestPatch: PatchEffects(requests),
        ReportRequest: ReportEffects(reports),
    })


def report_queue(store: StateStore) -> ReportQueue:
    """Report requests recorded in the outbox of the controller's own state database."""
    from tenantops.notify.outbox import Outbox
    from tenantops.notify.service import OutboxReports

    return OutboxReports(Outbox(store.db))


def pass_inputs(settings: Settings, deciders: Sequence[Decider]) -> list[InputProvider]:
    """The inputs the deciders read besides the snapshot."""
    inputs: list[InputProvider] = [committed_spend]
    if any(d.name == "cost" for d in deciders):
        inputs.append(NetworkInput(NetworkSource.from_settings(settings)))
    if any(d.name == "rightsizing" for d in deciders):
        from tenantops.observe.usage_history import UsageHistorySource

        source = UsageHistorySource.from_settings(settings)
        inputs.append(HistoryRefresh(source.fetch))
    return inputs


@dataclass
class Controller:
    """A built controller: the reconciler and what runs around each of its passes."""

    settings: Settings
    reconciler: Reconciler
    metrics: ControllerMetrics
    dry_run: bool
    courier: Courier = field(default_factory=Courier)  # notifications off the pass's thread
    clock: Clock = utc_now  # the controller's one clock: the runner's, and what Prometheus' is measured against
    events: EventRecorder | None = None  # Kubernetes Events of the writes made, off the pass's thread

    def runner(self, config: Config, *, on_pass: Sequence[Callable[[PassResult], None]] = (),
               **options: Any) -> Runner:
        """The loop around the reconciler, with the post-pass hooks; `tick()` once is `reconcile --once`."""
        settings = self.settings
        options.setdefault("clock", self.clock)
        runner = Runner(self.reconciler, config, catalog=settings.catalog, policies=settings.policies,
                        dry_run=self.dry_run, metrics=self.metrics, **options)
        runner.on_pass.extend(post_pass_hooks(settings, lambda: runner.config, self.metrics, dry_run=self.dry_run,
                                              store=self.reconciler.store, courier=self.courier))
        if self.events is not None:
            runner.on_pass.append(kube_events_hook(self.events))
        runner.on_pass.extend(on_pass)
        built = describe(runner)
        log.info("controller built: %s", built, extra={"event": "controller.built", "controller": built})
        return runner

    def close(self, notify_timeout: float = 20.0) -> None:
        """Let queued notifications finish (bounded: what is left stays in the outbox), then close the store."""
        self.courier.close(notify_timeout)
        if self.events is not None:
            self.events.close()
        self.reconciler.store.close()


def kube_events_hook(recorder: EventRecorder) -> Callable[[PassResult], None]:
    """The post-pass hook that hands the pass's writes to the Event recorder (which never blocks)."""

    def kube_events(result: PassResult) -> None:
        recorder.submit(events_of(result.outcomes, result.patch_outcomes))

    return kube_events


def build_event_recorder(settings: Settings, *, dry_run: bool) -> EventRecorder | None:
    """The Event recorder on the actuators' cluster; None in a dry run (nothing is written), with
    `kube_events` off, or when no cluster can be reached (the actuators say so already)."""
    if dry_run or not settings.kube_events:
        return None
    try:
        from tenantops.act.kubeclient import KubeAccess
        from tenantops.engine.lease import identity_and_namespace

        return EventRecorder.connect(KubeAccess.from_settings(settings), instance=identity_and_namespace()[0])
    except Exception as exc:
        # The Kubernetes actuator, built from the same settings, has warned that nothing will be scaled.
        log.info("Kubernetes Events unavailable (%s); writes are recorded in the audit log only", exc)
        return None


def describe(runner: Runner) -> dict[str, list[str]]:
    """What a built controller runs, by name: deciders, pass inputs, actuators and hooks."""
    rec = runner.reconciler
    return {
        "deciders": [d.name for d in rec.deciders],
        "inputs": [provider_name(p) for p in rec.inputs],
        "actuators": rec.actuators.available(),
        "before_pass": [getattr(h, "__name__", type(h).__name__) for h in runner.before_pass],
        "on_pass": [getattr(h, "__name__", type(h).__name__) for h in runner.on_pass],
    }


def build_controller(
    settings: Settings,
    *,
    dry_run: bool,
    metrics: ControllerMetrics | None = None,
    decider_names: Sequence[str] | None = None,
    deciders: Sequence[Decider] | None = None,
    init: bool = False,
    clock: Clock = utc_now,
) -> Controller:
    """Build the controller. Raises `DeciderUnavailable` for an unknown decider name, `StateStoreError`
    (naming the database) when the state store cannot be used; `init` allows an emptied SQLite file.
    `clock` is the controller's clock, given to its runner and its metrics source alike."""
    chosen = list(deciders) if deciders is not None else build_deciders(decider_names)
    metrics = metrics if metrics is not None else ControllerMetrics()
    def actuators(store: StateStore) -> tuple[Actuators, LiveReplicas | None]:  # after the store: `build_reconciler`
        clients, reader = build_actuators(settings, dry_run=dry_run)
        return register_actuators(clients, build_request_actuator(settings, dry_run=dry_run),
                                  report_queue(store)), reader

    reconciler = build_reconciler(settings, actuators, dry_run=dry_run, metrics=metrics, deciders=chosen,
                                  inputs=pass_inputs(settings, chosen), init=init, clock=clock)
    return Controller(settings, reconciler, metrics, dry_run, clock=clock,
                      events=build_event_recorder(settings, dry_run=dry_run))
