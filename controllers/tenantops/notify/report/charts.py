"""The report's three charts as PNG bytes (matplotlib, Agg: no display, no fonts fetched, no files).

Sized for a 600-pixel mail column and drawn at twice that density so they stay sharp on high-DPI
screens; the `<img>` tags pin the display width. Colours repeat the HTML's palette so a chart and its
table read as one.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from tenantops.notify.report.model import BudgetStatus, ReportData

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_PX = 600
DPI = 200
BLUE = "#2563eb"
GREY = "#9ca3af"
RED = "#dc2626"
AMBER = "#d97706"
GREEN = "#16a34a"
INK = "#111827"
STATUS_COLOURS = {
    BudgetStatus.OVER: RED,
    BudgetStatus.AT_RISK: AMBER,
    BudgetStatus.WATCH: "#ca8a04",
    BudgetStatus.OK: GREEN,
    BudgetStatus.NO_DATA: GREY,
    BudgetStatus.NO_BUDGET: GREY,
}
TOP_N = 10


def _figure(height_px: int) -> tuple[Figure, Axes]:
    # matplotlib is imported when a chart is drawn, not with the report modules, which `tenantops cost`,
    # `report` and the controller import whether or not they draw one.
    import matplotlib
    from matplotlib.figure import Figure

    # Figures are made without pyplot, so no GUI backend is ever touched; Agg is set for anything that asks.
    matplotlib.use("Agg")
    fig = Figure(figsize=(WIDTH_PX / 100, height_px / 100), dpi=DPI)
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=INK, labelsize=7)
    for spine in ("left", "bottom"):
        ax.spines[spine].set_color(GREY)
    return fig, ax


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white",
                metadata={"Software": None})
    return buf.getvalue()


def _usd(value: float, top: float | None = None) -> str:
    """A money tick label with as many decimals as the axis needs: `$0.25` on a cents axis, `$1,400` on a
    thousands one, `$15k` beyond, so small spend never reads `$0` on every tick."""
    scale = abs(top) if top is not None else abs(value)
    if scale >= 10_000:
        thousands = value / 1000
        return f"${thousands:,.0f}k" if thousands == round(thousands) else f"${thousands:,.1f}k"
    if scale >= 20:
        return f"${value:,.0f}"
    if scale >= 2:
        return f"${value:,.1f}" if value != int(value) else f"${value:,.0f}"
    return f"${value:,.2f}"


def _money_axis(axis: Any) -> None:
    """Format an axis in dollars, with decimals chosen from its current extent (see `_usd`)."""

    def fmt(value: float, _pos: int | None) -> str:
        low, high = axis.get_view_interval()
        return _usd(value, max(abs(low), abs(high)))

    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(fmt))


def spend_trend(data: ReportData) -> bytes:
    """Daily total spend this period, with the previous period drawn behind it day for day."""
    return _png(spend_trend_figure(data))


def whose(data: ReportData) -> str:
    """Whose spend the charts show: the fleet's, or the names of the tenants a tenant's own report is for
    (a budget mail goes to the tenant's contacts, who must not read their chart as the fleet's)."""
    if not data.scope:
        return "all tenants"
    return ", ".join(chart_label(r.name) for r in data.tenant_rows) or ", ".join(data.scope)


def spend_trend_figure(data: ReportData) -> Figure:
    """The figure `spend_trend` draws."""
    fig, ax = _figure(220)
    xs = list(range(len(data.daily)))
    labels = [d.day.strftime("%a %d") if data.period_days <= 14 else d.day.strftime("%d %b") for d in data.daily]
    prev = [d.usd for d in data.previous_daily]
    cur = [d.usd for d in data.daily]
    ax.plot(xs[: len(prev)], [float("nan") if v is None else v for v in prev], color=GREY, linestyle="--",
            linewidth=1.2, marker="o", markersize=2.5, label="previous period")
    ax.plot(xs, [float("nan") if v is None else v for v in cur], color=BLUE, linewidth=2, marker="o",
            markersize=3, label="this period")
    step = max(1, len(xs) // 10)
    ax.set_xticks(xs[::step], labels[::step])
    _money_axis(ax.yaxis)
    known = [v for v in cur + prev if v is not None]
    # Headroom above the highest point, so a flat week is not drawn on the frame's top edge.
    ax.set_ylim(0, max(known) * 1.15 if known and max(known) > 0 else 1)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    ax.set_title(f"Daily cost to serve, {whose(data)}", fontsize=9, color=INK, loc="left")
    return fig


def top_tenants(data: ReportData) -> bytes:
    """The tenants that cost the most this period, with last period's figure as a tick for comparison."""
    return _png(top_tenants_figure(data))


