"""ReportData is the cost engine's figures, arranged; renderings escape what the catalogue says."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantops.config import Config
from tenantops.decide.cost.budget import judge_budget
from tenantops.decide.cost.ledger import Ledger
from tenantops.decide.reports.schedule import Schedule, due
from tenantops.notify.report.build import (
    build_report_data,
    report_window,
    savings_from_findings,
    savings_from_json,
)
from tenantops.notify.report.message import render_report
from tenantops.notify.report.model import BudgetStatus, SavingRow
from tenantops.notify.report.render import render_csv, safe_cell
from tenantops.notify.service import enqueue_report
from tenantops.structs.rightsizing_findings import (
    HistoryWindow,
    InstanceRecommendation,
    ResourceRecommendation,
    RightsizingFindings,
    VpaStatus,
    WorkloadRecommendation,
)

from .conftest import EVIL_NAME, NOW, day, make_state


def test_window_is_whole_utc_days_before_now() -> None:
    assert report_window(NOW, 7) == (day(-14), day(-7), day(0))
    with pytest.raises(ValueError, match="timezone-aware"):
        report_window(NOW.replace(tzinfo=None), 7)


def test_figures_are_the_ledgers(config: Config, ledger: Ledger) -> None:
    data = build_report_data(config, ledger, NOW)
    current = ledger.totals(day(-7), day(0), include_buckets=True)
    previous = ledger.totals(day(-14), day(-7), include_buckets=True)
    rows = {r.tenant: r for r in data.rows}
    assert set(rows) == set(current)
    for tenant, usd in current.items():
        assert rows[tenant].cost_usd == pytest.approx(usd, abs=1e-6)
        assert rows[tenant].previous_usd == pytest.approx(previous[tenant], abs=1e-6)
    assert data.total_usd == pytest.approx(sum(current.values()))
    assert data.total_usd == pytest.approx(7 * (130 + 60 + 40 + 25 + 5))
    assert data.change_percent == pytest.approx((1820 - 1645) / 1645 * 100)
    assert rows["__idle__"].is_bucket and rows["__idle__"].name.startswith("Idle")
    # Largest first; buckets after tenants.
    assert [r.tenant for r in data.rows] == ["acme", "globex", "initech", "evil", "__idle__"]
    assert sum(r.share_percent for r in data.rows) == pytest.approx(100)
    assert [d.usd for d in data.daily] == [pytest.approx(260.0)] * 7


def test_budget_status_uses_the_engines_forecast(config: Config, ledger: Ledger) -> None:
    data = build_report_data(config, ledger, NOW)
    rows = {r.tenant: r for r in data.tenant_rows}
    for tenant in ("acme", "globex"):
        budget = rows[tenant].budget
        assert budget is not None
        fc = ledger.budget(tenant, budget.budget_usd, NOW)
        assert budget.month_to_date_usd == pytest.approx(fc.month_to_date, abs=0.01)
        assert budget.forecast_usd == pytest.approx(fc.forecast, abs=0.01)
    acme, globex = rows["acme"].budget, rows["globex"].budget
    assert acme is not None and globex is not None
    assert acme.status is BudgetStatus.AT_RISK  # ~$130/day over a $3,000 month
    assert globex.status is BudgetStatus.OK
    assert data.budget_rows[0].budget is not None
    assert data.budget_rows[0].budget.status is BudgetStatus.AT_RISK


def test_top_movers_by_dollar_change_either_way(config: Config, ledger: Ledger) -> None:
    data = build_report_data(config, ledger, NOW)
    assert [(r.tenant, round(r.change_usd)) for r in data.top_movers] == [
        ("acme", 210), ("globex", -140), ("evil", 105)
    ]


def test_open_alerts_and_savings(config: Config, ledger: Ledger) -> None:
    savings = [SavingRow("acme", "api", 120.0), SavingRow("globex", "api", 30.5)]
    data = build_report_data(config, ledger, NOW, savings=savings)
    assert [a.tenant for a in data.alerts] == ["acme"]
    assert data.total_savings_usd_month == pytest.approx(150.5)
    assert {r.tenant: r.savings_usd_month for r in data.tenant_rows}["acme"] == 120.0


def test_tenant_level_report_is_only_that_tenant(config: Config, ledger: Ledger) -> None:
    data = build_report_data(config, ledger, NOW, tenants=["acme"], savings=[SavingRow("globex", "api", 9.0)])
    assert [r.tenant for r in data.rows] == ["acme"]
    assert data.total_usd == pytest.approx(910)
    assert data.savings == ()


def test_a_tenants_budget_mail_charts_its_own_spend_not_the_fleets(config: Config, ledger: Ledger) -> None:
    """The budget mail goes to the tenant's own contacts: its spend-trend chart (the daily series) is that
    tenant's. Before, it was every tenant's spend added up, day by day: a customer was mailed the fleet's."""
    data = build_report_data(config, ledger, NOW, tenants=["acme"])
    assert [d.usd for d in data.daily] == [130.0] * 7
    assert [d.usd for d in data.previous_daily] == [100.0] * 7
    fleet = build_report_data(config, ledger, NOW)
    assert [d.usd for d in fleet.daily] == [130.0 + 60 + 40 + 25 + 5] * 7  # the ops report: every tenant, buckets


