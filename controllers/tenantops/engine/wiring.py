"""Building a `Reconciler` from `Settings`: the one place where endpoints become clients.

Actuators are optional at build time: a dry run needs none, and a controller that cannot reach one
kind of target still scales the other (the unreachable kind's actions become failed outcomes, logged
and audited, instead of the process refusing to start).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Any

from tenantops.act.base import Actuator
from tenantops.config.settings import Settings
from tenantops.decide.base import Decider
from tenantops.engine.deciders import build_deciders
from tenantops.engine.reconcile import Reconciler
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
