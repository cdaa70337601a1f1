"""A pass that cannot make all its scale writes makes the most urgent ones: scale-ups by their increase
relative to the replicas running (a wake from zero first), then scale-downs, whatever the catalogue order.

The integration test is a real pass (real Prometheus, the real autoscaling decider and state database, the
Kubernetes API stand-in) whose fence lets one call through, as a pass that outruns its interval after its
first write does: the write made is beta's 2 -> 20, not alpha's 10 -> 12 listed before it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tenantops.act.base import OutcomeStatus
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.config import Config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.write_order import by_urgency
from tenantops.observe.prometheus import PrometheusSource
from tenantops.record.store import StateStore
from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind

from .conftest import replicas_gauge, requests_counter, utc


def _action(tenant: str, current: int, desired: int) -> ScaleAction:
    return ScaleAction(tenant, "api", ScaleTarget(TargetKind.KUBERNETES, "api", f"tenant-{tenant}"), current, desired,
                       "r", "why")


def test_scale_ups_by_relative_increase_then_scale_downs_then_holds() -> None:
    actions = [_action("down", 10, 4), _action("hold", 3, 3), _action("small", 10, 12), _action("wake", 0, 1),
               _action("double", 1, 2), _action("big-double", 8, 16), _action("down2", 6, 5)]
    order = [a.tenant for a in by_urgency(actions)]
    assert order == ["wake", "big-double", "double", "small", "down", "down2", "hold"]


def test_ties_keep_the_plan_order() -> None:
    actions = [_action("a", 2, 4), _action("b", 2, 4), _action("c", 5, 1), _action("d", 5, 1)]
    assert [a.tenant for a in by_urgency(actions)] == ["a", "b", "c", "d"]


@pytest.mark.integration
def test_a_pass_fenced_after_one_write_makes_the_largest_relative_scale_up(
        prometheus: Any, config: Config, kube_api: Any, tmp_path: Path) -> None:
    now = float(int(time.time()) - 60)
    span = (now - 1200, now + 600)
    prom = prometheus(series=[requests_counter("alpha", "api", 600, *span), replicas_gauge("alpha", "api", 10, *span),
                              requests_counter("beta", "api", 1000, *span), replicas_gauge("beta", "api", 2, *span)])
    kube_api.add_deployment("tenant-alpha", "api", replicas=10)
    kube_api.add_deployment("tenant-beta", "api", replicas=2)
    store = StateStore(tmp_path / "state.db")
    reconciler = Reconciler(PrometheusSource(prom.url), store, [AutoscalingDecider()],
                            register_actuators({TargetKind.KUBERNETES: KubernetesActuator.connect(kube_api.url)}))
    calls: list[float] = []

    def one_call(deadline: float) -> str | None:
        calls.append(deadline)
        return None if len(calls) == 1 else "the pass has run 0.6s, past its 0.5s interval"

    reconciler.fence = one_call
    result = reconciler.run_pass(config, utc(now))
    by = {(o.action.tenant, o.action.workload): o for o in result.outcomes}
    alpha, beta = by[("alpha", "api")], by[("beta", "api")]
    assert alpha.action.desired > 10 and beta.action.desired > 2  # both asked for more
    assert beta.status is OutcomeStatus.APPLIED and kube_api.replicas("tenant-beta", "api") == beta.action.desired
    assert alpha.status is OutcomeStatus.RETRYABLE and kube_api.replicas("tenant-alpha", "api") == 10
    store.close()
