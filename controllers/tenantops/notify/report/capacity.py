"""The capacity plan's charts (PNG bytes, matplotlib Agg): the fleet's monthly forecast with its band and
the cost-to-serve curve. Used by `tenantops plan --output` and the weekly report's capacity section."""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from tenantops.decide.capacity.plan import CapacityPlan

matplotlib.use("Agg")

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


def plan_chart(plan: CapacityPlan) -> bytes:
    fig = Figure(figsize=(6.0, 5.2), dpi=200)
    top, bottom = fig.subplots(2, 1)
    months = list(plan.months)
    x = list(range(len(months)))
    top.fill_between(x, plan.fleet.low, plan.fleet.high, color=BLUE, alpha=0.18, linewidth=0,
                     label="80% interval")
    top.plot(x, plan.fleet.point, color=BLUE, marker="o", linewidth=1.5, label="fleet forecast")
    for result in plan.scenarios:
        top.plot(x, result.fleet.point, linestyle="--", linewidth=1, label=result.name)
    top.set_xticks(x, months, fontsize=7)
    top.yaxis.set_major_formatter(FuncFormatter(money))
    top.tick_params(labelsize=7, colors=INK)
    top.set_title("Monthly cost forecast (UTC months)", fontsize=9, loc="left")
    top.legend(fontsize=6, frameon=False)
    sizes = [p.customers for p in plan.curve.points]
    bottom_acc = [0.0] * len(sizes)
    for component, colour in COLOURS.items():
        values = [p.per_customer_usd[component] for p in plan.curve.points]
        bottom.bar(range(len(sizes)), values, bottom=bottom_acc, color=colour, label=component, width=0.6)
        bottom_acc = [a + b for a, b in zip(bottom_acc, values, strict=True)]
    bottom.set_xticks(range(len(sizes)), [f"{s:,}" for s in sizes], fontsize=7)
    bottom.yaxis.set_major_formatter(FuncFormatter(money))
    bottom.tick_params(labelsize=7, colors=INK)
    bottom.set_xlabel("customers", fontsize=7)
    bottom.set_title("Cost to serve one customer per month", fontsize=9, loc="left")
    bottom.legend(fontsize=6, frameon=False, ncol=4)
    for ax in (top, bottom):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white", metadata={"Software": None})
    return buf.getvalue()
