"""Reading the cost decider's stored state: spend per tenant per day, month to date, budgets, alerts.

This is the API for reports and the CLI; the state layout itself is described in `history`. Pass the cost
decider's state mapping (state key -> JSON value, as the engine stores it) to `Ledger`:

    ledger = Ledger(state)
    ledger.tenants()                          # tenant ids with any history (buckets excluded)
    ledger.daily(start, end)                  # {tenant: {date: usd}}, end exclusive, today partial
    ledger.tenant_day_rates(tenant)           # {date: usd a day}: closed days, those seen in part scaled
    ledger.totals(start, end)                 # {tenant: usd} over [start, end)
    ledger.month_to_date()                    # {tenant: MonthToDate}, by component
    ledger.network_not_measured               # why the last pass had no network transfer ("" if it had)
    ledger.budget(tenant, budget_usd, now)    # MonthForecast: spend, forecast, interval, burn rate
    ledger.open_alerts()                      # active AlertRecords, newest first (from `alerts`)
    ledger.buckets                            # ("__idle__", "__shared__"), reported like tenants

All money is USD. Days are UTC dates; a day with no observation is absent (unknown), not 0. The buckets
hold idle and shared cost that was *not* spread onto tenants (rule `separate`, or no tenant to spread it
on), so the tenants' totals plus the buckets' are the whole cost, nothing counted twice; the parts that
were spread show in each tenant's `month_to_date()` components `idle` and `shared`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tenantops.decide.alerts import AlertRecord, records_from_state
from tenantops.decide.cost.allocation import IDLE, SHARED
from tenantops.decide.cost.forecast import ForecastModel, MonthForecast, forecast_month
from tenantops.decide.cost.history import TenantSeries, day_of_hour, hour_start
from tenantops.decide.cost.money import to_usd

RUN_KEY = "pass"
MAX_USD_PER_HOUR = 1_000_000.0
"""No tenant spends a million dollars an hour: a charge at that rate is a broken input (a 1e300 reading
that slipped past the observe step, an overflowing price), and the ledger refuses it rather than carry
it into every month-to-date, forecast, budget mail and report that reads the ledger afterwards."""
ALERTS_KEY = "alerts"
BUCKETS = (IDLE, SHARED)


@dataclass(frozen=True, slots=True)
class MonthToDate:
    """A tenant's spend in its current month, by component (cpu, memory, storage, instances, network, idle,
    shared); `network` is there only once a pass of the month measured it."""

    tenant: str
    month: str  # YYYY-MM
    total_usd: float
    components: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class HourlySpend:
    tenant: str
    hour: datetime  # start of the UTC hour
    usd: float


class Ledger:
    """Read-only view over the cost decider's state."""

    buckets = BUCKETS

    def __init__(self, state: Mapping[str, Any], alerts: Mapping[str, Any] | None = None) -> None:
        """`alerts` is the alert lifecycle's state namespace (`decide.alerts.STATE`); without it the
        records a cost state of an older version kept under its own `alerts` key are read."""
        self._state = state
        self._alerts = alerts
        self._series: dict[str, TenantSeries] = {}

    @property
    def last_pass(self) -> datetime | None:
        raw = self._state.get(RUN_KEY) or {}
        return datetime.fromisoformat(raw["at"]) if raw.get("at") else None

    @property
    def network_not_measured(self) -> str:
        """Why the last pass could not measure network transfer ("" when it did; a reason too for a ledger
        no pass of this version wrote)."""
        raw = self._state.get(RUN_KEY) or {}
        return str(raw.get("network", "no pass recorded network transfer"))

    def tenants(self, include_buckets: bool = False) -> list[str]:
        names = {k[2:] for k in self._state if k.startswith(("c/", "d/", "h/"))}
        if not include_buckets:
            names -= set(BUCKETS)
        return sorted(names)

    def series(self, tenant: str) -> TenantSeries:
        found = self._series.get(tenant)
        if found is None:
            found = self._series[tenant] = TenantSeries.from_state(tenant, self._state)
        return found

    def tenant_daily(self, tenant: str, start: date, end: date) -> dict[date, float]:
        """Known daily spend of one tenant in [start, end); the open day is included as spent so far."""
        s = self.series(tenant)
        out: dict[date, float] = {}
        for i, value in enumerate(s.days):
            d = date.fromordinal(s.day0 + i)
            if value is not None and start <= d < end:
                out[d] = to_usd(value)
        if s.cur_hour is not None:
            today = date.fromordinal(day_of_hour(s.cur_hour))
            if start <= today < end:
                out[today] = to_usd(s.today) + out.get(today, 0.0)
        return out

    def tenant_day_rates(self, tenant: str) -> dict[date, float]:
        """Closed days of one tenant as a whole day's spend, for forecasts (`TenantSeries.day_rates`): a
        day seen in part is scaled to the whole day, and left out when less than half of it was seen.
        Money spent is `tenant_daily`'s; this is the rate those days were spent at."""
        s = self.series(tenant)
        return {date.fromordinal(s.day0 + i): to_usd(v) for i, v in enumerate(s.day_rates()) if v is not None}

    def daily(self, start: date, end: date, include_buckets: bool = False) -> dict[str, dict[date, float]]:
        return {t: self.tenant_daily(t, start, end) for t in self.tenants(include_buckets)}

    def totals(self, start: date, end: date, include_buckets: bool = False) -> dict[str, float]:
        return {t: round(sum(days.values()), 6) for t, days in self.daily(start, end, include_buckets).items()}

    def hourly(self, tenant: str, since: datetime) -> list[HourlySpend]:
        """Closed hours (up to two weeks back) from `since`, then the open hour so far."""
        s = self.series(tenant)
        out = [HourlySpend(tenant, hour_start(s.hour0 + i), to_usd(v)) for i, v in enumerate(s.hours)
               if v is not None and hour_start(s.hour0 + i) >= since]
        if s.cur_hour is not None and hour_start(s.cur_hour) >= since:
            out.append(HourlySpend(tenant, hour_start(s.cur_hour), to_usd(s.cur_value)))
        return out

    def month_to_date(self, include_buckets: bool = False) -> dict[str, MonthToDate]:
        out = {}
        for t in self.tenants(include_buckets):
            s = self.series(t)
            out[t] = MonthToDate(t, s.month, to_usd(s.month_to_date), {k: to_usd(v) for k, v in s.mtd.items()})
        return out

    def budget(self, tenant: str, budget_usd: float, now: datetime) -> MonthForecast:
        """Month-to-date, forecast to month end with its 80% interval, and burn rate, as of `now`.

        Spend recorded for an earlier month than `now`'s counts as nothing spent yet this month.
        """
        s = self.series(tenant)
        mtd, today = to_usd(s.month_to_date_at(now)), to_usd(s.today_at(now))
        last_hour = next((v for v in reversed(s.hours) if v is not None), None)
        rate = to_usd(last_hour) if last_hour is not None else None
        return forecast_month(ForecastModel.from_json(s.model), mtd, today, now, budget_usd, rate)

    def open_alerts(self) -> list[AlertRecord]:
        records = self.alert_records()
        return sorted((r for r in records if r.active), key=lambda r: r.first_fired, reverse=True)

    def alert_records(self) -> list[AlertRecord]:
        raw = self._alerts if self._alerts is not None else (self._state.get(ALERTS_KEY) or {})
        return list(records_from_state(raw).values())


def implausible_charge(components: Mapping[str, int], hours: float) -> str | None:
    """Why the ledger refuses to record `components` (micro-dollars over `hours`), or None when it may.

    Every money figure downstream (month to date, forecasts, budgets, reports, alerts) is read from the
    ledger, so this is the one gate an implausible amount cannot pass: a negative part, or a total at
    more than `MAX_USD_PER_HOUR`.
    """
    negative = sorted(name for name, amount in components.items() if amount < 0)
    if negative:
        return f"negative cost for {', '.join(negative)}"
    total = to_usd(sum(components.values()))
    if total > MAX_USD_PER_HOUR * max(hours, 1 / 3600):
        return f"${total:,.2f} over {hours:.3f} h is beyond ${MAX_USD_PER_HOUR:,.0f} per hour"
    return None


def period(end: date, days: int) -> tuple[date, date]:
    """[start, end) of the `days` days before `end`: the window reports and `tenantops cost --window` use."""
    return end - timedelta(days=days), end
