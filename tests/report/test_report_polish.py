"""What a reader sees: no-data reports say so, one time zone (UTC), "1 day", money axes with cents and
dollars, and the period's resolved alerts next to the open ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tenantops.config import Config
from tenantops.decide.alerts import AlertRecord
from tenantops.decide.cost.ledger import ALERTS_KEY, Ledger
from tenantops.notify.report.build import build_report_data
from tenantops.notify.report.charts import _usd
from tenantops.notify.report.message import render_report
from tenantops.notify.report.model import BudgetStatus
from tenantops.notify.report.render import plural, subject, utc
from tenantops.structs.plan import Severity

from .conftest import NOW


def _alert(key: str, cause: str, fired: datetime, *, active: bool, seen: datetime) -> dict[str, Any]:
    return AlertRecord(key=key, tenant="acme", severity=Severity.WARNING, cause=cause, summary=f"{cause} summary",
                       amount_usd=10.0, active=active, notified=True, first_fired=fired, last_fired=fired,
                       last_seen=seen, cleared_at=None if active else seen).to_json()


def test_a_report_without_data_says_so_instead_of_ok_badges(config: Config) -> None:
    data = build_report_data(config, Ledger({}), NOW)
    assert not data.has_data
    assert all(r.budget is not None and r.budget.status is BudgetStatus.NO_DATA for r in data.tenant_rows)
    rendered = render_report(data)
    for text in (rendered.html(), rendered.text):
        assert "No cost data for this period" in text or "NO COST DATA FOR THIS PERIOD" in text
        assert "on track" not in text
        assert ">ok<" not in text
    assert subject(data).endswith("no cost data")


def test_one_time_zone_and_singular_days(config: Config, ledger: Ledger) -> None:
    """A one-day report was titled "2026-11-15 to 2026-11-15" (its HTML heading "15 Nov – 15 Nov 2026") and
    compared "with the 1 day before": its period is one date, in every title, and the day before is that."""
    data = build_report_data(config, ledger, NOW, period_days=1)
    rendered = render_report(data)
    html = rendered.html()
    assert rendered.subject.startswith("Cost report 2026-11-15: $") and rendered.subject.endswith("vs previous day)")
    assert f"<title>{rendered.subject}</title>" in html and ">Cost report, 2026-11-15</h1>" in html
    assert "1 day (UTC) compared with the day before" in html
    assert rendered.text.startswith(f"{rendered.subject}\n")
    assert "Period: 2026-11-15 (1 day, UTC), compared with the day before." in rendered.text
    assert "1 days" not in html and "1 days" not in rendered.text and "1 days" not in rendered.subject
    assert "2026-11-15 to" not in html + rendered.text and "1 day before" not in html + rendered.text
    week = render_report(build_report_data(config, ledger, NOW))  # seven days: first to last, "the 7 days before"
    assert week.subject.startswith("Cost report 2026-11-09 to 2026-11-15: ") and "vs previous 7 days" in week.subject
    assert ">Cost report, 2026-11-09 to 2026-11-15</h1>" in week.html()
    assert "Period: 2026-11-09 to 2026-11-15 (7 days, UTC), compared with the 7 days before." in week.text
    empty = build_report_data(config, Ledger({}), NOW, period_days=1)
    assert subject(empty) == "Cost report 2026-11-15: no cost data"
    assert empty.notes[0].startswith("No cost data for 2026-11-15: ")
    assert "recorded no spend for 2026-11-15." in render_report(empty).html()
    assert f"generated {utc(NOW)}" in html
    assert "CET" not in html and "CEST" not in html
    assert plural(7, "day") == "7 days" and plural(1, "day") == "1 day"


@pytest.mark.parametrize(("value", "top", "label"), [
    (0.25, 0.5, "$0.25"), (0.0, 0.5, "$0.00"), (1.5, 5, "$1.5"), (3.0, 5, "$3"), (120, 140, "$120"),
    (1400, 1400, "$1,400"), (15000, 20000, "$15k"), (12500, 20000, "$12.5k"),
])
def test_money_ticks_keep_the_decimals_the_axis_needs(value: float, top: float, label: str) -> None:
    assert _usd(value, top) == label


def test_alerts_fired_and_resolved_in_the_period_are_listed_and_stale_ones_are_not_open(
        config: Config, ledger_state: dict[str, Any]) -> None:
    week = NOW - timedelta(days=3)
    ledger_state[ALERTS_KEY] = {
        "a": _alert("a", "cost-anomaly-hourly", week, active=False, seen=week + timedelta(hours=1)),
        "b": _alert("b", "budget-forecast", NOW - timedelta(days=40), active=True, seen=NOW - timedelta(days=30)),
        "c": _alert("c", "budget-actual", NOW - timedelta(hours=5), active=True, seen=NOW),
        "d": _alert("d", "cost-anomaly-daily", NOW - timedelta(days=20), active=False, seen=NOW - timedelta(days=19)),
    }
    data = build_report_data(config, Ledger(ledger_state), NOW)
    by_key = {a.cause: a for a in data.alerts}
    assert set(by_key) == {"cost-anomaly-hourly", "budget-actual"}  # in the period, or still firing
    assert by_key["budget-actual"].active and not by_key["cost-anomaly-hourly"].active
    assert data.alert_count("anomaly") == 1 and data.alert_count("budget") == 1
    html = render_report(data).html()
    assert "resolved " + utc(week + timedelta(hours=1)) in html
    assert "open since " + utc(NOW - timedelta(hours=5)) in html


@pytest.mark.parametrize("name", ["from $1k to $3k", "$5 per seat, $10 per admin", "growth $$", "plain"])
def test_names_on_charts_are_drawn_as_written_not_as_mathtext(name: str) -> None:
    """matplotlib sets text between two `$` as mathtext: an operator's scenario "from $1k to $3k" lost both
    signs in the capacity chart's legend and came out in italics; tenant names on the report's bars too."""
    from matplotlib.cbook import is_math_text

    from tenantops.notify.report.capacity import capacity_figure
    from tenantops.notify.report.model import CapacitySummary

    summary = CapacitySummary(("2026-12", "2027-01"), (100.0, 110.0), (90.0, 95.0), (110.0, 125.0), "flat",
                              ((100, 1.5), (1000, 1.2)), (("pooled", (1.0, 0.8)), ("idle", (0.5, 0.4))), (), 0.0)
    fig = capacity_figure(summary, ((name, (100.0, 130.0)),))
    legend = fig.axes[0].get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    drawn = next(t for t in texts if t not in ("80% interval", "fleet forecast"))
    assert not is_math_text(drawn)
    assert drawn.replace(r"\$", "$") == name