@pytest.mark.parametrize("closed_days", [1, 2, 3, 4])
def test_a_budget_is_at_risk_in_the_report_exactly_when_its_forecast_alert_fires(
        config: Config, tmp_path: Path, closed_days: int) -> None:
    """A tenant two days old spending $300 a day (20% of its $3,000 budget) is forecast far over it. The
    forecast alert waits for three closed days (one or two are too few to trust); the report called the
    budget "at risk" from the first, and a budget mail went to the customer's contacts on that forecast,
    before and without any alert. Both now judge the forecast from the same closed days."""
    ledger = Ledger(make_state({"acme": [300.0] * closed_days}))
    tenant = config.by_id["acme"]
    fc = ledger.budget("acme", tenant.budget_usd_month, NOW)
    assert fc.forecast > tenant.budget_usd_month > fc.month_to_date
    verdict = judge_budget("acme", tenant.display_name, "2026-11", fc, config.for_tenant(tenant).budget)
    alerted = any(a.cause == "budget-forecast" for a in verdict.firing)
    assert alerted == (closed_days >= 3)
    row = next(r for r in build_report_data(config, ledger, NOW).tenant_rows if r.tenant == "acme")
    assert row.budget is not None
    assert (row.budget.status is BudgetStatus.AT_RISK) == alerted
    queued = enqueue_report(config, tmp_path / "state.db", NOW, key="cost-report:test", ledger=ledger)
    assert ("cost-report:test:tenant:acme" in queued) == alerted


def test_a_tenants_budget_mail_says_whose_spend_its_charts_and_total_are(config: Config, ledger: Ledger) -> None:
    """The budget mail's charts are the tenant's own spend; their titles said "all tenants" ("Top 1
    tenants") and its CSV's total row "All tenants and unallocated costs", so the customer reading it
    took their own figures for the fleet's."""
    from tenantops.notify.report.charts import spend_trend_figure, top_tenants_figure

    data = build_report_data(config, ledger, NOW, tenants=["acme"])
    assert data.scope == ("acme",)
    trend, top = spend_trend_figure(data).axes[0], top_tenants_figure(data).axes[0]
    assert trend.get_title(loc="left") == "Daily cost to serve, Acme Corp"
    assert "tenants" not in top.get_title(loc="left") and "Acme Corp" in top.get_title(loc="left")
    total = list(csv.reader(io.StringIO(render_csv(data))))[-1]
    assert total[:2] == ["TOTAL", "Total"] and float(total[3]) == pytest.approx(910)
    fleet = build_report_data(config, ledger, NOW)
    assert fleet.scope == ()
    assert spend_trend_figure(fleet).axes[0].get_title(loc="left") == "Daily cost to serve, all tenants"
    assert top_tenants_figure(fleet).axes[0].get_title(loc="left") == "Top 4 tenants by cost this period"
    assert list(csv.reader(io.StringIO(render_csv(fleet))))[-1][1] == "All tenants and unallocated costs"


