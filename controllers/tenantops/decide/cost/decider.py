"""`CostDecider`: each pass, charge the interval to tenants, close hours and days, judge them, and alert.

Per pass: allocate the cost of the time since the previous pass (capped by `max_pass_gap_seconds`,
`charge_window`) from the snapshot and the network egress read over that same interval; add it to each
tenant's accumulating hour; when an hour or a day closes, judge it for anomalies; at each day boundary
refit the tenant's month-end forecast; every pass, compare actual and forecast spend with the budget
thresholds. The alerts it raises (and the keys it evaluated clear) go to the
engine's alert lifecycle, which notifies each episode once. Pure: the pass time comes in as `inp.now`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tenantops.config.kinds.cost import AlertSpec
from tenantops.config.loader import Config
from tenantops.decide.base import DeciderOutput, JsonValue, PassInput
from tenantops.decide.cost.allocation import IDLE, SHARED, Allocation, TenantCost, allocate
from tenantops.decide.cost.anomaly import Verdict, daily_baseline, hourly_baseline, judge
from tenantops.decide.cost.budget import judge_budget
from tenantops.decide.cost.forecast import ForecastModel, fit, forecast_month
from tenantops.decide.cost.history import TenantSeries, hour_segments, hour_start
from tenantops.decide.cost.ledger import ALERTS_KEY, RUN_KEY, implausible_charge
from tenantops.decide.cost.money import to_usd
from tenantops.decide.cost.usage import network_usages, workload_usages
from tenantops.structs.cost_findings import CostFindings, PoolFinding, TenantFinding
from tenantops.structs.plan import Alert, Decision, Severity

log = logging.getLogger(__name__)

NO_NETWORK_READER = "this controller reads no network egress"


def charge_window(state: Mapping[str, JsonValue], now: datetime, config: Config) -> tuple[datetime, float]:
    """(start, seconds) of the interval a pass at `now` charges: since the previous pass the cost state
    records (the controller's interval at the first), never more than `max_pass_gap_seconds` (after an
    outage nothing is known of what ran). The network egress input is read over the same interval."""
    last_raw = (state.get(RUN_KEY) or {}).get("at")
    last = datetime.fromisoformat(last_raw) if last_raw else None
    gap = config.policies.controller.interval_seconds if last is None else (now - last).total_seconds()
    gap = max(0.0, min(gap, config.policies.allocation.max_pass_gap_seconds))
    return now - timedelta(seconds=gap), gap


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def anomaly_key(granularity: str, tenant: str) -> str:
    """One key per tenant and granularity: an anomaly lasting many hours is one episode, one alert."""
    return f"cost:anomaly:{granularity}:{tenant}"


@dataclass
class _Judged:
    firing: list[Alert]
    cleared: list[str]
    decisions: list[Decision]


def _top_workloads(cost: TenantCost | None, hours: float) -> list[tuple[str, float]]:
    if cost is None or hours <= 0:
        return []
    ranked = sorted(cost.workloads.items(), key=lambda kv: -kv[1])[:3]
    return [(w, to_usd(v) / hours) for w, v in ranked]


def _anomaly_alert(tenant: str, name: str, granularity: str, period: str, v: Verdict,
                   top: list[tuple[str, float]]) -> Alert:
    drivers = ", ".join(f"{w} ${rate:,.2f}/h" for w, rate in top) or "no workload data this pass"
    pct = "new spend" if v.impact_percent == float("inf") else f"+{v.impact_percent:.0f}%"
    return Alert(
        key=anomaly_key(granularity, tenant), tenant=tenant,
        severity=Severity.CRITICAL if v.impact_percent >= 100 else Severity.WARNING,
        cause=f"cost-anomaly-{granularity}",
        summary=(f"{name}: {granularity} spend for {period} was ${v.actual:,.2f}, ${v.impact_usd:,.2f} ({pct}) "
                 f"above the usual ${v.expected:,.2f} (modified z {v.z:.1f})"),
        suggested_action=(f"Check what changed for {tenant}: tenantops audit --tenant {tenant} --since 2d. "
                          f"Largest workloads now: {drivers}. If the increase is expected, snooze the alert "
                          f"or raise the budget."),
        amount_usd=round(v.impact_usd, 2),
        details={"granularity": granularity, "period": period, "actual_usd": round(v.actual, 2),
                 "expected_usd": round(v.expected, 2), "z": round(v.z, 2) if v.z != float("inf") else "inf",
                 "impact_percent": round(v.impact_percent, 1) if v.impact_percent != float("inf") else "inf",
                 "baseline_size": v.baseline_size},
    )


def _gates(policy: AlertSpec, granularity: str) -> dict[str, float]:
    scale = 24.0 if granularity == "hourly" else 1.0  # an hour must matter as much as a day would, per hour
    return {"z_threshold": policy.anomaly_z, "min_impact_usd": policy.min_impact_usd / scale,
            "min_impact_percent": policy.min_impact_percent}


def judge_closed(series: TenantSeries, closed_hours: list[int], closed_days: list[int], policy: AlertSpec,
                 name: str, top: list[tuple[str, float]]) -> _Judged:
    """Judge the newest closed hour and day of one tenant (older ones closed in a gap are not news)."""
    out = _Judged([], [], [])
    tenant = series.tenant
    if closed_hours:
        h = closed_hours[-1]
        index = h - series.hour0
        values = [None if v is None else to_usd(v) for v in series.hours]
        actual = values[index] if 0 <= index < len(values) else None
        if actual is not None:
            verdict = judge(actual, hourly_baseline(values, index, series.hour0), **_gates(policy, "hourly"))
            if verdict is not None:
                period = hour_start(h).strftime("%Y-%m-%d %H:00 UTC")
                if verdict.anomalous:
                    out.firing.append(_anomaly_alert(tenant, name, "hourly", period, verdict, top))
                else:
                    out.cleared.append(anomaly_key("hourly", tenant))
    if closed_days:
        d = closed_days[-1]
        index = d - series.day0
        values = [None if v is None else to_usd(v) for v in series.day_rates()]  # days seen in part, scaled
        actual = values[index] if 0 <= index < len(values) else None
        if actual is not None:
            verdict = judge(actual, daily_baseline(values, index), **_gates(policy, "daily"))
            if verdict is not None:
                day = date.fromordinal(d)
                period = f"{day.isoformat()} ({_WEEKDAYS[day.weekday()]})"
                if verdict.anomalous:
                    out.firing.append(_anomaly_alert(tenant, name, "daily", period, verdict, top))
                else:
                    out.cleared.append(anomaly_key("daily", tenant))
    return out


def refit(series: TenantSeries) -> None:
    """Refit the month-end forecast on the closed days (called when a day closes), each as a whole day's
    spend (`TenantSeries.day_rates`)."""
    days = [(date.fromordinal(series.day0 + i), None if v is None else to_usd(v))
            for i, v in enumerate(series.day_rates())]
    series.model = fit(days).to_json()


class CostDecider:
    """Cost-to-serve, budgets, anomalies and cost alerts (see the module docstring)."""

    name = "cost"

    def decide(self, inp: PassInput, state: Mapping[str, JsonValue]) -> DeciderOutput:
        now, config = inp.now, inp.config
        rules = config.policies.allocation
        start, gap = charge_window(state, now, config)
        alloc = allocate(workload_usages(inp.snapshot, config), config.policies.pricing, rules, gap / 3600,
                         [t.id for t in config.tenants], network_usages(inp.network, config))
        # Warn when an allocation problem appears, not on every pass while it lasts.
        previous = state.get(RUN_KEY) or {}
        seen_before = set(previous.get("issues") or ())
        for issue in alloc.issues:
            (log.debug if issue in seen_before else log.warning)("cost allocation: %s", issue)
        unmeasured = _network_unmeasured(inp, previous.get("network"))
        new_state: dict[str, JsonValue] = {RUN_KEY: {"at": now.isoformat(), "issues": list(alloc.issues),
                                                     "network": unmeasured}}
        firing: list[Alert] = []
        cleared: list[str] = []
        decisions: list[Decision] = []
        tenant_findings: dict[str, TenantFinding] = {}
        month = f"{now.year:04d}-{now.month:02d}"
        segments = hour_segments(start, now)
        for tenant in config.tenants:
            cost = alloc.tenants.get(tenant.id) or TenantCost(tenant.id)
            series = TenantSeries.from_state(tenant.id, state)
            refused = implausible_charge(cost.components(), alloc.hours)
            if refused is not None:  # the ledger keeps no implausible money; the pass says so
                log.warning("cost of %s not recorded: %s", tenant.id, refused)
                decisions.append(Decision(now, tenant.id, None, "cost", "cost.refused",
                                          f"{tenant.id} cost not recorded: {refused}"))
                cost = TenantCost(tenant.id, estimated=True)
            closed_h, closed_d = series.add(start, now, cost.components(), segments)
            if closed_d:
                refit(series)
                for d in closed_d:
                    value = series.day_value(d)
                    decisions.append(Decision(now, tenant.id, None, "cost", "cost.daily",
                                              f"{tenant.id} cost ${to_usd(value or 0):,.2f} on "
                                              f"{date.fromordinal(d).isoformat()}",
                                              new=to_usd(value or 0), inputs={"day": date.fromordinal(d).isoformat()}))
            policies = config.for_tenant(tenant)
            if closed_h or closed_d:
                judged = judge_closed(series, closed_h, closed_d, policies.alerts, tenant.display_name,
                                      _top_workloads(cost, alloc.hours))
                firing += judged.firing
                cleared += judged.cleared
            rate = to_usd(cost.total) / alloc.hours if alloc.hours > 0 else None
            fc = forecast_month(ForecastModel.from_json(series.model), to_usd(series.month_to_date_at(now)),
                                to_usd(series.today_at(now)), now, tenant.budget_usd_month, rate)
            verdict = judge_budget(tenant.id, tenant.display_name, month, fc, policies.budget)
            firing += verdict.firing
            cleared += verdict.cleared
            new_state.update(series.to_state())
            hours = alloc.hours
            tenant_findings[tenant.id] = TenantFinding(
                tenant=tenant.id, usd=to_usd(cost.total),
                usd_per_hour=round(to_usd(cost.total) / hours, 6) if hours > 0 else 0.0,
                components={k: to_usd(v) for k, v in cost.components().items()}, estimated=cost.estimated,
                today_usd=to_usd(series.today_at(now)), month=month, month_to_date_usd=fc.month_to_date,
                budget_usd=tenant.budget_usd_month, forecast_usd=round(fc.forecast, 2),
                forecast_low_usd=round(fc.low, 2), forecast_high_usd=round(fc.high, 2),
                burn_rate=round(fc.burn_rate, 3) if fc.burn_rate is not None else None,
                forecast_method=fc.method,
            )
        # Buckets hold only what was not spread onto tenants, so tenants + buckets add up to the total cost.
        for bucket, amount in ((IDLE, alloc.idle_bucket), (SHARED, alloc.shared_bucket)):
            series = TenantSeries.from_state(bucket, state)
            closed_h, closed_d = series.add(start, now, {"total": amount})
            if closed_d:
                refit(series)
            new_state.update(series.to_state())
        if ALERTS_KEY in state:  # records from before the engine's lifecycle: it has taken them over
            new_state[ALERTS_KEY] = None
        findings = self._findings(now, gap, alloc, tenant_findings, unmeasured)
        return DeciderOutput(alerts=tuple(firing), cleared=tuple(cleared), decisions=tuple(decisions),
                             findings=findings, state=new_state)

    @staticmethod
    def _findings(now: datetime, gap: float, alloc: Allocation, tenants: dict[str, TenantFinding],
                  network_unmeasured: str) -> CostFindings:
        pools = {r: PoolFinding(r, to_usd(p.asset), to_usd(p.workloads), to_usd(p.shared), to_usd(p.idle),
                                round(p.price_factor, 6), p.overcommitted) for r, p in alloc.pools.items()}
        return CostFindings(
            at=now.isoformat(), interval_seconds=gap, total_usd=to_usd(alloc.total), idle_usd=to_usd(alloc.idle_total),
            shared_usd=to_usd(alloc.shared_total), idle_bucket_usd=to_usd(alloc.idle_bucket),
            shared_bucket_usd=to_usd(alloc.shared_bucket), tenants=tenants, pools=pools, issues=alloc.issues,
            network_not_measured=network_unmeasured,
        )


def _network_unmeasured(inp: PassInput, before: JsonValue) -> str:
    """Why network transfer is not measured this pass ("" when it is), logged when that changes rather
    than every pass: a cluster without the daemonset is one warning, not one a pass. A read that failed
    was said where it failed (an unreachable Prometheus by the metrics source), so it is noted at INFO."""
    network = inp.network
    reason = NO_NETWORK_READER if network is None else ("" if network.measured else network.reason)
    if reason and reason != before:
        say = log.info if network is not None and network.failed else log.warning
        say("network transfer not measured (%s): tenants' costs include no network until it is", reason,
            extra={"event": "cost.network_unmeasured"})
    elif not reason and before:
        log.info("network transfer measured again (was: %s)", before, extra={"event": "cost.network_measured"})
    return reason
