"""The capacity plan's charts (PNG bytes, matplotlib Agg): the fleet's monthly forecast with its band and
the cost-to-serve curve. Used by `tenantops plan --output` and the weekly report's capacity section."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from tenantops.decide.capacity.plan import CapacityPlan
from tenantops.notify.report.charts import chart_label
from tenantops.notify.report.model import CapacitySummary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BLUE = "#2563eb"
GREY = "#9ca3af"
INK = "#111827"
COLOURS = {"pooled": "#2563eb", "idle": "#9ca3af", "shared": "#d97706", "silo": "#16a34a"}


def money(value: float, _pos: object = None) -> str:
    """Axis labels that stay readable from cents to millions."""
    v = abs(value)
    if v >= 1e6:
        return f"${value / 1e6:,.1f}M"
    if v >= 1e4:
        return f"${value / 1e3:,.0f}k"
    if v >= 100:
        return f"${value:,.0f}"
    if v >= 1:
        return f"${value:,.2f}".rstrip("0").rstrip(".")
    return f"${value:.2f}"


def summarise(plan: CapacityPlan) -> CapacitySummary:
    """What the weekly report shows of a capacity plan."""
    lines = tuple(f"{c.region} {c.instance_type}: commit {c.units:g} for {c.term_years} year(s) "
                  f"(${c.hourly_commitment_usd:,.3f}/h), saves about ${c.expected_saving_usd_month:,.0f} a month"
                  for c in plan.commitments if c.units > 0)
    parts = tuple((name, tuple(p.per_customer_usd[name] for p in plan.curve.points)) for name in COLOURS)
    return CapacitySummary(
        plan.months, plan.fleet.point, plan.fleet.low, plan.fleet.high, plan.curve.summary,
        tuple((p.customers, p.total_per_customer_usd) for p in plan.curve.points), parts, lines,
        round(sum(c.expected_saving_usd_month for c in plan.commitments if c.units > 0), 2),
    )


def plan_chart(plan: CapacityPlan) -> bytes:
    return capacity_chart(summarise(plan), tuple((r.name, r.fleet.point) for r in plan.scenarios))


def capacity_chart(summary: CapacitySummary, scenarios: tuple[tuple[str, tuple[float, ...]], ...] = ()) -> bytes:
    """The fleet's monthly forecast with its 80% band (and scenarios), above the cost-to-serve curve."""
    fig = capacity_figure(summary, scenarios)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def capacity_figure(summary: CapacitySummary, scenarios: tuple[tuple[str, tuple[float, ...]], ...] = ()) -> Figure:
    """The figure `capacity_chart` draws (scenario names are the operator's: `charts.chart_label`)."""
    import matplotlib  # imported when the chart is drawn: `summarise` is used by reports without charts
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    matplotlib.use("Agg")
    fig = Figure(figsize=(6.0, 5.2), dpi=200)
    top, bottom = fig.subplots(2, 1)
    x = list(range(len(summary.months)))
    top.fill_between(x, summary.low_usd, summary.high_usd, color=BLUE, alpha=0.18, linewidth=0,
                     label="80% interval")
    top.plot(x, summary.point_usd, color=BLUE, marker="o", linewidth=1.5, label="fleet forecast")
    for name, points in scenarios:
        top.plot(x, points, linestyle="--", linewidth=1, label=chart_label(name, 40))
    top.set_xticks(x, list(summary.months), fontsize=7)
    top.yaxis.set_major_formatter(FuncFormatter(money))
    top.tick_params(labelsize=7, colors=INK)
    top.set_title("Monthly cost forecast (UTC months)", fontsize=9, loc="left")
    top.legend(fontsize=6, frameon=False)
    sizes = [c for c, _ in summary.curve]
    stacked = [0.0] * len(sizes)
    for component, values in summary.curve_parts:
        bottom.bar(range(len(sizes)), values, bottom=stacked, color=COLOURS.get(component, GREY), label=component,
                   width=0.6)
        stacked = [a + b for a, b in zip(stacked, values, strict=True)]
    bottom.set_xticks(range(len(sizes)), [f"{n:,}" for n in sizes], fontsize=7)
    bottom.yaxis.set_major_formatter(FuncFormatter(money))
    bottom.tick_params(labelsize=7, colors=INK)
    bottom.set_xlabel("customers", fontsize=7)
    bottom.set_title("Cost to serve one customer per month", fontsize=9, loc="left")
    bottom.legend(fontsize=6, frameon=False, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.28))
    for ax in (top, bottom):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig
