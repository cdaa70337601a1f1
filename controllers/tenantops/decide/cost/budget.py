"""Budget alerts from a tenant's month: thresholds on actual and on forecast spend (BudgetPolicy).

Only the highest threshold crossed fires; a lower one already fired stays quietly active, so crossing 100%
after 80% is one new alert, not two, and the 80% alert is not "resolved" by getting worse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tenantops.config.kinds.cost import BudgetSpec
from tenantops.decide.cost.forecast import MonthForecast
from tenantops.structs.plan import Alert, Severity

FORECAST_MIN_DAYS = 3  # a forecast from fewer closed days is too unsure to alert on


@dataclass(frozen=True, slots=True)
class BudgetVerdict:
    firing: tuple[Alert, ...]
    cleared: tuple[str, ...]


def budget_key(kind: str, tenant: str, month: str, threshold: float) -> str:
    return f"cost:budget:{kind}:{tenant}:{month}:{threshold:g}"


def month_before(month: str) -> str:
    """The UTC month before `month` (both "YYYY-MM")."""
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def _highest(value_percent: float | None, thresholds: Sequence[float]) -> tuple[float | None, list[float]]:
    crossed = sorted(t for t in thresholds if value_percent is not None and value_percent >= t)
    below = [t for t in thresholds if t not in crossed]
    return (crossed[-1] if crossed else None), below


def judged_forecast_percent(fc: MonthForecast) -> float | None:
    """The forecast as a share of the budget when it is sure enough to judge, else None.

    The one rule for the forecast thresholds: the alerts and the report's "at risk" (which mails the
    tenant's contacts) both read it, so neither speaks on a forecast the other finds too unsure."""
    if fc.days_known < FORECAST_MIN_DAYS:
        return None
    return fc.percent_of_budget(fc.forecast)


def judge_budget(tenant: str, name: str, month: str, fc: MonthForecast, policy: BudgetSpec) -> BudgetVerdict:
    """Alerts for one tenant's month; `cleared` lists threshold keys evaluated and not crossed.

    Keys are per month, so the month before's are cleared too: once it has closed there is nothing left to
    act on, and without this its alerts stayed open (in the report's "open now", re-sent to Alertmanager
    every pass) until the record expired. Clearing a key that is not open does nothing."""
    firing: list[Alert] = []
    previous = month_before(month)
    cleared: list[str] = [budget_key(kind, tenant, previous, t)
                          for kind, thresholds in (("actual", policy.actual_thresholds),
                                                   ("forecast", policy.forecast_thresholds))
                          for t in thresholds]
    if fc.budget <= 0:
        return BudgetVerdict((), tuple(cleared))
    actual_pct = fc.percent_of_budget(fc.month_to_date)
    top, below = _highest(actual_pct, policy.actual_thresholds)
    cleared += [budget_key("actual", tenant, month, t) for t in below]
    if top is not None and actual_pct is not None:
        over = fc.month_to_date - fc.budget
        firing.append(Alert(
            key=budget_key("actual", tenant, month, top), tenant=tenant,
            severity=Severity.CRITICAL if top >= 100 else Severity.WARNING, cause="budget-actual",
            summary=(f"{name} has spent ${fc.month_to_date:,.2f} in {month}, {actual_pct:.0f}% of its "
                     f"${fc.budget:,.2f} budget (threshold {top:g}%)"),
            suggested_action=(
                f"Review {tenant}'s scaling caps and right-sizing savings (tenantops rightsize --tenant {tenant}); "
                f"raise budget_usd_month in the catalogue if the growth is expected."),
            amount_usd=round(max(over, fc.month_to_date), 2),
            details={"month": month, "threshold_percent": top, "month_to_date_usd": round(fc.month_to_date, 2),
                     "budget_usd": fc.budget, "percent": round(actual_pct, 1)},
        ))
    fc_pct = judged_forecast_percent(fc)
    top, below = _highest(fc_pct, policy.forecast_thresholds)
    if fc_pct is not None:
        cleared += [budget_key("forecast", tenant, month, t) for t in below]
    if top is not None and fc_pct is not None:
        firing.append(Alert(
            key=budget_key("forecast", tenant, month, top), tenant=tenant, severity=Severity.WARNING,
            cause="budget-forecast",
            summary=(f"{name} is forecast to spend ${fc.forecast:,.2f} in {month} (80% interval "
                     f"${fc.low:,.2f}–${fc.high:,.2f}), {fc_pct:.0f}% of its ${fc.budget:,.2f} budget "
                     f"(threshold {top:g}%); burn rate {fc.burn_rate or 0:.2f}× the budget's pace"),
            suggested_action=(
                f"Act before month end: check {tenant}'s recent scale-ups (tenantops audit --tenant {tenant} "
                f"--since 7d) and right-sizing savings; cap its max_replicas or raise the budget."),
            amount_usd=round(fc.forecast - fc.budget, 2),
            details={"month": month, "threshold_percent": top, "forecast_usd": round(fc.forecast, 2),
                     "forecast_low_usd": round(fc.low, 2), "forecast_high_usd": round(fc.high, 2),
                     "budget_usd": fc.budget, "method": fc.method, "burn_rate": fc.burn_rate},
        ))
    return BudgetVerdict(tuple(firing), tuple(cleared))