def top_tenants_figure(data: ReportData) -> Figure:
    """The figure `top_tenants` draws."""
    rows = [r for r in data.tenant_rows if r.cost_usd > 0][:TOP_N]
    fig, ax = _figure(40 + 22 * max(1, len(rows)))
    names = [chart_label(r.name) for r in rows][::-1]
    ys = list(range(len(rows)))
    ax.barh(ys, [r.cost_usd for r in rows][::-1], color=BLUE, height=0.6, label="this period")
    ax.scatter([r.previous_usd for r in rows][::-1], ys, marker="|", s=120, color=INK, linewidths=1.5,
               label="previous period", zorder=3)
    ax.set_yticks(ys, names)
    _money_axis(ax.xaxis)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.6)
    ax.set_axisbelow(True)
    if rows:
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    title = (f"Top {len(rows)} tenants by cost this period" if not data.scope
             else f"Cost this period against the previous one, {whose(data)}")
    ax.set_title(title, fontsize=9, color=INK, loc="left")
    return fig


def budget_burn(data: ReportData) -> bytes:
    """Month-to-date and forecast as a share of each tenant's budget, worst first; the line is 100%."""
    rows = list(data.budget_rows[:TOP_N])
    fig, ax = _figure(40 + 22 * max(1, len(rows)))
    ys = list(range(len(rows)))[::-1]
    for y, row in zip(ys, rows, strict=True):
        budget = row.budget
        assert budget is not None
        colour = STATUS_COLOURS[budget.status]
        ax.barh(y, budget.forecast_percent or 0.0, color=colour, alpha=0.25, height=0.6)
        ax.barh(y, budget.month_to_date_percent or 0.0, color=colour, height=0.6)
        ax.text((budget.forecast_percent or 0.0) + 2, y, f"{budget.forecast_percent or 0:.0f}%", va="center",
                fontsize=6.5, color=INK)
    ax.axvline(100, color=INK, linewidth=1)
    ax.set_yticks(ys, [chart_label(r.name) for r in rows])
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:.0f}%")
    top = max([100.0, *[(r.budget.forecast_percent or 0.0) for r in rows if r.budget]])
    ax.set_xlim(0, top * 1.15)
    ax.set_title("Budget: month to date (solid) and forecast (light), % of monthly budget", fontsize=9,
                 color=INK, loc="left")
    return _png(fig)


def chart_label(name: str, limit: int = 24) -> str:
    """A name as a chart draws it: cut to one short line, and a `$` drawn as itself (matplotlib reads text
    between two `$` as mathtext, so "from $1k to $3k" would lose both signs and be set in italics). Every
    operator- or tenant-written name on a chart goes through here."""
    name = name.replace("$", r"\$")
    return name if len(name) <= limit else name[: limit - 1] + "…"


def render_charts(data: ReportData) -> dict[str, bytes]:
    """Chart name -> PNG; names double as file stems and Content-ID local parts."""
    charts = {"spend-trend": spend_trend(data), "top-tenants": top_tenants(data), "budget-burn": budget_burn(data)}
    if data.capacity is not None:
        from tenantops.notify.report.capacity import capacity_chart

        charts["capacity"] = capacity_chart(data.capacity)
    return charts
