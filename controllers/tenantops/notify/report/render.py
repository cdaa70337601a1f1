"""Rendering `ReportData` to HTML (for mail clients), plain text, and CSV.

HTML goes through Jinja2 with autoescaping on: a tenant's display name comes from the catalogue and is
shown as text, never as markup. Styles are inline attributes on table layout, because most mail clients
drop `<style>` blocks, external sheets and flexbox. The CSV neutralises cells that a spreadsheet would
run as a formula (`=`, `+`, `-`, `@`, tab, carriage return at the start: OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenantops.notify.report.model import BudgetStatus, ReportData, days_words

if TYPE_CHECKING:
    from jinja2 import Environment

CHART_TITLES = {
    "spend-trend": "Daily cost to serve, this period against the previous one",
    "top-tenants": "Top tenants by cost this period",
    "budget-burn": "Budget burn: month to date and forecast, share of monthly budget",
    "capacity": "Fleet cost forecast by month (80% interval) and the cost to serve one customer as the fleet grows",
}
STATUS_STYLE = {
    BudgetStatus.OVER: ("#fee2e2", "#991b1b"),
    BudgetStatus.AT_RISK: ("#fef3c7", "#92400e"),
    BudgetStatus.WATCH: ("#fef9c3", "#854d0e"),
    BudgetStatus.OK: ("#dcfce7", "#166534"),
    BudgetStatus.NO_DATA: ("#f3f4f6", "#374151"),
    BudgetStatus.NO_BUDGET: ("#f3f4f6", "#374151"),
}
SEVERITY_STYLE = {"critical": ("#fee2e2", "#991b1b"), "warning": ("#fef3c7", "#92400e"), "info": ("#e0f2fe", "#075985")}


def usd(value: float | None, decimals: int = 2) -> str:
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{decimals}f}"


def signed_usd(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) < 0.005:
        return "$0.00"
    return ("+" if value > 0 else "-") + f"${abs(value):,.2f}"


def signed_pct(value: float | None) -> str:
    if value is None:
        return "new"
    if abs(value) < 0.05:
        return "0.0%"
    return f"{value:+.1f}%"


def pct(value: float | None, decimals: int = 0) -> str:
    return "—" if value is None else f"{value:.{decimals}f}%"


def change_colour(value: float | None) -> str:
    """Spend going up is the thing to look at (red); going down is good news (green)."""
    if value is None or abs(value) < 0.005:
        return "#374151"
    return "#b91c1c" if value > 0 else "#15803d"


def utc(moment: datetime) -> str:
    """Every time in the report is UTC, as its days are (the cost ledger's unit): one zone, said once."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def plural(count: int, noun: str) -> str:
    """`1 day`, `7 days`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _environment() -> Environment:
    # Imported here: `tenantops cost` and `plan` use this module's cell and number helpers, not templates.
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("tenantops.notify.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(utc=utc, plural=plural, days=days_words, usd=usd, signed_usd=signed_usd,
                       signed_pct=signed_pct, pct=pct, change_colour=change_colour)
    env.globals.update(STATUS_STYLE=STATUS_STYLE, SEVERITY_STYLE=SEVERITY_STYLE, CHART_TITLES=CHART_TITLES)
    return env


_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def subject(data: ReportData, prefix: str = "Cost report") -> str:
    """The report's title: the mail's subject, and the heading of its HTML and text."""
    if not data.has_data:
        return f"{prefix} {data.period}: no cost data"
    return (
        f"{prefix} {data.period}: {usd(data.total_usd)} "
        f"({signed_pct(data.change_percent)} vs previous {days_words(data.period_days)})"
    )


def render_html(data: ReportData, images: Mapping[str, str], title: str | None = None) -> str:
    """`images` maps chart name -> `src` (a `cid:` URL in mail, a file name on disk)."""
    return _env().get_template("report.html.j2").render(
        data=data, images=images, title=title or subject(data), BudgetStatus=BudgetStatus
    )


def render_text(data: ReportData, title: str | None = None) -> str:
    return _env().get_template("report.txt.j2").render(
        data=data, title=title or subject(data), BudgetStatus=BudgetStatus
    )


CSV_COLUMNS = (
    "tenant", "name", "tier", "cost_usd", "previous_usd", "change_usd", "change_percent", "share_percent",
    "days_known", "month_to_date_usd", "budget_usd", "forecast_usd", "forecast_low_usd", "forecast_high_usd",
    "budget_status", "savings_usd_month",
)


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would evaluate is prefixed with `'`; numbers are left as numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _num(value: float | None, decimals: int = 2) -> str:
    return "" if value is None else f"{value:.{decimals}f}"


def render_csv(data: ReportData) -> str:
    """The report's table, one row per tenant and unallocated bucket, plus a TOTAL row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in data.rows:
        b = row.budget
        writer.writerow([
            safe_cell(row.tenant), safe_cell(row.name), safe_cell(row.tier),
            _num(row.cost_usd), _num(row.previous_usd), _num(row.change_usd), _num(row.change_percent, 1),
            _num(row.share_percent, 1), row.days_known,
            _num(b.month_to_date_usd) if b else "", _num(b.budget_usd) if b else "",
            _num(b.forecast_usd) if b else "", _num(b.forecast_low_usd) if b else "",
            _num(b.forecast_high_usd) if b else "", str(b.status) if b else "",
            _num(row.savings_usd_month),
        ])
    label = "Total" if data.scope else "All tenants and unallocated costs"  # a tenant's own report: its total
    writer.writerow([
        "TOTAL", label, "", _num(data.total_usd), _num(data.previous_total_usd),
        _num(data.change_usd), _num(data.change_percent, 1), "100.0" if data.total_usd > 0 else "0.0",
        "", "", "", "", "", "", "", _num(data.total_savings_usd_month),
    ])
    return out.getvalue()
