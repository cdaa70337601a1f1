"""`tenantops cost` reading a real state store the controller wrote."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.cost.helpers import REPO, apply_state, snapshot

from tenantops.cli.cost import parse_window
from tenantops.cli.main import cli
from tenantops.decide.base import PassInput
from tenantops.decide.cost import CostDecider
from tenantops.record.store import StateStore


def write_store(path: Path, catalog: Path, days: int = 3) -> None:
    from tenantops.config import load_config

    config = load_config(catalog, REPO / "policies")
    state: dict[str, Any] = {}
    decider = CostDecider()
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    while now < datetime.now(UTC):
        out = decider.decide(PassInput(snapshot(now, {("hooli", "api"): {"cpu": 3.0, "replicas": 3}}), config, now),
                             state)
        apply_state(state, out.state)
        now += timedelta(minutes=30)
    with StateStore(path) as store:
        store.commit({"cost": state})


def test_window_parsing() -> None:
    assert parse_window("30d") == 30
    with pytest.raises(Exception, match="number of days"):
        parse_window("3w")


def test_cost_json_and_csv_from_the_store(tmp_path: Path) -> None:
    catalog = REPO / "stacks" / "dev.catalog.yaml"
    db = tmp_path / "state.db"
    write_store(db, catalog)
    runner = CliRunner()
    args = ["cost", "--catalog", str(catalog), "--policies", str(REPO / "policies"), "--state", str(db)]
    result = runner.invoke(cli, [*args, "--json", "--window", "7d"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {r["tenant"]: r for r in data["tenants"]}
    assert {"hooli", "acme", "__idle__", "__shared__"} <= set(rows)
    assert rows["hooli"]["window_usd"] > rows["vandelay"]["window_usd"] > 0  # hooli holds 3 cores
    result = runner.invoke(cli, [*args, "--csv", "--tenant", "hooli"])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["tenant"] for r in table] == ["hooli"]
    assert float(table[0]["month_to_date_usd"]) >= 0
    result = runner.invoke(cli, [*args])
    assert result.exit_code == 0 and "hooli" in result.output


def test_unknown_tenant_and_bad_window_are_bad_input(tmp_path: Path) -> None:
    from tenantops.cli.main import main

    base = ["cost", "--catalog", str(REPO / "stacks" / "dev.catalog.yaml"), "--policies", str(REPO / "policies"),
            "--state", str(tmp_path / "none.db")]
    for extra in (["--tenant", "nobody"], ["--window", "soon"]):
        with pytest.raises(SystemExit) as exc:
            main([*base, *extra])
        assert exc.value.code == 2


@pytest.mark.integration
def test_reconcile_shows_the_difference_from_billed_cost(tmp_path: Path, moto_server: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = REPO / "stacks" / "dev.catalog.yaml"
    db = tmp_path / "state.db"
    write_store(db, catalog, days=1)
    today = datetime.now(UTC).date()
    moto_server.queue_cost_and_usage([{
        "ResultsByTime": [{"TimePeriod": {"Start": today.isoformat(), "End": today.isoformat()}, "Estimated": True,
                           "Groups": [{"Keys": ["tenant$hooli"], "Metrics": {"UnblendedCost": {"Amount": "1000"}}},
                                      {"Keys": ["tenant$"], "Metrics": {"UnblendedCost": {"Amount": "5"}}}]}],
    }])
    monkeypatch.setenv("TENANTOPS_AWS_ENDPOINT_URL", moto_server.endpoint_url)
    result = CliRunner().invoke(cli, ["cost", "--catalog", str(catalog), "--policies", str(REPO / "policies"),
                                      "--state", str(db), "--window", "2d", "--reconcile", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    recon = {r["tenant"]: r for r in data["reconciliation"]}
    estimate = {r["tenant"]: r["window_usd"] for r in data["tenants"]}["hooli"]
    assert recon["hooli"]["actual_usd"] == 1000.0
    assert recon["hooli"]["difference_usd"] == pytest.approx(1000.0 - estimate, abs=0.01)
    assert recon["__untagged__"]["actual_usd"] == 5.0
    assert data["reconciled_environment"] == "dev"  # the catalogue's: only that environment's bill is read
