"""A cost ledger built the way the cost engine builds it (its own `TenantSeries` accumulation and model
refit), over a catalogue that includes a tenant whose display name is hostile HTML and a formula."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantops.config import Config, load_config
from tenantops.decide.alerts import AlertRecord
from tenantops.decide.cost.decider import refit
from tenantops.decide.cost.history import TenantSeries
from tenantops.decide.cost.ledger import ALERTS_KEY, Ledger
from tenantops.decide.cost.money import to_micro
from tenantops.structs.plan import Severity

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # a Monday, 08:00 UTC
EVIL_NAME = '<script>alert("x")</script> & =HYPERLINK("http://evil")'

# tenant -> USD per day for the 14 days before NOW (previous 7, then current 7)
DAILY: dict[str, list[float]] = {
    "acme": [100.0] * 7 + [130.0] * 7,
    "globex": [80.0] * 7 + [60.0] * 7,
    "initech": [40.0] * 14,
    "evil": [10.0] * 7 + [25.0] * 7,
    "__idle__": [5.0] * 14,
}
BUDGETS = {"acme": 3000.0, "globex": 5000.0, "initech": 2000.0, "evil": 500.0}


def make_state(daily: Mapping[str, list[float]], now: datetime = NOW) -> dict[str, Any]:
    """Feed each day's spend through the engine's own accumulator, closing days exactly as passes do."""
    state: dict[str, Any] = {}
    first = (now - timedelta(days=max(len(v) for v in daily.values()))).date()
    for tenant, values in daily.items():
        series = TenantSeries(tenant)
        start_day = first + timedelta(days=len(next(iter(daily.values()))) - len(values))
        for i, usd in enumerate(values):
            day = datetime.combine(start_day + timedelta(days=i), datetime.min.time(), UTC)
            series.add(day, day + timedelta(days=1), {"cpu": to_micro(usd)})
            refit(series)
        series.add(now, now, {"cpu": 0})  # the pass at `now` closes the last day
        refit(series)
        series.hours_changed = series.days_changed = True
        state.update(series.to_state())
    return state


def write_catalog(tmp_path: Path) -> Path:
    tenants = []
    for tid, budget in BUDGETS.items():
        tenants.append({
            "id": tid, "name": EVIL_NAME if tid == "evil" else tid.title() + " Corp", "tier": "pro",
            "isolation": "pool", "region": "us-east-1", "budget_usd_month": budget,
            "contacts": [f"billing@{tid}.example.com"],
            "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 4}],
        })
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"tenants": tenants}), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(write_catalog(tmp_path), REPO / "policies")


@pytest.fixture
def ledger_state() -> dict[str, Any]:
    state = make_state(DAILY)
    record = AlertRecord(
        key="cost:anomaly:day:acme", tenant="acme", severity=Severity.WARNING, cause="anomaly",
        summary="Acme Corp spent $130.00 on 2026-11-15, 30% above its usual", amount_usd=30.0, active=True,
        notified=True, first_fired=NOW - timedelta(days=2), last_fired=NOW - timedelta(days=2), last_seen=NOW,
    )
    state[ALERTS_KEY] = {record.key: record.to_json()}
    return state


@pytest.fixture
def ledger(ledger_state: dict[str, Any]) -> Ledger:
    return Ledger(ledger_state)


def day(offset: int) -> date:
    return NOW.date() + timedelta(days=offset)
