"""Shared pieces for the controller tests: a small catalogue, policy copies, series builders, and a small
but real decider (target tracking with a scale-down stabilisation window) to drive passes with.
"""

from __future__ import annotations

import functools
import math
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantops.act.base import ActOutcome, OutcomeStatus
from tenantops.config import Config, load_config
from tenantops.config.catalog import Tenant
from tenantops.decide.base import DeciderOutput, PassInput
from tenantops.engine.targets import target_for
from tenantops.structs.plan import Decision, ScaleAction, ScaleTarget, TargetKind
from tenantops.structs.snapshot import Quality, Reading, Snapshot, WorkloadMetrics
from tenantops_lab.sandbox.prometheus import Series

REPO = Path(__file__).resolve().parents[2]

CATALOG = {
    "environment": "test",
    "tenants": [
        {"id": "alpha", "tier": "pro", "isolation": "pool", "region": "us-east-1", "budget_usd_month": 500,
         "contacts": ["ops@alpha.example"],
         "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 20},
                       {"name": "worker", "min_replicas": 1, "max_replicas": 10}]},
        {"id": "beta", "tier": "pro", "isolation": "pool", "region": "us-east-1", "budget_usd_month": 500,
         "contacts": ["ops@beta.example"],
         "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 20}]},
        {"id": "gamma", "tier": "free", "isolation": "pool", "region": "eu-west-1", "budget_usd_month": 50,
         "contacts": ["ops@gamma.example"],
         "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 5}]},
        {"id": "delta", "tier": "enterprise", "isolation": "silo", "region": "eu-west-1", "budget_usd_month": 5000,
         "contacts": ["ops@delta.example"],
         "workloads": [{"name": "api", "min_replicas": 2, "max_replicas": 30}]},
    ],
}


@pytest.fixture
def config_files(tmp_path: Path) -> tuple[Path, Path]:
    """A writable copy of the repository's policies and a four-tenant catalogue."""
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(CATALOG, sort_keys=False))
    return catalog, policies


@pytest.fixture
def every_route(config_files: tuple[Path, Path]) -> tuple[Path, Path]:
    """alpha's alerts go to email, the webhook and Alertmanager."""
    catalog, policies = config_files
    data = yaml.safe_load(catalog.read_text())
    data["tenants"][0]["overrides"] = {"alerts": {"routes": ["email", "webhook", "alertmanager"]}}
    catalog.write_text(yaml.safe_dump(data, sort_keys=False))
    return catalog, policies


@pytest.fixture
def config(config_files: tuple[Path, Path]) -> Config:
    return load_config(*config_files)


@functools.cache
def shared_config() -> Config:
    """The same configuration, loaded once per process, for property tests (which cannot take fixtures)."""
    directory = Path(tempfile.mkdtemp(prefix="tenantops-test-"))
    catalog = directory / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(CATALOG, sort_keys=False))
    config = load_config(catalog, REPO / "policies")
    shutil.rmtree(directory, ignore_errors=True)
    return config


def ramp(start: float, end: float, step: float, value: Callable[[float], float]) -> list[tuple[float, float]]:
    out, t = [], start
    while t <= end + 1e-9:
        out.append((t, value(t)))
        t += step
    return out


def requests_counter(tenant: str, workload: str, rate: float, start: float, end: float) -> Series:
    """An `http_requests_total` counter growing at `rate`/s: `rate(...[2m])` reads back `rate`."""
    return Series("http_requests_total", {"tenant": tenant, "workload": workload},
                  ramp(start, end, 15, lambda t: rate * (t - start)))


def replicas_gauge(tenant: str, workload: str, value: float, start: float, end: float,
                   name: str = "kube_deployment_spec_replicas") -> Series:
    return Series(name, {"namespace": f"tenant-{tenant}", "deployment": workload},
                  ramp(start, end, 15, lambda t: value))


