"""Building a `Reconciler` from `Settings`: the one place where endpoints become clients.

Actuators are optional at build time: a dry run needs none, and a controller that cannot reach one
kind of target still scales the other (the unreachable kind's actions become failed outcomes, logged
and audited, instead of the process refusing to start).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from tenantops.act.base import Actuator
from tenantops.config.loader import Config
from tenantops.config.settings import Settings
from tenantops.decide.base import Decider
from tenantops.engine.deciders import build_deciders
from tenantops.engine.reconcile import PassResult, Reconciler
from tenantops.observe.prometheus import PrometheusSource
from tenantops.observe.replicas import ReplicaReader
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind

log = logging.getLogger(__name__)


def build_actuators(settings: Settings, *, dry_run: bool) -> tuple[dict[TargetKind, Actuator], ReplicaReader | None]:
    """Kubernetes (explicit URL, or in-cluster/kubeconfig when acting) and AWS Auto Scaling actuators."""
    actuators: dict[TargetKind, Actuator] = {}
    reader: ReplicaReader | None = None
    if settings.kube_url or not dry_run:
        try:
            from tenantops.act.kubernetes import KubernetesActuator

            actuators[TargetKind.KUBERNETES] = KubernetesActuator.connect(settings.kube_url)
        except Exception as exc:
            log.warning("Kubernetes actuator unavailable (%s); pooled workloads will not be scaled", exc)
    if settings.aws_endpoint_url or not dry_run:
        asg = _asg_actuator(settings)
        if asg is not None:
            actuators[TargetKind.ASG] = asg
            if callable(getattr(asg, "describe_many", None)):
                reader = asg
    return actuators, reader


def _asg_actuator(settings: Settings) -> Any:
    try:
        module = importlib.import_module("tenantops.act.asg")
    except ModuleNotFoundError:
        log.info("no AWS Auto Scaling actuator installed; silo workloads will not be scaled")
        return None
    try:
        return module.AsgActuator.connect(endpoint_url=settings.aws_endpoint_url, region=settings.aws_region)
    except Exception as exc:
        log.warning("AWS Auto Scaling actuator unavailable (%s); silo workloads will not be scaled", exc)
        return None


def build_reconciler(
    settings: Settings,
    *,
    dry_run: bool,
    metrics: ControllerMetrics | None = None,
    deciders: Sequence[Decider] | None = None,
    decider_names: Sequence[str] | None = None,
) -> Reconciler:
    actuators, reader = build_actuators(settings, dry_run=dry_run)
    return Reconciler(
        PrometheusSource(settings.prometheus_url),
        StateStore(settings.state),
        list(deciders) if deciders is not None else build_deciders(decider_names),
        actuators,
        replica_reader=reader,
        metrics=metrics,
    )


def post_pass_hooks(
    settings: Settings, current_config: Callable[[], Config], metrics: ControllerMetrics, *, dry_run: bool
) -> list[Callable[[PassResult], None]]:
    """What happens after each pass besides the record: cost gauges on /metrics, and (unless dry-run)
    the pass's alerts routed to the outbox, webhook and Alertmanager. The runner isolates each hook, so a
    mail server that is down delays alerts (the outbox retries) and never fails a pass."""
    from tenantops.record.cost_metrics import CostMetrics

    cost = CostMetrics(metrics.registry)

    def export_cost(result: PassResult) -> None:
        findings = result.findings.get("cost")
        if findings:
            cost.update(findings)

    hooks: list[Callable[[PassResult], None]] = [export_cost]
    if not dry_run:
        def route_alerts(result: PassResult) -> None:
            if result.alerts:
                from tenantops.notify.alerting import router_from_settings

                router_from_settings(current_config(), settings).route(list(result.alerts), result.at)

        hooks.append(route_alerts)
    return hooks
