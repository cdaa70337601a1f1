"""Building configs and snapshots for cost tests from the real loader and the project's policy files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from tenantops.config import Config, load_config
from tenantops.structs.snapshot import Reading, Snapshot, WorkloadMetrics

REPO = Path(__file__).resolve().parents[2]


def make_config(tmp_path: Path, tenants: list[dict[str, Any]], cost_overrides: str | None = None) -> Config:
    """A config from the repo's policies (optionally with cost.yaml replaced) and the given tenants."""
    policies = tmp_path / "policies"
    policies.mkdir(exist_ok=True)
    for src in (REPO / "policies").glob("*.yaml"):
        text = src.read_text(encoding="utf-8")
        if src.name == "cost.yaml" and cost_overrides is not None:
            text = cost_overrides
        (policies / src.name).write_text(text, encoding="utf-8")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"environment": "test", "tenants": tenants}), encoding="utf-8")
    return load_config(catalog, policies)


def tenant(tid: str, *, tier: str = "pro", isolation: str = "pool", region: str = "us-east-1",
           budget: float = 1000, workloads: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": tid, "tier": tier, "isolation": isolation, "region": region, "budget_usd_month": budget,
        "contacts": [f"ops@{tid}.example"],
        "workloads": workloads or [{"name": "api", "min_replicas": 1, "max_replicas": 10}],
    }


def snapshot(at: datetime, values: Mapping[tuple[str, str], Mapping[str, float]]) -> Snapshot:
    return Snapshot(at, {
        key: WorkloadMetrics(key[0], key[1], {m: Reading(v, sampled_at=at) for m, v in metrics.items()})
        for key, metrics in values.items()
    })


def apply_state(state: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """What the engine does with a decider's changed keys, through JSON as the store would."""
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = json.loads(json.dumps(value))