def test_catalogue_tenant_without_data_is_listed_and_noted(config: Config) -> None:
    data = build_report_data(config, Ledger({}), NOW)
    assert {r.tenant for r in data.rows} == {"acme", "globex", "initech", "evil"}
    assert all(r.cost_usd == 0 for r in data.rows)
    assert any("No cost data" in n for n in data.notes)
    assert any("Days without any observation" in n for n in data.notes)


def _recommendation(tenant: str, workload: str, saving: float | None, cpu: tuple[float, float] = (0.5, 0.5),
                    memory: tuple[float, float] = (2.0**29, 2.0**29),
                    instance: InstanceRecommendation | None = None) -> WorkloadRecommendation:
    def resource(now: float, recommended: float) -> ResourceRecommendation:
        return ResourceRecommendation(now, recommended, recommended, recommended, recommended, 1.0, 168.0, None, "")

    return WorkloadRecommendation(tenant, workload, "pool", "recommend", "standard", 2.0, resource(*cpu),
                                  resource(*memory), VpaStatus(NOW), 1.0, saving, {}, instance=instance)


SAVINGS = RightsizingFindings(recommendations=(
    _recommendation("acme", "api", 12.5, cpu=(0.5, 0.25), memory=(2.0**29, 2.0**28)),
    _recommendation("globex", "db", 3.0, instance=InstanceRecommendation(
        "m6i.xlarge", "m6i.large", 140.0, 70.0, 70.0, 1, "low", "fits", None)),
    _recommendation("initech", "api", -4.0),
    _recommendation("initech", "api", None),
), history=HistoryWindow(NOW, NOW))


def _check_savings(rows: list[SavingRow]) -> None:
    assert [(s.tenant, s.monthly_saving_usd) for s in rows] == [("globex", 70.0), ("acme", 12.5)]
    assert rows[0].detail == "instance m6i.xlarge -> m6i.large" and rows[0].risk == "low"
    assert "cpu 500m -> 250m" in rows[1].detail and "memory 512Mi -> 256Mi" in rows[1].detail


def test_savings_from_rightsizing_findings() -> None:
    _check_savings(savings_from_findings(SAVINGS))
    assert savings_from_findings(None) == []


def test_savings_from_a_rightsize_json_file_skip_what_cannot_be_read(caplog: pytest.LogCaptureFixture) -> None:
    payload = json.loads(json.dumps(SAVINGS.to_json()))  # as `tenantops rightsize --json` writes it
    payload["recommendations"].append({"workload": "broken"})
    with caplog.at_level(logging.WARNING, logger="tenantops.notify.report"):
        rows = savings_from_json(payload)
    _check_savings(rows)
    assert any("recommendations[4].tenant: missing" in r.getMessage() for r in caplog.records)
    _check_savings(savings_from_json({"rightsizing": payload}))  # a pass's findings, keyed by concern
    assert savings_from_json(None) == [] and savings_from_json({"status": "no usage history"}) == []


def test_hostile_tenant_name_is_escaped_in_html_and_text_stays_text(config: Config, ledger: Ledger) -> None:
    report = render_report(build_report_data(config, ledger, NOW), charts=False)
    html = report.html()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; =HYPERLINK" in html
    assert EVIL_NAME in report.text  # plain text is not markup


def test_csv_has_the_table_and_defuses_formulas(config: Config, ledger: Ledger) -> None:
    data = build_report_data(config, ledger, NOW)
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    by_tenant = {r["tenant"]: r for r in rows}
    assert float(by_tenant["acme"]["cost_usd"]) == pytest.approx(910)
    assert float(by_tenant["globex"]["change_usd"]) == pytest.approx(-140)  # negative numbers stay numbers
    assert by_tenant["acme"]["budget_status"] == "at risk"
    assert float(by_tenant["TOTAL"]["cost_usd"]) == pytest.approx(data.total_usd)
    assert by_tenant["evil"]["name"] == EVIL_NAME  # starts with '<': not a formula, kept as is
    assert safe_cell("=1+1") == "'=1+1" and safe_cell("-2") == "'-2" and safe_cell(-2.0) == -2.0


