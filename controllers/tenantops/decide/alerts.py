"""Alert lifecycle: fire once, stay quiet while it holds, speak again only when it clears or gets worse.

People stop reading alerts that repeat. Each alert key has a record of when it first and last fired; an
alert still firing on later passes is deduplicated against it. It is sent again only when

- it cleared and came back (but not within `snooze_hours` of its last notification: flapping is one
  episode, not many),
- its severity rose (escalation), or it has been active for `escalate_after_hours` without clearing
  (escalated once, one severity up), or
- a person's snooze on it ran out.

Pure: records and `now` in, notifications and changed records out. Records are JSON for the state store.

`advance` is the engine's guard stage for alerts: every decider's raised alerts, whichever concern raised
them, go through it once per pass, so deduplication, snoozes, escalation and resolution are one rule. A
notification carries its episode (the time the episode began) and its transition, which is what keys its
mail in the outbox: ten passes of one condition are one episode, one mail, however often it is raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tenantops.config.loader import Config
from tenantops.structs.plan import Alert, Decision, Severity

log = logging.getLogger(__name__)

STATE = "alerts"
"""The state namespace of the alert lifecycle: one key per alert key, the value its `AlertRecord`."""

LEGACY_STATE = ("cost", "alerts")
"""Where records lived before the lifecycle covered every decider (one blob in the cost concern's state):
read once when `STATE` is empty, so an upgrade keeps open episodes instead of mailing them again."""

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Transition(StrEnum):
    FIRE = "fire"  # first notification of an episode
    ESCALATE = "escalate"  # more severe, or active too long
    RESOLVE = "resolve"  # the condition cleared


@dataclass(frozen=True, slots=True)
class Rules:
    """Per-alert timing, from the tenant's AlertPolicy."""

    snooze_hours: float = 24.0
    escalate_after_hours: float = 48.0


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """What is remembered about one alert key between passes."""

    key: str
    tenant: str | None
    severity: Severity
    cause: str
    summary: str
    amount_usd: float | None
    active: bool
    notified: bool  # whether the current/last episode was actually sent (snoozed episodes are not)
    first_fired: datetime  # start of the current (or last) episode
    last_fired: datetime | None  # last time a notification went out
    last_seen: datetime
    escalated: bool = False
    cleared_at: datetime | None = None
    snoozed_until: datetime | None = None
    fires: int = 0
    source: str = ""  # the decider that raised it: its absence from that decider's output clears it
    workload: str | None = None  # the workload it is about, if one (the resolve notice names it too)
    action: str = ""  # the suggested action of the last alert seen (the open alert posted again says it)

    def to_json(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "t": self.tenant, "sev": str(self.severity), "c": self.cause, "s": self.summary, "a": self.amount_usd,
            "act": self.active, "n": self.notified, "ff": iso(self.first_fired), "lf": iso(self.last_fired),
            "ls": iso(self.last_seen), "esc": self.escalated, "cl": iso(self.cleared_at),
            "sn": iso(self.snoozed_until), "k": self.fires, "src": self.source,
            "w": self.workload, "sa": self.action,
        }

    @staticmethod
    def from_json(key: str, raw: Mapping[str, Any]) -> AlertRecord:
        def dt(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        first = dt(raw.get("ff"))
        seen = dt(raw.get("ls"))
        if first is None or seen is None:
            raise ValueError(f"alert record {key!r} lacks its times")
        return AlertRecord(
            key, raw.get("t"), Severity(raw.get("sev", "warning")), str(raw.get("c", "")), str(raw.get("s", "")),
            raw.get("a"), bool(raw.get("act")), bool(raw.get("n")), first, dt(raw.get("lf")), seen,
            bool(raw.get("esc")), dt(raw.get("cl")), dt(raw.get("sn")), int(raw.get("k", 0)),
            str(raw.get("src", "")), raw.get("w"), str(raw.get("sa", "")),
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """An alert to send now, and why it is being sent."""

    alert: Alert
    transition: Transition
    first_fired: datetime


def _workload(alert: Alert) -> str | None:
    workload = alert.details.get("workload")
    return workload if isinstance(workload, str) else None


_ESCALATED = "Escalated: still active after {hours:g} h. "


def _escalated(alert: Alert, hours: float) -> Alert:
    severity = Severity.CRITICAL if alert.severity is not Severity.CRITICAL else alert.severity
    return replace(alert, severity=severity, summary=_ESCALATED.format(hours=hours) + alert.summary,
                   details={**alert.details, "escalated": True})


def _current_summary(rec: AlertRecord, alert: Alert, hours: float) -> str:
    """An open alert's text as of this pass: the condition's own words now (a forecast that has moved says
    its new figure), under the escalation's heading when the record was escalated for lasting too long.
    Nothing is sent for it; the report and the resolve message read the record."""
    prefix = _ESCALATED.format(hours=hours)
    return prefix + alert.summary if rec.escalated and rec.summary.startswith(prefix) else alert.summary


def step(
    records: Mapping[str, AlertRecord],
    firing: Sequence[Alert],
    cleared: Iterable[str],
    now: datetime,
    rules_for: Callable[[str | None], Rules],
    snoozed_until: Callable[[Alert], datetime | None] | None = None,
) -> tuple[list[Notification], dict[str, AlertRecord]]:
    """Advance every record by one pass.

    `firing` are the alerts whose condition holds now; `cleared` the keys evaluated this pass and found
    clear. Keys in neither were not evaluated (e.g. an hourly check between hours) and keep their state.
    `snoozed_until` gives a policy snooze for an alert (held back while `now` is before it).
    Returns the notifications to send and the records that changed.
    """
    out: list[Notification] = []
    changed: dict[str, AlertRecord] = {}
    seen_now: set[str] = set()
    for alert in firing:
        if alert.key in seen_now:
            continue  # the same condition reported twice in one pass is one alert
        seen_now.add(alert.key)
        rules = rules_for(alert.tenant)
        rec = records.get(alert.key)
        snoozed = rec is not None and rec.snoozed_until is not None and now < rec.snoozed_until
        policy_until = snoozed_until(alert) if snoozed_until is not None else None
        snoozed = snoozed or (policy_until is not None and now < policy_until)
        if rec is None or not rec.active:
            flapping = (
                rec is not None and rec.notified and rec.last_fired is not None
                and now - rec.last_fired < timedelta(hours=rules.snooze_hours)
                and _RANK[alert.severity] <= _RANK[rec.severity]
            )
            notify = not snoozed and not flapping
            first = rec.first_fired if flapping and rec is not None else now
            changed[alert.key] = AlertRecord(
                alert.key, alert.tenant, alert.severity, alert.cause, alert.summary, alert.amount_usd,
                active=True, notified=notify or bool(flapping), first_fired=first,
                last_fired=now if notify else (rec.last_fired if rec else None), last_seen=now,
                escalated=rec.escalated if flapping and rec is not None else False,
                snoozed_until=rec.snoozed_until if rec else None, fires=(rec.fires if rec else 0) + int(notify),
                source=rec.source if rec else "", workload=_workload(alert), action=alert.suggested_action,
            )
            if notify:
                out.append(Notification(alert, Transition.FIRE, now))
            continue
        if not rec.notified and not snoozed:  # held back by a snooze that has now ended
            out.append(Notification(alert, Transition.FIRE, rec.first_fired))
            changed[alert.key] = replace(
                rec, severity=alert.severity, summary=alert.summary, amount_usd=alert.amount_usd, notified=True,
                last_fired=now, last_seen=now, fires=rec.fires + 1, action=alert.suggested_action,
            )
            continue
        worse = _RANK[alert.severity] > _RANK[rec.severity]
        too_long = (
            not rec.escalated and rules.escalate_after_hours > 0
            and now - rec.first_fired >= timedelta(hours=rules.escalate_after_hours)
        )
        if (worse or too_long) and not snoozed:
            sent = alert if worse else _escalated(alert, rules.escalate_after_hours)
            out.append(Notification(sent, Transition.ESCALATE, rec.first_fired))
            changed[alert.key] = replace(
                rec, severity=sent.severity, summary=sent.summary, amount_usd=alert.amount_usd, notified=True,
                last_fired=now, last_seen=now, escalated=True, fires=rec.fires + 1, action=sent.suggested_action,
            )
        else:
            changed[alert.key] = replace(rec, last_seen=now, amount_usd=alert.amount_usd,
                                         summary=_current_summary(rec, alert, rules.escalate_after_hours),
                                         action=alert.suggested_action)
    for key in cleared:
        rec = records.get(key)
        if key in seen_now or rec is None or not rec.active:
            continue
        changed[key] = replace(rec, active=False, cleared_at=now, last_seen=now)
        if rec.notified:
            details: dict[str, Any] = {"resolved": True}
            if rec.workload:
                details["workload"] = rec.workload
            resolved = Alert(key, rec.tenant, rec.severity, rec.cause, f"Resolved: {rec.summary}",
                             "No action needed.", rec.amount_usd, details)
            out.append(Notification(resolved, Transition.RESOLVE, rec.first_fired))
    return out, changed


def snooze(record: AlertRecord, until: datetime) -> AlertRecord:
    """Silence one alert key until `until`; escalations are held back too. A past `until` lifts it."""
    return replace(record, snoozed_until=until)


def expired(records: Mapping[str, AlertRecord], now: datetime, keep_days: float = 40) -> list[str]:
    """Keys of records cleared (or unseen) for longer than `keep_days`: safe to forget."""
    limit = now - timedelta(days=keep_days)
    return [k for k, r in records.items() if (not r.active and (r.cleared_at or r.last_seen) < limit)
            or r.last_seen < limit]


@dataclass(frozen=True, slots=True)
class Raised:
    """What one decider raised in a pass.

    `cleared` None: the decider evaluates all its conditions every pass, so any alert it raised before and
    does not raise now has cleared. A tuple: only those keys were evaluated and found clear (a check that
    runs hourly says nothing between hours), and the decider's other open alerts keep their state.
    """

    source: str
    firing: Sequence[Alert]
    cleared: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The result of one pass's alert stage."""

    notifications: tuple[Alert, ...]  # what reaches the outbox and the push routes: one per transition
    active: tuple[Alert, ...]  # every alert open now, raised this pass or kept open, once each, but an episode
    # a snooze holds back (routes that want the active set: Alertmanager ends an alert not posted again)
    changes: Mapping[str, Any]  # `STATE` key -> record JSON, or None to forget it
    decisions: tuple[Decision, ...]  # one audit row per notification


def records_from_state(state: Mapping[str, Any]) -> dict[str, AlertRecord]:
    """The records in `STATE` (or a legacy blob of the same shape); an unreadable one is dropped, logged."""
    out: dict[str, AlertRecord] = {}
    for key, raw in state.items():
        if not isinstance(raw, Mapping):
            continue
        try:
            out[key] = AlertRecord.from_json(key, raw)
        except (ValueError, TypeError) as exc:
            log.warning("alert record %r unreadable (%s); its episode starts again", key, exc)
    return out


def _rules(config: Config) -> tuple[Callable[[str | None], Rules], Callable[[Alert], datetime | None]]:
    def rules_for(tenant: str | None) -> Rules:
        if tenant is None or tenant not in config.by_id:
            return Rules()
        spec = config.for_tenant(tenant).alerts
        return Rules(spec.snooze_hours, spec.escalate_after_hours)

    def snoozed_until(alert: Alert) -> datetime | None:
        if alert.tenant is None or alert.tenant not in config.by_id:
            return None
        times = [s.until for s in config.for_tenant(alert.tenant).alerts.snooze
                 if s.key == alert.key or s.cause == alert.cause]
        return max(times) if times else None

    return rules_for, snoozed_until


def advance(
    state: Mapping[str, Any],
    raised: Sequence[Raised],
    config: Config,
    now: datetime,
    tenants: Collection[str],
    legacy: Mapping[str, Any] | None = None,
) -> Lifecycle:
    """One pass of the lifecycle over every decider's alerts.

    `state` is the `STATE` namespace; `tenants` the tenants this pass covers (a sharded replica must not
    resolve another shard's alerts); `legacy` the pre-`STATE` records, read only while `state` is empty.
    Deciders that failed this pass are simply absent from `raised`: their open alerts keep their state.
    """
    records = records_from_state(state)
    migrated: dict[str, AlertRecord] = {}
    if not records and legacy:
        migrated = {k: (r if r.source else replace(r, source=LEGACY_STATE[0]))
                    for k, r in records_from_state(legacy).items()}
        records = dict(migrated)
    firing: list[Alert] = []
    source_of: dict[str, str] = {}
    cleared: list[str] = []
    for batch in raised:
        keys = set()
        for alert in batch.firing:
            if alert.key not in source_of:
                source_of[alert.key] = batch.source
                firing.append(alert)
            keys.add(alert.key)
        if batch.cleared is None:
            cleared += [k for k, r in records.items()
                        if r.active and r.source == batch.source and k not in keys
                        and (r.tenant is None or r.tenant in tenants)]
        else:
            cleared += list(batch.cleared)
    rules_for, snoozed_until = _rules(config)
    notes, changed = step(records, firing, cleared, now, rules_for, snoozed_until)
    for key, source in source_of.items():
        rec = changed.get(key)
        if rec is not None and rec.source != source:
            changed[key] = replace(rec, source=source)
    merged = {**records, **changed}
    forget = set(expired(merged, now))
    changes: dict[str, Any] = {k: r.to_json() for k, r in {**migrated, **changed}.items() if k not in forget}
    changes.update({k: None for k in forget})
    sent: list[Alert] = []
    decisions: list[Decision] = []
    for note in notes:
        alert = replace(note.alert, episode=note.first_fired.isoformat(), transition=str(note.transition))
        sent.append(alert)
        decisions.append(Decision(
            now, alert.tenant, _workload(alert), "alert", alert.cause,
            f"{note.transition}: {alert.summary}", new=str(alert.severity),
            inputs={"key": alert.key, "episode": alert.episode, "source": source_of.get(alert.key, ""),
                    "amount_usd": alert.amount_usd},
        ))
    held = [_open(r) for k, r in merged.items() if r.active and k not in source_of and k not in forget
            and (r.tenant is None or r.tenant in tenants)]
    # The active set is what the routes that want it are told is firing (Alertmanager): an episode held back
    # by a snooze was told to nobody, and posting it there would page through Alertmanager's own routes for
    # exactly what the snooze silences. It joins the set the pass its snooze ends and it fires.
    told = [a for a in (*firing, *held) if a.key not in merged or merged[a.key].notified]
    return Lifecycle(tuple(sent), tuple(told), changes, tuple(decisions))


def _open(record: AlertRecord) -> Alert:
    """An open alert not raised this pass (its decider failed, or did not evaluate it: an hourly check
    between hours), as its record has it: still firing for the routes that want the active set, which end
    an alert not posted again (Alertmanager)."""
    details: dict[str, Any] = {"workload": record.workload} if record.workload else {}
    return Alert(record.key, record.tenant, record.severity, record.cause, record.summary, record.action,
                 record.amount_usd, details)
