"""A scale write that was not made leaves no scale event: the autoscaler's rate-limit periods count only the
writes the cluster took. Real Prometheus, the Kubernetes API stand-in refusing the PATCH (or the fence
stopping the call, or the global replica ceiling holding it), the real autoscaling decider and state database.

With the shipped `balanced` policy (scale-up limited per 60 s period) a refused 2 -> 20 that was recorded
as made would hold the next pass at 2 ("limited to 2 by the scale rate policy") for a minute.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tenantops.act.base import OutcomeStatus
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.config import Config, load_config
from tenantops.decide.autoscaling.decider import AutoscalingDecider, state_key
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.engine import intents
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.observe.prometheus import PrometheusSource
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind

from .conftest import replicas_gauge, requests_counter, utc

pytestmark = pytest.mark.integration

SCALE = "/apis/apps/v1/namespaces/tenant-alpha/deployments/api/scale"


def _stored(store: StateStore) -> WorkloadState:
    return WorkloadState.from_json(store.state(AutoscalingDecider.name)[state_key("alpha", "api")])


def _ceiling(config_files: tuple[Path, Path], replicas: int) -> Config:
    catalog, policies = config_files
    reports = policies / "reports.yaml"
    reports.write_text(reports.read_text().replace("global_replica_ceiling: 20000",
                                                   f"global_replica_ceiling: {replicas}"))
    return load_config(catalog, policies)


@pytest.mark.parametrize("refusal", ["500", "409", "fenced", "ceiling"])
def test_a_write_not_made_is_no_scale_event_and_the_next_pass_scales_up_at_once(
        refusal: str, prometheus: Any, config: Config, config_files: tuple[Path, Path], kube_api: Any,
        tmp_path: Path) -> None:
    now = float(int(time.time()) - 60)
    prom = prometheus(series=[requests_counter("alpha", "api", 1000, now - 1200, now + 600),
                              replicas_gauge("alpha", "api", 2, now - 1200, now + 600)])
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    store = StateStore(tmp_path / "state.db")
    reconciler = Reconciler(PrometheusSource(prom.url), store, [AutoscalingDecider()],
                            register_actuators({TargetKind.KUBERNETES: KubernetesActuator.connect(kube_api.url)}))
    first_config = config
    if refusal == "fenced":
        reconciler.fence = lambda deadline: "the lease ends before the call could"
    elif refusal == "ceiling":
        first_config = _ceiling(config_files, 2)  # the guard stage holds the scale-up at the 2 running
    else:
        kube_api.inject(SCALE, int(refusal), method="PATCH", count=100)  # every attempt refused

    first = reconciler.run_pass(first_config, utc(now))
    (outcome,) = [o for o in first.outcomes if o.action.workload == "api" and o.action.tenant == "alpha"]
    assert kube_api.replicas("tenant-alpha", "api") == 2
    rows = [e for e in audit.query(store.connection, tenant="alpha") if e.workload == "api"]
    if refusal == "ceiling":
        assert outcome.status is OutcomeStatus.UNCHANGED and outcome.action.desired == 2
        assert [(e.rule, e.inputs["wanted"]) for e in rows if e.kind == "breaker"] == [("breaker:global-ceiling", 20)]
    else:
        assert outcome.action.current == 2 and outcome.action.desired == 20
        assert outcome.status in (OutcomeStatus.RETRYABLE, OutcomeStatus.FAILED)
        (row,) = [e for e in rows if e.kind == "act"]
        assert row.rule == outcome.status.value and outcome.detail in row.reason  # audited with its reason
    state = _stored(store)
    assert state.events == [] and state.proposed == []  # not made: no scale event, nothing left pending
    assert not store.state(intents.STATE)

    kube_api.clear_faults()
    reconciler.fence = None
    second = reconciler.run_pass(config, utc(now + 30))  # inside the 60 s period of the refused write
    (again,) = [o for o in second.outcomes if o.action.workload == "api" and o.action.tenant == "alpha"]
    assert again.status is OutcomeStatus.APPLIED and again.action.desired == 20, again
    assert kube_api.replicas("tenant-alpha", "api") == 20
    assert _stored(store).events == [[now + 30, 18.0]]  # the write made is the period's one event
    store.close()