@given(st.text(max_size=40))
def test_no_csv_cell_can_start_a_formula(text: str) -> None:
    cell = safe_cell(text)
    assert not (isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"))
    assert str(cell).endswith(text)


def test_the_csv_and_mail_columns_add_up_to_their_total_row(config: Config) -> None:
    """Each line rounded to the cent on its own left the column a cent or more off the TOTAL a finance
    reader checks it against: three lines of $1.124998 and one of $0.125006 showed as 1.12, 1.12, 1.12
    and 0.13 (3.49) under a total of 3.50."""
    from .conftest import make_state

    weeks = {"acme": [0.160714] * 14, "globex": [0.160714] * 14, "initech": [0.160714] * 14,
             "__idle__": [0.017858] * 14}
    data = build_report_data(config, Ledger(make_state(weeks)), NOW)
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    body, (total,) = [r for r in rows if r["tenant"] != "TOTAL"], [r for r in rows if r["tenant"] == "TOTAL"]
    for column in ("cost_usd", "previous_usd", "change_usd"):
        cents = sum(round(float(r[column]) * 100) for r in body if r[column])
        assert cents == round(float(total[column]) * 100), column
    assert total["cost_usd"] == "3.50"  # 3 x $1.124998 + $0.125006: the exact $3.500000
    assert sorted(r["cost_usd"] for r in body) == ["0.00", "0.13", "1.12", "1.12", "1.13"]  # evil: no data
    text = render_report(data, charts=False).text
    assert "$3.50" in text


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(min_value=0, max_value=5000, allow_nan=False), min_size=14, max_size=14),
       st.lists(st.floats(min_value=0, max_value=5000, allow_nan=False), min_size=14, max_size=14))
def test_totals_and_shares_always_add_up(config: Config, a: list[float], b: list[float]) -> None:
    from .conftest import make_state

    ledger = Ledger(make_state({"acme": a, "globex": b}))
    data = build_report_data(config, ledger, NOW)
    # The figures are whole cents, within half a cent of the exact total, and the lines add up to it.
    assert data.total_usd == pytest.approx(sum(a[7:]) + sum(b[7:]), abs=0.005 + 1e-4)
    assert data.previous_total_usd == pytest.approx(sum(a[:7]) + sum(b[:7]), abs=0.005 + 1e-4)
    assert sum(round(r.cost_usd * 100) for r in data.rows) == round(data.total_usd * 100)
    assert sum(round(r.previous_usd * 100) for r in data.rows) == round(data.previous_total_usd * 100)
    if data.total_usd > 0:
        assert sum(r.share_percent for r in data.rows) == pytest.approx(100)
    assert len(data.top_movers) <= 5


# -- schedule ---------------------------------------------------------------------------------------------

BERLIN_MONDAY_8 = Schedule("0 8 * * 1", "Europe/Berlin")


def test_weekly_schedule_in_policy_time_zone_across_dst() -> None:
    # 08:00 Berlin is 07:00 UTC in winter and 06:00 UTC in summer.
    winter = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)
    assert BERLIN_MONDAY_8.due(winter - timedelta(days=1), winter)
    assert not BERLIN_MONDAY_8.due(winter - timedelta(days=1), winter - timedelta(minutes=1))
    summer = datetime(2026, 7, 13, 6, 0, tzinfo=UTC)
    assert BERLIN_MONDAY_8.due(summer - timedelta(hours=1), summer)
    assert BERLIN_MONDAY_8.last(summer + timedelta(days=3)) == summer
    assert BERLIN_MONDAY_8.next(winter) == winter + timedelta(days=7)


def test_a_run_after_the_moment_is_not_due_again() -> None:
    moment = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)
    assert not BERLIN_MONDAY_8.due(moment, moment + timedelta(days=2))
    assert due("0 8 * * 1", "Europe/Berlin", None, moment)


