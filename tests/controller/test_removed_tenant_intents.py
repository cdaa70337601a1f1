"""An intent of a tenant removed from the catalogue (its write decided and recorded, the controller stopped
before its outcome) is cleared with one audit row, never read back, written or settled: the tenant's
namespace may be gone, or someone else's by now. Intents of tenants still in the catalogue, of this shard
or another, are left to recovery; a dry run clears nothing; two replicas sharing the state clear and audit
an intent once. The real Reconciler and StateStore on both backends (`state_url`), the Kubernetes API
stand-in serving the restart's reads and writes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantops.act.base import ActOutcome
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.config import Config, load_config
from tenantops.engine import intents
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops.structs.plan import ScaleAction, TargetKind

from .conftest import CATALOG, MemoryActuator, StaticSource, TargetTracking

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
VALUES = {("alpha", "api"): (40.0, 2.0), ("beta", "api"): (50.0, 2.0), ("gamma", "api"): (30.0, 2.0)}


class Stopped(BaseException):
    """The controller stopped mid-call (as a SIGKILL leaves it: no outcome recorded)."""


class StopsAtFirstCall(MemoryActuator):
    def apply(self, action: ScaleAction, *, dry_run: bool = False) -> ActOutcome:
        raise Stopped


def _reconciler(store: StateStore, scale: Any) -> Reconciler:
    return Reconciler(StaticSource(VALUES), store, [TargetTracking()],
                      register_actuators({TargetKind.KUBERNETES: scale}))


def _without_beta(config_files: tuple[Path, Path]) -> Config:
    catalog, policies = config_files
    kept = [t for t in CATALOG["tenants"] if t["id"] != "beta"]
    catalog.write_text(yaml.safe_dump({**CATALOG, "tenants": kept}, sort_keys=False))
    return load_config(catalog, policies)


def _pending(store: StateStore) -> set[str]:
    return {str(v["tenant"]) for v in store.state(intents.STATE).values()}


def _dropped(store: StateStore) -> list[tuple[str | None, str | None]]:
    return [(e.tenant, e.workload) for e in audit.query(store.connection, kind="act")
            if e.rule == "dropped:tenant-removed"]


@pytest.fixture
def stopped_pass(config: Config, state_url: str) -> str:
    """A pass that recorded scale intents for alpha, beta and gamma and stopped at its first call."""
    with StateStore(state_url) as store, pytest.raises(Stopped):
        _reconciler(store, StopsAtFirstCall(TargetKind.KUBERNETES)).run_pass(config, T0)
    with StateStore(state_url) as store:
        assert _pending(store) == {"alpha", "beta", "gamma"}
    return state_url


def test_the_intent_of_a_removed_tenant_is_cleared_and_audited_never_read_back(
    stopped_pass: str, config_files: tuple[Path, Path], kube_api: Any
) -> None:
    for tenant in ("alpha", "beta", "gamma"):
        kube_api.add_deployment(f"tenant-{tenant}", "api", replicas=2)
    config = _without_beta(config_files)  # beta left the catalogue while the controller was down
    kube = KubernetesActuator.connect(kube_api.url)
    with StateStore(stopped_pass) as store:
        _reconciler(store, kube).run_pass(config, T0 + timedelta(seconds=30), dry_run=True)
        assert _pending(store) == {"alpha", "beta", "gamma"} and _dropped(store) == []  # a dry run clears nothing

        shard = [t for t in config.tenants if t.id == "alpha"]  # a shard's pass: gamma is another shard's
        _reconciler(store, kube).run_pass(config, T0 + timedelta(seconds=60), tenants=shard)
        assert _pending(store) == {"gamma"}
        assert _dropped(store) == [("beta", "api")]
        (row,) = [e for e in audit.query(store.connection, tenant="beta") if e.kind == "act"]
        assert "no longer in the catalogue" in row.reason and row.old == 2 and row.new is None
        assert row.inputs["intent"] == "scale:kubernetes:tenant-beta/api"
        assert row.inputs["recorded"]["to"] == 5
        assert "recovered-not-applied" in [e.rule for e in audit.query(store.connection, tenant="alpha")]
    assert kube_api.requests(path_prefix="/apis/apps/v1/namespaces/tenant-alpha")  # alpha's was read back
    assert kube_api.requests(path_prefix="/apis/apps/v1/namespaces/tenant-beta") == []
    assert kube_api.replicas("tenant-beta", "api") == 2


def test_two_replicas_sharing_the_state_clear_the_intent_once(
    stopped_pass: str, config_files: tuple[Path, Path], kube_api: Any
) -> None:
    config = _without_beta(config_files)
    nobody = [t for t in config.tenants if t.id == "nowhere"]  # passes of shards with no tenant: nothing recovered
    with StateStore(stopped_pass) as first, StateStore(stopped_pass) as second:
        assert "beta" in _pending(second)
        _reconciler(first, KubernetesActuator.connect(kube_api.url)).run_pass(config, T0, tenants=nobody)
        _reconciler(second, KubernetesActuator.connect(kube_api.url)).run_pass(config, T0, tenants=nobody)
        assert _pending(first) == _pending(second) == {"alpha", "gamma"}
        assert _dropped(first) == [("beta", "api")]
