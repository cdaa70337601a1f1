"""CostDecider over simulated passes: accounting, anomaly dedup, budget alerts, restart, ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.cost.helpers import REPO, apply_state, make_config, snapshot, tenant

from tenantops.decide import alerts as lifecycle
from tenantops.decide.base import PassInput
from tenantops.decide.cost import CostDecider, Ledger
from tenantops.decide.cost.budget import month_before
from tenantops.structs.cost_findings import CostFindings

REPO_POLICIES = REPO / "policies"
START = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday


def run(config: Any, state: dict[str, Any], start: datetime, hours: int, cpu_of: Any, step_min: int = 30) -> list[Any]:
    """Passes of the cost decider, its alerts through the engine's lifecycle stage: the notifications sent."""
    decider = CostDecider()
    alert_state: dict[str, Any] = {}
    alerts = []
    now = start
    tenants = {t.id for t in config.tenants}
    for _ in range(hours * 60 // step_min):
        snap = snapshot(now, {("big", "api"): {"cpu": cpu_of(now), "cpu_request": 1.0, "memory": 2**30,
                                                "memory_request": 2**30, "replicas": 2}})
        out = decider.decide(PassInput(snap, config, now), state)
        apply_state(state, out.state)
        raised = [lifecycle.Raised("cost", out.alerts, out.cleared)]
        stage = lifecycle.advance(alert_state, raised, config, now, tenants)
        apply_state(alert_state, stage.changes)
        alerts += stage.notifications
        now += timedelta(minutes=step_min)
    return alerts


def test_spike_alerts_once_and_money_adds_up(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tenant("big", budget=100000)])
    state: dict[str, Any] = {}
    spike_day = START + timedelta(days=28)

    def cpu(now: datetime) -> float:
        return 400.0 if spike_day <= now < spike_day + timedelta(hours=20) else 40.0

    alerts = run(config, state, START, 24 * 30, cpu)
    anomalies = [a for a in alerts if a.cause.startswith("cost-anomaly")]
    hourly = [a for a in anomalies if a.cause == "cost-anomaly-hourly"]
    daily = [a for a in anomalies if a.cause == "cost-anomaly-daily"]
    assert len([a for a in hourly if "Resolved" not in a.summary]) == 1  # 20 anomalous hours: one alert
    assert len([a for a in daily if "Resolved" not in a.summary]) == 1
    first = daily[0]
    assert first.tenant == "big" and first.amount_usd and first.amount_usd > 50
    assert "tenantops audit --tenant big" in first.suggested_action
    ledger = Ledger(state)
    days = ledger.tenant_daily("big", START.date(), (START + timedelta(days=31)).date())
    assert days[spike_day.date()] > 5 * days[(spike_day - timedelta(days=7)).date()]
    # The ledger's days plus today equal the month-to-date breakdown for the current month.
    month = ledger.month_to_date()["big"]
    nov = sum(v for d, v in days.items() if d >= date(2026, 11, 1))
    assert abs(nov - month.total_usd) < 1e-3


def test_budget_overrun_is_forecast_before_it_happens(tmp_path: Path) -> None:
    # The tenant's own cores plus the pool's idle nodes: far over a $60 budget within days.
    config = make_config(tmp_path, [tenant("big", budget=60)])
    state: dict[str, Any] = {}
    # Passes 15 min apart (max_pass_gap_seconds): further apart, each would charge only 15 min of its gap.
    alerts = run(config, state, datetime(2026, 11, 1, tzinfo=UTC), 24 * 29, lambda _now: 4.0, step_min=15)
    forecast = [a for a in alerts if a.cause == "budget-forecast"]
    actual = [a for a in alerts if a.cause == "budget-actual"]
    assert len([a for a in forecast if not a.details.get("escalated")]) == 1
    assert len(forecast) <= 2  # plus one escalation after escalate_after_hours still over
    fired = [a.details["threshold_percent"] for a in actual if not a.details.get("escalated")]
    assert fired == [80, 100]  # each threshold once
    assert forecast[0].key < "z" and actual[-1].severity == "critical"
    ledger = Ledger(state)
    fc = ledger.budget("big", 60, datetime(2026, 11, 30, tzinfo=UTC))
    assert fc.forecast > 60 and fc.burn_rate is not None and fc.burn_rate > 1


def test_restart_from_stored_state_gives_the_same_books(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tenant("big")])
    one: dict[str, Any] = {}
    run(config, one, START, 50, lambda _n: 10.0)
    two: dict[str, Any] = {}
    run(config, two, START, 20, lambda _n: 10.0)
    run(config, two, START + timedelta(hours=20), 30, lambda _n: 10.0)
    assert one == two