def test_bad_schedule_or_zone_is_named() -> None:
    with pytest.raises(ValueError, match="not a cron expression"):
        Schedule("every monday", "UTC")
    with pytest.raises(ValueError, match="unknown time zone"):
        Schedule("0 8 * * 1", "Mars/Olympus")


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=60 * 24 * 21))
def test_due_exactly_when_a_moment_falls_in_the_interval(last: datetime, minutes: int) -> None:
    now = last + timedelta(minutes=minutes)
    moment = BERLIN_MONDAY_8.last(now)
    assert BERLIN_MONDAY_8.due(last, now) == (last < moment <= now)
    assert moment <= now and moment.weekday() == 0 and (moment.hour, moment.minute) == (8, 0)
    # Once it has run at `now`, it is not due again until the next moment.
    assert not BERLIN_MONDAY_8.due(now, now + timedelta(minutes=1)) or BERLIN_MONDAY_8.last(
        now + timedelta(minutes=1)) > now


DST_CHANGES = [  # (zone, an instant a few hours before a change)
    ("Europe/Berlin", datetime(2026, 10, 24, 22, tzinfo=UTC)),   # autumn: 03:00 CEST -> 02:00 CET
    ("Europe/Berlin", datetime(2026, 3, 28, 22, tzinfo=UTC)),    # spring: 02:00 CET -> 03:00 CEST
    ("America/New_York", datetime(2026, 11, 1, 2, tzinfo=UTC)),  # autumn: 02:00 EDT -> 01:00 EST
    ("America/New_York", datetime(2026, 3, 8, 3, tzinfo=UTC)),   # spring: 02:00 EST -> 03:00 EDT
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 10, tzinfo=UTC)),  # a half-hour change
]


@pytest.mark.parametrize("cron", ["30 2 * * *", "0 1 * * *", "15 * * * *", "*/20 * * * *", "0 8 * * 1"])
@pytest.mark.parametrize(("zone", "start"), DST_CHANGES)
def test_each_scheduled_wall_time_is_one_moment_across_a_dst_change(cron: str, zone: str, start: datetime) -> None:
    """Walking through a change pass by pass, the latest moment only moves forward, never to a time it
    has already been, and lies in (now - period, now] with the next moment after now, as cron runs it."""
    schedule, seen = Schedule(cron, zone), []
    for step in range(0, 8 * 60):  # 8 hours, a pass a minute
        now = start + timedelta(minutes=step)
        moment, following = schedule.last(now), schedule.next(now)
        assert moment <= now < following, (now, moment, following)
        if not seen or seen[-1] != moment:
            assert not seen or moment > seen[-1], (now, seen[-1], moment)
            seen.append(moment)
    walls = [m.replace(tzinfo=None) for m in seen]
    assert len(walls) == len(set(walls)), seen  # a wall time the change repeats is still one moment


def test_a_report_at_a_time_the_autumn_change_repeats_is_queued_once() -> None:
    # Europe/Berlin repeats 02:00-03:00 on 2026-10-25; before, the repeated hour stepped the moment back
    # to the day before and then on to a second 02:30 (+01:00): two reports that day.
    daily = Schedule("30 2 * * *", "Europe/Berlin")
    keys = {daily.last(datetime(2026, 10, 24, 22, tzinfo=UTC) + timedelta(seconds=30 * i)).isoformat()
            for i in range(6 * 120)}
    assert keys == {"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00"}
    # A time the spring change skips is the instant the clock jumps, and the day keeps its report.
    assert daily.last(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)).isoformat() == "2026-03-29T03:00:00+02:00"
    assert daily.next(datetime(2026, 3, 29, 0, 59, tzinfo=UTC)).isoformat() == "2026-03-29T03:00:00+02:00"


def test_change_percent_edges() -> None:
    from tenantops.notify.report.model import change_percent

    assert change_percent(0, 0) == 0.0
    assert change_percent(5, 0) is None
    assert change_percent(50, 100) == -50.0
