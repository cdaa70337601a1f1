"""`tenantops cost`: what each tenant cost to serve over a window, where its month is heading, open alerts.

Reads the controller's state store (the cost decider's ledger); `--reconcile` also asks AWS Cost Explorer
for the billed cost by the `tenant` tag and shows the difference from the estimate.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from tenantops.cli.options import STATE_HELP, config_options, echo_json, load, require_state, settings_from
from tenantops.config import Config
from tenantops.decide.cost.ledger import Ledger
from tenantops.notify.report.render import safe_cell
from tenantops.record.database import database_url

_WINDOW = re.compile(r"^([1-9][0-9]{0,3})d$")


def parse_window(value: str) -> int:
    """`30d` -> 30 (days); whole days only, since spend is kept per UTC day."""
    match = _WINDOW.match(value.strip())
    if not match:
        raise click.BadParameter(f"{value!r} is not a number of days such as 7d or 30d", param_hint="--window")
    return int(match.group(1))


def cost_rows(state: Mapping[str, Any], config: Config, now: datetime, days: int,
              tenant: str | None = None) -> list[dict[str, Any]]:
    """One row per tenant (and the idle/shared buckets): window total, month to date, budget and forecast."""
    ledger = Ledger(state)
    end = now.date() + timedelta(days=1)
    start = end - timedelta(days=days)
    totals = ledger.totals(start, end, include_buckets=True)
    previous = ledger.totals(start - timedelta(days=days), start, include_buckets=True)
    alerts: dict[str, int] = {}
    for record in ledger.open_alerts():
        if record.tenant:
            alerts[record.tenant] = alerts.get(record.tenant, 0) + 1
    names = sorted(set(totals) | {t.id for t in config.tenants})
    rows = []
    for name in names:
        if tenant is not None and name != tenant:
            continue
        known = config.by_id.get(name)
        budget = known.budget_usd_month if known else 0.0
        fc = ledger.budget(name, budget, now)
        rows.append({
            "tenant": name,
            "window_days": days,
            "window_usd": round(totals.get(name, 0.0), 2),
            "previous_window_usd": round(previous.get(name, 0.0), 2),
            "month_to_date_usd": round(fc.month_to_date, 2),
            "budget_usd": budget,
            "forecast_usd": round(fc.forecast, 2),
            "forecast_low_usd": round(fc.low, 2),
            "forecast_high_usd": round(fc.high, 2),
            "burn_rate": round(fc.burn_rate, 3) if fc.burn_rate is not None else None,
            "forecast_method": fc.method,
            "open_alerts": alerts.get(name, 0),
            "in_catalog": known is not None,
        })
    return rows


def read_state(path: str) -> dict[str, Any]:
    """The cost decider's state from the controller's state store (empty when there is none yet)."""
    from tenantops.record.database import may_exist
    from tenantops.record.store import StateStore

    if path != ":memory:" and not may_exist(path):
        return {}

    with StateStore(path, read_only=path != ":memory:") as store:
        from tenantops.decide import alerts
        from tenantops.decide.cost.ledger import ALERTS_KEY

        # Open alerts live in the lifecycle's own namespace; the ledger reads them in the cost state's slot.
        return {**dict(store.state("cost")), ALERTS_KEY: dict(store.state(alerts.STATE))}


@click.command("cost")
@config_options
@click.option("--tenant", default=None, help="Only this tenant.")
@click.option("--window", default="30d", show_default=True, help="Window in days, e.g. 7d or 30d.")
@click.option("--state", default=None, help=f"SQLite state file of the controller. {STATE_HELP}")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--reconcile", is_flag=True,
              help="Compare with billed cost from AWS Cost Explorer (tag `tenant`, of the catalogue's environment). "
                   "Env: TENANTOPS_AWS_ENDPOINT_URL.")
@click.pass_context
def command(ctx: click.Context, catalog: str | None, policies: str | None, tenant: str | None, window: str,
            state: str | None, as_json: bool, as_csv: bool, reconcile: bool) -> None:
    """Cost to serve per tenant over --window, month to date, forecast to month end vs budget, open alerts."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    days = parse_window(window)
    settings = settings_from(ctx, catalog=catalog, policies=policies, state=state)
    require_state(settings)
    config = load(settings)
    if tenant is not None and tenant not in config.by_id:
        raise click.BadParameter(f"unknown tenant {tenant!r}", param_hint="--tenant")
    now = datetime.now(UTC)
    rows = cost_rows(read_state(database_url(settings)), config, now, days, tenant)
    recon: list[dict[str, Any]] = []
    if reconcile:
        from tenantops.observe.cost_explorer import CostExplorerSource
        from tenantops.observe.cost_explorer import reconcile as compare

        start = now.date() - timedelta(days=days - 1)
        actual = CostExplorerSource.from_settings(settings).actual_by_tenant(
            start, now.date() + timedelta(days=1), environment=config.catalog.environment)
        recon = [r.to_json() for r in compare({r["tenant"]: r["window_usd"] for r in rows}, actual)]
    if as_json:
        scope = {"reconciled_environment": config.catalog.environment} if reconcile else {}
        echo_json({"window_days": days, "as_of": now.isoformat(), "tenants": rows, "reconciliation": recon, **scope})
        return
    if as_csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["tenant"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: safe_cell(v) for k, v in row.items()})
        click.echo(buf.getvalue(), nl=False)
        return
    click.echo(f"{'tenant':<22}{'window $':>11}{'prev $':>11}{'MTD $':>11}{'budget $':>10}{'forecast $ (80%)':>30}"
               f"{'burn':>7}{'alerts':>7}")
    for r in rows:
        band = f"{r['forecast_usd']:,.2f} ({r['forecast_low_usd']:,.0f}-{r['forecast_high_usd']:,.0f})"
        burn = f"{r['burn_rate']:.2f}" if r["burn_rate"] is not None else "-"
        click.echo(f"{r['tenant']:<22}{r['window_usd']:>11,.2f}{r['previous_window_usd']:>11,.2f}"
                   f"{r['month_to_date_usd']:>11,.2f}{r['budget_usd']:>10,.0f}{band:>30}{burn:>7}{r['open_alerts']:>7}")
    if reconcile:
        click.echo(f"reconciled with billed cost tagged environment={config.catalog.environment}")
    for r in recon:
        click.echo(f"reconcile {r['tenant']:<22} estimate {r['estimate_usd']:>10,.2f}  billed {r['actual_usd']:>10,.2f}"
                   f"  difference {r['difference_usd']:>+10,.2f}")