def test_findings_are_the_documented_shape(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tenant("big"), tenant("silo1", isolation="silo", tier="enterprise",
                                                     workloads=[{"name": "api", "min_replicas": 2,
                                                                 "max_replicas": 4, "instance_type": "m6i.large"}])])
    now = START
    out = CostDecider().decide(PassInput(snapshot(now, {}), config, now), {})
    findings = out.findings
    assert isinstance(findings, CostFindings)
    assert set(findings.tenants) == {"big", "silo1"}
    silo = findings.tenants["silo1"]
    # No replica reading: the catalogue's minimum (2 × m6i.large at $0.096/h) stands in, marked estimated.
    assert silo.estimated and abs(silo.usd_per_hour - 2 * 0.096) < 1e-5
    total = sum(t.usd for t in findings.tenants.values()) + findings.idle_bucket_usd + findings.shared_bucket_usd
    assert abs(total - findings.total_usd) < 1e-5


def test_ledger_tenants_plus_buckets_equal_everything_charged(tmp_path: Path) -> None:
    rules = (REPO_POLICIES / "cost.yaml").read_text(encoding="utf-8")
    rules = rules.replace("  idle: proportional", "  idle: separate")
    config = make_config(tmp_path, [tenant("big"), tenant("small", tier="free"),
                                    tenant("silo1", isolation="silo", tier="enterprise",
                                           workloads=[{"name": "api", "min_replicas": 1, "max_replicas": 3}])],
                         cost_overrides=rules)
    decider = CostDecider()
    state: dict[str, Any] = {}
    charged = 0.0
    now = START
    for i in range(24 * 3 * 4):
        snap = snapshot(now, {("big", "api"): {"cpu": 1.0 + i % 7, "replicas": 2}, ("silo1", "api"): {"replicas": 2}})
        out = decider.decide(PassInput(snap, config, now), state)
        apply_state(state, out.state)
        assert isinstance(out.findings, CostFindings)
        charged += out.findings.total_usd
        now += timedelta(minutes=15)
    ledger = Ledger(state)
    # From the day before START: the first pass is charged one controller interval back.
    first_day = START.date() - timedelta(days=1)
    totals = ledger.totals(first_day, now.date() + timedelta(days=1), include_buckets=True)
    assert totals["__idle__"] > 0  # kept separate by the rule
    assert abs(sum(totals.values()) - charged) < 1e-3


def test_snooze_in_the_catalogue_is_validated_with_file_and_line(tmp_path: Path) -> None:
    from tenantops.config import ConfigError

    bad = tenant("big")
    bad["overrides"] = {"alerts": {"snooze": [{"cause": "budget-actual", "key": "x", "until": "2026-12-01T00:00:00Z",
                                               "reason": "both"}]}}
    try:
        make_config(tmp_path, [bad])
    except ConfigError as exc:
        text = str(exc.issues[0])
        assert "catalog.yaml:" in text and "snooze" in text and "exactly one" in text
    else:
        raise AssertionError("a snooze naming both cause and key was accepted")


def test_a_snooze_of_a_cause_no_alert_has_is_refused_at_its_line(tmp_path: Path) -> None:
    """`cost-anomaly-day` (for cost-anomaly-daily) silenced nothing and said nothing."""
    from tenantops.config import ConfigError

    typo = tenant("big")
    typo["overrides"] = {"alerts": {"snooze": [{"cause": "cost-anomaly-day", "until": "2027-01-01T00:00:00Z",
                                                "reason": "load test week"}]}}
    try:
        make_config(tmp_path, [typo])
    except ConfigError as exc:
        [issue] = [str(i) for i in exc.issues]
        assert "catalog.yaml:11:" in issue and "tenants[0].overrides.alerts.snooze[0].cause:" in issue  # its own line
        assert "no alert has the cause 'cost-anomaly-day'" in issue and "cost-anomaly-daily" in issue
    else:
        raise AssertionError("a snooze of an unknown cause was accepted")


def test_budget_alerts_snoozed_for_one_tenant_only(tmp_path: Path) -> None:
    quiet = tenant("big", budget=60)
    quiet["overrides"] = {"alerts": {"snooze": [{"cause": "budget-actual", "until": "2027-01-01T00:00:00Z",
                                                 "reason": "contract renegotiation"}]}}
    config = make_config(tmp_path, [quiet])
    alerts = run(config, {}, datetime(2026, 11, 1, tzinfo=UTC), 24 * 10, lambda _now: 4.0, step_min=15)
    assert not [a for a in alerts if a.cause == "budget-actual"]
    assert [a for a in alerts if a.cause == "budget-forecast"]  # other causes still alert


