"""The ledger refuses implausible money: a charge beyond any real tenant's rate is not recorded (and
the pass says so), so no month-to-date, forecast, budget mail or report ever shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.cost.helpers import apply_state, make_config, snapshot, tenant

from tenantops.decide.base import PassInput
from tenantops.decide.cost import CostDecider, Ledger
from tenantops.decide.cost.ledger import MAX_USD_PER_HOUR, implausible_charge

START = datetime(2026, 10, 5, tzinfo=UTC)


def _pass(decider: CostDecider, config: Any, state: dict[str, Any], now: datetime, cpu: float) -> Any:
    snap = snapshot(now, {("big", "api"): {"cpu": cpu, "cpu_request": 1.0, "memory": 2**30,
                                            "memory_request": 2**30, "replicas": 2}})
    out = decider.decide(PassInput(snap, config, now), state)
    apply_state(state, out.state)
    return out


def test_an_implausible_charge_is_refused_and_audited(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tenant("big", budget=1000)])
    decider, state = CostDecider(), {}
    _pass(decider, config, state, START, 4.0)
    _pass(decider, config, state, START + timedelta(minutes=30), 4.0)
    before = Ledger(state).month_to_date()["big"].total_usd
    out = _pass(decider, config, state, START + timedelta(minutes=60), 1e15)  # cores: past any sane observe
    assert any(d.rule == "cost.refused" and d.tenant == "big" for d in out.decisions)
    after = Ledger(state).month_to_date()["big"].total_usd
    assert 0 < before <= after < before * 2  # only the honest share of the pool, nothing from 1e15 cores
    assert not [a for a in out.alerts if a.amount_usd is not None and a.amount_usd > 1e6]


def test_implausible_charge_rules() -> None:
    assert implausible_charge({"cpu": 5_000_000}, 0.5) is None
    assert implausible_charge({"cpu": -1}, 0.5) is not None
    assert implausible_charge({"cpu": int(MAX_USD_PER_HOUR * 2 * 1e6)}, 1.0) is not None
