"""Building a `Reconciler` from `Settings`: the one place where endpoints become clients.

Actuator clients are optional at build time: a dry run needs none, and a controller that cannot reach
one kind of target still scales the other (the unreachable kind's actions become failed outcomes,
logged and audited, instead of the process refusing to start). Each effect type's actuator around them
is not optional: `engine.root.register_actuators` registers one per type.

A pass (unless dry-run) commits its alert notifications with its plan (`plan_mail`: alert mail, webhook
notices, Alertmanager resolves), and records the scheduled cost report's request in the outbox when its
ReportPolicy cron comes due (a `ReportRequest` effect, `engine.report_effects`). After it, its firing
alerts go to Alertmanager, and the delivery run renders the requested reports (tenants' budget mails, then
the ops report) and delivers the outbox (reports, budget mails, alert mails, webhook notices, resolves).
Each is a separate hook, so one failing never stops the others.
The pass inputs (usage history, committed spend) are chosen by `engine.root`.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenantops.act.base import Actuator
from tenantops.config.loader import Config
from tenantops.config.settings import Settings
from tenantops.decide.base import Decider
from tenantops.engine.deciders import build_deciders
from tenantops.engine.effects import Actuators
from tenantops.engine.inputs import InputProvider
from tenantops.engine.patch_effects import RequestActuator
from tenantops.engine.reconcile import PassResult, PlanMail, Reconciler
from tenantops.notify.alerting import AFTER_PASS, FAILED_ROUTE, ROUTES, AlertRouter, after_pass, senders_from_settings
from tenantops.notify.outbox import DELIVERY_FAILED_CAUSES, Job, Outbox
from tenantops.notify.worker import Courier
from tenantops.observe.prometheus import Clock, PrometheusSource, utc_now
from tenantops.observe.replicas import LiveReplicas
from tenantops.record import audit
from tenantops.record.database import StateStoreError, database_url
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import QueuedMessage, StateStore
from tenantops.structs.plan import Alert, TargetKind

log = logging.getLogger(__name__)


def build_actuators(settings: Settings, *, dry_run: bool) -> tuple[dict[TargetKind, Actuator], LiveReplicas | None]:
    """Kubernetes (explicit URL, or in-cluster/kubeconfig when acting) and AWS Auto Scaling actuators
    (a client per region), and the live replica counts read through the same connections."""
    actuators: dict[TargetKind, Actuator] = {}
    readers: dict[TargetKind, Any] = {}
    if settings.kube_url or settings.kube_context or not dry_run:
        try:
            from tenantops.act.kubeclient import KubeAccess
            from tenantops.act.kubernetes import KubernetesActuator
            from tenantops.observe.kube_replicas import KubeReplicaReader

            kube = KubernetesActuator.connect(KubeAccess.from_settings(settings))
            actuators[TargetKind.KUBERNETES] = kube
            readers[TargetKind.KUBERNETES] = KubeReplicaReader(kube.apps)
        except Exception as exc:
            log.warning("Kubernetes actuator unavailable (%s); pooled workloads will not be scaled", exc)
    if settings.aws_endpoint_url or not dry_run:
        asg = _asg_actuator(settings)
        if asg is not None:
            actuators[TargetKind.ASG] = asg
            readers[TargetKind.ASG] = asg
    return actuators, (LiveReplicas.of(readers) if readers else None)


def build_request_actuator(settings: Settings, *, dry_run: bool) -> RequestActuator | None:
    """The actuator of request patches (right-sizing's apply mode), on the same API as scaling."""
    if not (settings.kube_url or settings.kube_context or not dry_run):
        return None
    try:
        from tenantops.act.kubeclient import KubeAccess
        from tenantops.act.requests import RequestsActuator

        return RequestsActuator.connect(KubeAccess.from_settings(settings))
    except Exception as exc:
        log.warning("requests actuator unavailable (%s); request patches will fail and be retried", exc)
        return None


def _asg_actuator(settings: Settings) -> Any:
    try:
        module = importlib.import_module("tenantops.act.asg")
    except ModuleNotFoundError:
        log.info("no AWS Auto Scaling actuator installed; silo workloads will not be scaled")
        return None
    try:
        endpoint = str(settings.aws_endpoint_url) if settings.aws_endpoint_url else None
        return module.RegionalAsgActuator.connect(endpoint_url=endpoint, region=settings.aws_region)
    except Exception as exc:
        log.warning("AWS Auto Scaling actuator unavailable (%s); silo workloads will not be scaled", exc)
        return None


def build_reconciler(
    settings: Settings,
    actuators: Callable[[StateStore], tuple[Actuators, LiveReplicas | None]],
    *,
    dry_run: bool,
    metrics: ControllerMetrics | None = None,
    deciders: Sequence[Decider] | None = None,
    decider_names: Sequence[str] | None = None,
    inputs: Sequence[InputProvider] = (),
    init: bool = False,
    clock: Clock = utc_now,
) -> Reconciler:
    """The reconciler alone; `engine.root.build_controller` is what the commands use, and what registers
    the `actuators` (with the live replica reader on the same connections; given the store, whose outbox
    report requests are recorded in). The store is opened first: a
    controller that cannot record (database unreachable, state emptied without `init`) raises
    `StateStoreError` before anything that acts is built. `clock` is the controller's clock, the one its
    runner runs on: the metrics source measures Prometheus' clock against it."""
    store = StateStore(database_url(settings), init=init)
    registered, reader = actuators(store)
    return Reconciler(
        PrometheusSource.from_settings(settings, clock=clock),
        store,
        list(deciders) if deciders is not None else build_deciders(decider_names),
        registered,
        replica_reader=reader,
        metrics=metrics,
        inputs=inputs,
        mail=None if dry_run else plan_mail(settings),
    )


def plan_mail(settings: Settings) -> PlanMail:
    """The alert mail each pass commits with its plan, from the mail settings (sender, ops address)."""
    from tenantops.notify import alerting

    def compose(config: Config, alerts: Sequence[Alert], now: datetime) -> list[QueuedMessage]:
        return alerting.plan_mail(config, settings, alerts, now)

    return compose


def route_alerts_from_settings(config: Config, settings: Settings, alerts: Sequence[Alert], now: datetime,
                               routes: Collection[str] = ROUTES) -> None:
    """Route alerts as a pass's own, to those of their routes among `routes`. A failed notification is not
    sent again by the route it failed on (`FAILED_ROUTE`: alert mail, a webhook notice, a resolve): if that
    route is what broke, telling it would queue one more failing row each time; it goes to the others."""
    from tenantops.notify.alerting import router_from_settings

    router = router_from_settings(config, settings)
    by_failed: dict[str | None, list[Alert]] = {}
    for alert in alerts:
        failed = FAILED_ROUTE.get(str(alert.details.get("kind"))) if alert.cause in DELIVERY_FAILED_CAUSES else None
        by_failed.setdefault(failed, []).append(alert)
    for failed, batch in by_failed.items():
        router.route(batch, now, [r for r in routes if r != failed])


def _failures_for_alertmanager(outbox: Outbox, router: AlertRouter) -> dict[str, Alert] | None:
    """The delivery-failure alerts of the rows failed now that go to Alertmanager (not those of its own
    resolves, `FAILED_ROUTE`), by key; None when the outbox cannot be read (what was posted stays posted)."""
    try:
        failures = outbox.failure_alerts()
    except (sa.exc.DBAPIError, StateStoreError) as exc:
        log.warning("delivery failures not re-posted to Alertmanager this pass: %s", exc)
        return None
    return {a.key: a for a in failures if FAILED_ROUTE.get(str(a.details.get("kind"))) != "alertmanager"
            and "alertmanager" in router.routes_for(a)}


def post_pass_hooks(
    settings: Settings,
    current_config: Callable[[], Config],
    metrics: ControllerMetrics,
    *,
    dry_run: bool,
    store: StateStore | None = None,
    courier: Courier | None = None,
) -> list[Callable[[PassResult], None]]:
    """What happens after each pass besides the record: cost gauges on /metrics, and (unless dry-run) the
    pass's firing alerts posted to Alertmanager (their mail, webhook notices and resolves are in the outbox
    already, committed with the pass by the reconciler's `plan_mail`), and the delivery run: the report
    requests passes recorded in the outbox rendered into mail (`notify.render_requests`), the queued
    notifications posted (`notify.alerting.notice_jobs`), the outbox delivered (its figures on /metrics via
    `OutboxCollector`), and a batch of its rows settled longer than the ControllerPolicy's
    `outbox_retention_days` pruned (`Outbox.prune`), and of the audit's older than `audit_retention_days`
    (`audit.prune`). The runner isolates each hook, so a mail server that is
    down delays mail (the outbox retries) and never fails a pass. `store` is the reconciler's state store: a
    report is rendered from a copy of the cost ledger taken from it after the pass rather than by reopening
    the database. With a `courier`, routing and delivery (rendering included) run on its threads
    (`notify.worker`), so no template, chart, mail server, webhook or Alertmanager can hold the pass, a lane
    per channel (mail, webhook, Alertmanager), so none of them can hold another; without one they run in the
    hook, one channel after another."""
    from tenantops.record.cost_metrics import CostMetrics

    cost = CostMetrics(metrics.registry)

    def export_cost(result: PassResult) -> None:
        if result.findings.cost is not None:
            cost.update(result.findings.cost)

    hooks: list[Callable[[PassResult], None]] = [export_cost]
    if not dry_run:
        from tenantops.notify import outbox, worker
        from tenantops.notify.outbox import OutboxCollector

        # One outbox for every delivery run after a pass, on each lane (its engine connects per use, so the
        # lanes share it safely): opening one checks and migrates the schema, three runs a pass did it three
        # times, and telling a run's failures opened a fourth.
        delivery = Outbox(database_url(settings))
        metrics.registry.register(OutboxCollector(store.db if store is not None else delivery.db))
        # The delivery counters kept in memory by the outbox and the notification worker, on the registry
        # /metrics serves (sent and failed come from the database through OutboxCollector, which survives
        # restarts, so their in-memory twins stay off it).
        for collector in (outbox.RETRIES, outbox.IN_DOUBT, outbox.PENDING, worker.DROPPED):
            metrics.registry.register(collector)

        def notify_alerts(result: PassResult) -> None:
            firing = after_pass(result.alerts)  # the rest was committed with the pass (`plan_mail`)
            if firing:
                route_alerts_from_settings(current_config(), settings, firing, result.at, AFTER_PASS)

        # The delivery failures posted to Alertmanager as firing, by alert key. A failure is a condition that
        # holds while its row is `failed` (until someone sets it back to pending, or removes it), so it is
        # posted with every pass's active set as the pass's own alerts are, and resolved once its row is no
        # longer failed. Touched on the Alertmanager lane only (its one thread, or the pass's without a
        # courier); a restarted controller reads the failed rows again, and a failure resolved while it was
        # stopped ends in Alertmanager at its last post's `endsAt`.
        held: dict[str, Alert] = {}

        def resend_active(result: PassResult) -> None:
            notified = {a.key for a in result.alerts}
            repeat = [a for a in result.active_alerts if a.key not in notified]
            config = current_config()
            router = AlertRouter(config, alertmanager=senders_from_settings(config, settings)[1])
            ended: list[Alert] = []
            if router.alertmanager is not None:
                failures = _failures_for_alertmanager(delivery, router)
                if failures is not None:
                    ended = [replace(a, details={**a.details, "resolved": True}) for k, a in held.items()
                             if k not in failures]
                    held.clear()
                    held.update(failures)
                    repeat += [a for a in failures.values() if a.key not in notified]
            if repeat or ended:  # Alertmanager expects the active set again every pass, as Prometheus sends it
                outcomes = router.route([a for a in repeat + ended if "alertmanager" in router.routes_for(a)],
                                        result.at, routes=("alertmanager",))
                unsaid = {o.alert_key for o in outcomes if not o.ok}
                held.update({a.key: a for a in ended if a.key in unsaid})  # resolved at the next pass

        def route_alerts(result: PassResult) -> None:
            if courier is None:
                notify_alerts(result)
                resend_active(result)
                return
            # Alertmanager's own lane: a hanging Alertmanager holds neither mail nor the webhook.
            if result.alerts:
                courier.submit(f"alerts:{result.at.isoformat()}", lambda: notify_alerts(result), lane="alertmanager")
            courier.submit("alertmanager:active", lambda: resend_active(result), lane="alertmanager")

        failures = itertools.count()

        def tell_failures(alerts: Sequence[Alert], at: datetime) -> None:
            """A run's delivery-failure alerts: mail and webhook notices are outbox rows, queued here (a
            database write); Alertmanager's is a post, made on its lane, never on another channel's."""
            route_alerts_from_settings(current_config(), settings, alerts, at, ("email", "webhook"))
            if courier is None:
                route_alerts_from_settings(current_config(), settings, alerts, at, AFTER_PASS)
            else:
                courier.submit(f"delivery-failed:{next(failures)}", lambda: route_alerts_from_settings(
                    current_config(), settings, alerts, at, AFTER_PASS), lane="alertmanager")

        def deliver_now(channel: str, at: datetime, jobs: dict[str, Job]) -> None:
            from tenantops.notify import deliver_pending

            report = deliver_pending(settings, at, jobs=jobs, channel=channel, outbox=delivery)
            if report.alerts:
                tell_failures(report.alerts, at)
                # Told (their mail and webhook notices are rows now): no later run tells them again. A
                # run stopped before this line leaves them untold, and the next run tells them.
                delivery.mark_told(report.alerts)

        def deliver_mail(result: PassResult) -> None:
            from tenantops.notify import render_requests
            from tenantops.notify.alerting import notice_jobs
            from tenantops.notify.outbox import CHANNEL_KINDS, MAIL
            from tenantops.record.ledger import committed_ledger

            # The reports this run renders read a copy of the committed cost state, taken here: the run may
            # be on the courier's thread while the next pass commits.
            ledger = committed_ledger(store.state) if store is not None else None
            runs = {MAIL: render_requests(current_config(), settings, ledger=ledger,
                                          rightsizing=result.findings.rightsizing)}
            # One run per channel, each on its own lane: a mail server holding a message for its deadline
            # delays the next mail, not the webhook post or the Alertmanager resolve. A channel that is not
            # configured has no handler and no run; its rows wait in the outbox.
            notices = notice_jobs(current_config(), settings, delivery)
            for channel, kinds in CHANNEL_KINDS.items():
                handlers = {kind: notices[kind] for kind in kinds if kind in notices}
                if handlers:
                    runs[channel] = handlers
            for channel, jobs in runs.items():
                if courier is None:
                    deliver_now(channel, result.at, jobs)
                else:
                    deliver_later(courier, channel, result.at, jobs)
            if courier is None:
                prune(result.at)
            else:  # on the mail lane, after its run: a bounded read and delete, never on the pass's thread
                courier.submit("outbox:prune", lambda: prune(result.at), lane=MAIL)

        def prune(at: datetime) -> None:
            """The outbox's settled rows and the audit's rows past the ControllerPolicy's retentions, a
            bounded batch of each a pass."""
            policy = current_config().policies.controller
            try:
                delivery.prune(at, timedelta(days=policy.outbox_retention_days))
            except (sa.exc.DBAPIError, StateStoreError) as exc:  # the next pass prunes what this one did not
                log.warning("pruning the outbox failed: %s", exc)
            try:
                with delivery.db.begin() as conn:
                    gone = audit.prune(conn, at, timedelta(days=policy.audit_retention_days))
                if gone:
                    log.info("pruned %d audit row(s) older than %d days", gone, policy.audit_retention_days)
            except (sa.exc.DBAPIError, StateStoreError) as exc:
                log.warning("pruning the audit failed: %s", exc)

        def deliver_later(courier: Courier, channel: str, at: datetime, jobs: dict[str, Job]) -> None:
            # The run starts when its lane gets to it, maybe minutes after the pass (a report being built, a
            # slow server ahead of it): its claims' leases count from then, not from the pass, or a replica
            # delivering meanwhile would take them for abandoned ones and send them again.
            submitted = time.monotonic()
            courier.submit(f"outbox:deliver:{channel}", lambda: deliver_now(
                channel, at + timedelta(seconds=int(time.monotonic() - submitted)), jobs), lane=channel)

        hooks += [route_alerts, deliver_mail]
    return hooks