def test_forecast_at_the_first_instant_of_a_month_starts_the_month_from_nothing(tmp_path: Path) -> None:
    # A pass exactly at 00:00 on the 1st charges the quarter hour before it to the old month; its forecast for
    # the new month must not count the old month's spend as spent already, nor judge the budget on it.
    config = make_config(tmp_path, [tenant("big", budget=50)])
    state: dict[str, Any] = {}
    decider = CostDecider()
    now = datetime(2026, 11, 20, tzinfo=UTC)
    first = datetime(2026, 12, 1, tzinfo=UTC)
    out = None
    while now <= first:
        snap = snapshot(now, {("big", "api"): {"cpu": 4.0, "cpu_request": 1.0, "memory": 2**30,
                                                "memory_request": 2**30, "replicas": 2}})
        out = decider.decide(PassInput(snap, config, now), state)
        apply_state(state, out.state)
        now += timedelta(minutes=15)  # max_pass_gap_seconds: every minute is charged
    assert out is not None and isinstance(out.findings, CostFindings)
    finding = out.findings.tenants["big"]
    november = Ledger(state).month_to_date()["big"]
    assert november.month == "2026-11" and november.total_usd > 10  # the old month's spend is still held
    # Nothing spent yet: the forecast is December's 31 days at the fitted rate alone, as the ledger gives it.
    expected = Ledger(state).budget("big", 50, first)
    assert finding.forecast_usd == round(expected.forecast, 2)
    assert finding.forecast_usd < november.total_usd / 10 * 31 * 1.1
    assert finding.month == "2026-12" and finding.month_to_date_usd == 0.0
    assert not [a for a in out.alerts if a.cause == "budget-actual"]  # December has spent nothing yet


def test_the_month_before_s_budget_alerts_are_cleared_once_it_has_closed(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tenant("big", budget=50)])
    state: dict[str, Any] = {}
    decider = CostDecider()
    now = datetime(2026, 11, 20, tzinfo=UTC)
    november_keys: set[str] = set()
    out = None
    while now <= datetime(2026, 12, 1, 1, tzinfo=UTC):
        snap = snapshot(now, {("big", "api"): {"cpu": 4.0, "cpu_request": 1.0, "memory": 2**30,
                                                "memory_request": 2**30, "replicas": 2}})
        out = decider.decide(PassInput(snap, config, now), state)
        apply_state(state, out.state)
        if now.month == 11:
            november_keys |= {a.key for a in out.alerts if a.cause.startswith("budget-")}
        now += timedelta(minutes=30)
    assert out is not None
    assert {k for k in november_keys if ":2026-11:" in k} == november_keys and november_keys
    assert november_keys <= set(out.cleared)  # November closed: its episodes end
    assert not {a.key for a in out.alerts} & november_keys


def test_month_before_crosses_the_year() -> None:
    assert month_before("2027-01") == "2026-12"
    assert month_before("2026-12") == "2026-11"


def _forecast_error(config: Any, state: dict[str, Any], at: datetime, budget: float) -> float:
    """Relative error of the month-end forecast against what the tenant's steady spend will come to."""
    ledger = Ledger(state)
    fc = ledger.budget("big", budget, at)
    per_hour = ledger.hourly("big", at - timedelta(hours=3))[0].usd  # a whole hour of steady spend
    month_end = datetime(at.year, at.month + 1, 1, tzinfo=UTC)
    truth = fc.month_to_date + per_hour * (month_end - at).total_seconds() / 3600
    return (fc.forecast - truth) / truth


def test_a_tenant_added_in_the_afternoon_is_forecast_from_whole_days(tmp_path: Path) -> None:
    """A tenant added at 15:00 closes its first day with 9 hours of spend. Taken as a day's spend, it
    pulled the run rate, and so the month-end forecast, a fifth under what the tenant goes on to spend,
    which put a budget-forecast alert days late."""
    config = make_config(tmp_path, [tenant("big", budget=100000)])
    state: dict[str, Any] = {}
    added = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    run(config, state, added, 24 * 3 + 21, lambda _now: 4.0, step_min=15)
    at = added + timedelta(hours=24 * 3 + 21)
    assert abs(_forecast_error(config, state, at, 100000)) < 0.01
    assert Ledger(state).tenant_daily("big", added.date(), added.date() + timedelta(days=1)) == {
        added.date(): pytest.approx(Ledger(state).hourly("big", at - timedelta(hours=3))[0].usd * 9, rel=2e-3)
    }  # the money itself is not scaled: the day cost what it cost (9 h and the first pass's interval)


def test_a_day_with_an_outage_is_forecast_as_a_whole_day(tmp_path: Path) -> None:
    """The controller down for ten hours of a day (longer than max_pass_gap_seconds) charges only what it
    saw; that day is money as it was, but its spend rate is that of the hours seen."""
    config = make_config(tmp_path, [tenant("big", budget=100000)])
    state: dict[str, Any] = {}
    start = datetime(2026, 11, 2, tzinfo=UTC)
    run(config, state, start, 24 * 8 + 10, lambda _now: 4.0, step_min=15)
    back = start + timedelta(hours=24 * 8 + 20)  # down from 10:00 to 20:00 of the ninth day
    run(config, state, back, 24 * 2, lambda _now: 4.0, step_min=15)
    assert abs(_forecast_error(config, state, back + timedelta(hours=48), 100000)) < 0.01
