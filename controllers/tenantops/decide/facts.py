"""`FactsDecider`: the alerts for workloads whose facts do not add up (`Snapshot.holds`), one per cause.

The observe step decides what is a fact and which workloads are held (`tenantops.observe.facts`); this
pure decider says so to a person, once per workload and cause, and summarises when a cause strikes many
workloads at once: 5,000 new tenants whose exporters are not scraped yet, or a Prometheus answering NaN
for everything, is one alert naming the count and a sample, not thousands. A workload without metrics
is given a grace period (`failed_passes_before_alert` passes of the controller's interval) before it
counts, because a new tenant's first series arrive a scrape or two after its pods. The per-episode
lifecycle (dedup, snooze, escalate, resolve) applies to these alerts as to every other.

The pass's clock is a fact too: a controller whose clock differs from Prometheus' by more than the
ControllerPolicy's `clock_skew_tolerance_seconds` is one alert for the installation (`controller:clock-skew`),
raised every pass while the skew lasts, so it is one episode and resolves when the clocks agree again. It
does not hold anything: freshness is judged by Prometheus' clock (`observe.prometheus`), so the controller
keeps reading current data and scaling while a person fixes the time service.
"""

from __future__ import annotations

from collections.abc import Mapping

from tenantops.decide.base import DeciderOutput, JsonValue, PassInput
from tenantops.structs.findings import FactsFindings
from tenantops.structs.plan import Alert, Severity
from tenantops.structs.snapshot import Hold, SourceClock, WorkloadKey

CLOCK_SKEW_KEY = "controller:clock-skew"
SUMMARY_AFTER = 10  # more workloads than this with one cause: one summarised alert for the cause
SAMPLE = 20  # tenants named in a summary
ABSENT_KEY = "no-metrics"  # state: first time each workload was seen without metrics (epoch seconds)

CAUSES: Mapping[str, tuple[str, str]] = {
    "implausible": ("metrics-implausible",
                    "Check the exporter and the MetricsPolicy query; the workload is held until its values are sane."),
    "disagrees": ("replicas-disagree",
                  "Check kube-state-metrics (or the query's labels) for this workload; the live count is used and"
                  " the workload is held until both agree."),
    "no-metrics": ("metrics-absent",
                   "Check that the tenant's namespace is scraped and the MetricsPolicy queries match its series;"
                   " scale-down is frozen until they appear."),
}


NOTICE_ACTIONS: Mapping[str, str] = {
    "reload-held": "If the removal is intended, restart with --confirm-removals (or raise max_removed_share);"
                   " otherwise restore the catalogue. The last good configuration keeps running.",
    "removals-held": "If the removal is intended, run with --confirm-removals (or raise max_removed_share);"
                     " otherwise restore the catalogue. The missing tenants' queued mail and intents are kept.",
}


class FactsDecider:
    """Alerts from the pass's holds. State: when each workload was first seen without metrics."""

    name = "facts"

    def decide(self, inp: PassInput, state: Mapping[str, JsonValue]) -> DeciderOutput:
        snapshot, config, now = inp.snapshot, inp.config, inp.now
        raw = state.get(ABSENT_KEY)
        first_seen: dict[str, float] = dict(raw) if isinstance(raw, dict) else {}
        absent_now: dict[str, float] = {}
        ctl = config.policies.controller
        alerting: dict[str, list[tuple[WorkloadKey, Hold]]] = {}
        for key, hold in sorted(snapshot.holds.items()):
            if hold.cause == "recovering":  # an expected state after a gap, not a fault: no alert
                continue
            if hold.cause == "no-metrics":
                name = f"{key[0]}/{key[1]}"
                since = absent_now[name] = float(first_seen.get(name, now.timestamp()))
                tenant = config.by_id.get(key[0])
                passes = config.for_tenant(tenant).breakers.failed_passes_before_alert if tenant else 1
                if now.timestamp() - since < passes * ctl.interval_seconds:
                    continue
            alerting.setdefault(hold.cause, []).append((key, hold))
        alerts = [a for cause, held in sorted(alerting.items()) for a in _alerts(cause, held)]
        alerts += [Alert(f"controller:{cause}", None, Severity.CRITICAL, f"controller-{cause}", detail,
                         NOTICE_ACTIONS.get(cause, "See the controller's log."))
                   for cause, detail in inp.notices.items()]
        skew = clock_skew_alert(snapshot.clock, ctl.clock_skew_tolerance_seconds)
        if skew is not None:
            alerts.append(skew)
        changed: dict[str, JsonValue] = {}
        if absent_now != first_seen:
            changed[ABSENT_KEY] = absent_now or None
        return DeciderOutput(alerts=tuple(alerts), state=changed,
                             findings=FactsFindings({c: len(h) for c, h in alerting.items()}) if alerting else None)


def _alerts(cause: str, held: list[tuple[WorkloadKey, Hold]]) -> list[Alert]:
    alert_cause, action = CAUSES.get(cause, (f"facts-{cause}", "Check the workload's metrics."))
    if len(held) > SUMMARY_AFTER:
        tenants = sorted({key[0] for key, _ in held})
        sample = ", ".join(tenants[:SAMPLE]) + (f" and {len(tenants) - SAMPLE} more" if len(tenants) > SAMPLE else "")
        return [Alert(
            f"{alert_cause}:summary", None, Severity.WARNING, alert_cause,
            f"{len(held)} workloads of {len(tenants)} tenants: {held[0][1].detail.split(':')[0]} ({sample})",
            action, details={"workloads": len(held), "tenants": len(tenants), "sample": tenants[:SAMPLE],
                             "summarised": True},
        )]
    return [Alert(
        f"{alert_cause}:{key[0]}/{key[1]}", key[0], Severity.WARNING, alert_cause,
        f"{key[0]}/{key[1]}: {hold.detail}", action, details={"workload": key[1]},
    ) for key, hold in held]


def clock_skew_alert(clock: SourceClock | None, tolerance_seconds: float) -> Alert | None:
    """One alert while the controller's clock and the metrics source's differ by more than the tolerance.

    The key names no figure, so a skew that wobbles from pass to pass stays one episode; the summary says
    which way and by how much as first seen.
    """
    if clock is None or abs(clock.skew_seconds) <= tolerance_seconds:
        return None
    way = "ahead of" if clock.skew_seconds > 0 else "behind"
    measured = "" if clock.measured else " (as last measured; Prometheus' time could not be read this pass)"
    return Alert(
        CLOCK_SKEW_KEY, None, Severity.WARNING, "controller-clock-skew",
        f"the controller's clock is {abs(clock.skew_seconds):.0f}s {way} Prometheus'{measured}"
        f" (tolerance {tolerance_seconds:g}s); metrics are still judged by Prometheus' clock",
        "Fix the time service (chrony/NTP) of the controller's node or of Prometheus' host; the times the"
        " controller writes (audit, Lease renewals, mail) are off by the same amount until then.",
        details={"skew_seconds": clock.skew_seconds, "tolerance_seconds": tolerance_seconds},
    )