class TargetTracking:
    """A small real decider: desired = ceil(requests / per_replica), held up by the largest
    recommendation of the last `window` seconds when scaling down (HPA-style stabilisation). Its window is
    decider state, so a restart that loses state would scale down early: which is what the tests catch.
    """

    name = "tracking"

    def __init__(self, per_replica: float = 10.0, window: float = 300.0) -> None:
        self.per_replica = per_replica
        self.window = window

    def decide(self, inp: PassInput, state: Mapping[str, Any]) -> DeciderOutput:
        now = inp.now.timestamp()
        actions, decisions, changes = [], [], {}
        env = inp.config.catalog.environment
        for tenant in inp.config.tenants:
            for w in tenant.workloads:
                key = f"{tenant.id}/{w.name}"
                current, load = inp.snapshot.reading(tenant.id, w.name, "replicas"), \
                    inp.snapshot.reading(tenant.id, w.name, "requests")
                if not (current.ok and load.ok):
                    bad = "replicas" if not current.ok else "requests"
                    quality = (current if not current.ok else load).quality.value
                    decisions.append(Decision(inp.now, tenant.id, w.name, "skip", "no-data",
                                              f"{bad} is {quality}: holding replicas"))
                    continue
                raw = max(w.min_replicas, min(w.max_replicas, math.ceil(load.value / self.per_replica)))
                history = [(t, d) for t, d in state.get(key, []) if t > now - self.window] + [(now, raw)]
                desired = max(d for _, d in history) if raw < current.value else raw
                changes[key] = history
                actions.append(ScaleAction(tenant.id, w.name, target_for(env, tenant, w.name), int(current.value),
                                           desired, "target-tracking", f"{load.value:.1f} req/s",
                                           {"requests": load.value, "raw": raw}))
                decisions.append(Decision(inp.now, tenant.id, w.name, "scale", "target-tracking",
                                          f"{load.value:.1f} req/s at {self.per_replica}/replica",
                                          int(current.value), desired, {"raw": raw}))
        return DeciderOutput(scale=tuple(actions), decisions=tuple(decisions), state=changes)


class MemoryActuator:
    """An in-memory target store implementing the Actuator protocol, with per-target failure injection."""

    def __init__(self, kind: TargetKind, replicas: Mapping[ScaleTarget, int] | None = None,
                 fail: Sequence[ScaleTarget] = (), raise_on: Sequence[ScaleTarget] = ()) -> None:
        self.kind = kind
        self.replicas = dict(replicas or {})
        self.fail, self.raise_on = set(fail), set(raise_on)
        self.calls: list[tuple[ScaleAction, bool]] = []

    def current(self, target: ScaleTarget) -> int | None:
        return self.replicas.get(target)

    def apply(self, action: ScaleAction, *, dry_run: bool = False) -> ActOutcome:
        self.calls.append((action, dry_run))
        if action.target in self.raise_on:
            raise RuntimeError("actuator bug")
        if action.target in self.fail:
            return ActOutcome(action, OutcomeStatus.FAILED, None, "forbidden")
        observed = self.replicas.get(action.target)
        if observed == action.desired:
            return ActOutcome(action, OutcomeStatus.UNCHANGED, observed)
        if dry_run:
            return ActOutcome(action, OutcomeStatus.DRY_RUN, observed)
        self.replicas[action.target] = action.desired
        return ActOutcome(action, OutcomeStatus.APPLIED, observed)


def utc(ts: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(ts, UTC)


class StaticSource:
    """A metrics source answering from fixed values (requests/s and replicas per workload)."""

    def __init__(self, values: Mapping[tuple[str, str], tuple[float, float]]) -> None:
        self.values = values
        self.calls: list[list[str]] = []

    def observe(self, config: Config, now: datetime, tenants: Sequence[Tenant] | None = None) -> Snapshot:
        chosen = list(config.tenants if tenants is None else tenants)
        self.calls.append([t.id for t in chosen])
        workloads = {}
        for t in chosen:
            for w in t.workloads:
                load, replicas = self.values.get((t.id, w.name), (None, None))
                readings = {} if load is None else {
                    "requests": Reading(load, Quality.OK, now), "replicas": Reading(replicas, Quality.OK, now)}
                workloads[(t.id, w.name)] = WorkloadMetrics(t.id, w.name, readings)
        return Snapshot(now, workloads)
