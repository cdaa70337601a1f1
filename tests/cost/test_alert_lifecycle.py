"""Dedup, clear and refire, flapping, escalation and snooze of alerts (decide/alerts.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tenantops.decide.alerts import AlertRecord, Notification, Rules, Transition, expired, snooze, step
from tenantops.structs.plan import Alert, Severity

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
RULES = Rules(snooze_hours=6, escalate_after_hours=48)


def alert(key: str = "cost:anomaly:daily:acme", severity: Severity = Severity.WARNING) -> Alert:
    return Alert(key, "acme", severity, "cost-anomaly-daily", "spend up", "look", 120.0)


class Pager:
    """Runs passes the way the decider does, keeping records between them (through JSON, as stored)."""

    def __init__(self, rules: Rules = RULES) -> None:
        self.records: dict[str, AlertRecord] = {}
        self.rules = rules

    def run(self, at: datetime, firing: list[Alert], cleared: list[str] = ()) -> list[Notification]:  # type: ignore[assignment]
        notes, changed = step(self.records, firing, cleared, at, lambda _t: self.rules)
        for key, rec in changed.items():
            self.records[key] = AlertRecord.from_json(key, json.loads(json.dumps(rec.to_json())))
        return notes


def test_the_same_anomaly_alerts_once() -> None:
    p = Pager()
    sent = [n for h in range(24) for n in p.run(T0 + timedelta(hours=h), [alert()])]
    assert [n.transition for n in sent] == [Transition.FIRE]
    assert p.records["cost:anomaly:daily:acme"].fires == 1


def test_clears_then_refires_after_the_quiet_period() -> None:
    p = Pager()
    assert p.run(T0, [alert()])[0].transition is Transition.FIRE
    resolved = p.run(T0 + timedelta(hours=1), [], ["cost:anomaly:daily:acme"])
    assert [n.transition for n in resolved] == [Transition.RESOLVE]
    assert p.run(T0 + timedelta(hours=2), [alert()]) == []  # flapping inside snooze_hours: same episode
    p.run(T0 + timedelta(hours=3), [], ["cost:anomaly:daily:acme"])
    again = p.run(T0 + timedelta(hours=10), [alert()])
    assert [n.transition for n in again] == [Transition.FIRE]


def test_escalates_once_when_active_too_long() -> None:
    p = Pager()
    sent = [n for h in range(0, 100) for n in p.run(T0 + timedelta(hours=h), [alert()])]
    assert [n.transition for n in sent] == [Transition.FIRE, Transition.ESCALATE]
    escalation = sent[1]
    assert escalation.alert.severity is Severity.CRITICAL
    assert "Escalated" in escalation.alert.summary
    assert escalation.first_fired == T0


def test_higher_severity_escalates_immediately() -> None:
    p = Pager()
    p.run(T0, [alert()])
    sent = p.run(T0 + timedelta(minutes=5), [alert(severity=Severity.CRITICAL)])
    assert [n.transition for n in sent] == [Transition.ESCALATE]
    assert p.run(T0 + timedelta(minutes=10), [alert(severity=Severity.CRITICAL)]) == []


def test_snooze_holds_back_fire_and_escalation_until_it_ends() -> None:
    p = Pager()
    p.run(T0, [alert()])
    key = "cost:anomaly:daily:acme"
    p.records[key] = snooze(p.records[key], T0 + timedelta(hours=72))
    sent = [n for h in range(1, 72) for n in p.run(T0 + timedelta(hours=h), [alert()])]
    assert sent == []
    after = p.run(T0 + timedelta(hours=73), [alert()])
    assert [n.transition for n in after] == [Transition.ESCALATE]


def test_keys_not_evaluated_keep_their_state() -> None:
    p = Pager()
    p.run(T0, [alert()])
    assert p.run(T0 + timedelta(hours=1), []) == []
    assert p.records["cost:anomaly:daily:acme"].active


def test_duplicates_in_one_pass_are_one_alert() -> None:
    assert len(Pager().run(T0, [alert(), alert()])) == 1


def test_old_cleared_records_expire() -> None:
    p = Pager()
    p.run(T0, [alert()])
    p.run(T0 + timedelta(hours=1), [], ["cost:anomaly:daily:acme"])
    assert expired(p.records, T0 + timedelta(days=10)) == []
    assert expired(p.records, T0 + timedelta(days=50)) == ["cost:anomaly:daily:acme"]


@given(st.lists(st.sampled_from(["fire", "clear", "idle"]), min_size=1, max_size=120))
def test_notifications_never_exceed_episodes_plus_one_escalation_each(events: list[str]) -> None:
    p = Pager()
    fires = escalations = episodes = 0
    active = False
    for i, event in enumerate(events):
        at = T0 + timedelta(hours=i)
        if event == "fire":
            episodes += not active
            active = True
            notes = p.run(at, [alert()])
        elif event == "clear":
            active = False
            notes = p.run(at, [], ["cost:anomaly:daily:acme"])
        else:
            notes = p.run(at, [])
        fires += sum(n.transition is Transition.FIRE for n in notes)
        escalations += sum(n.transition is Transition.ESCALATE for n in notes)
    assert fires <= episodes
    assert escalations <= episodes
    if "fire" in events:
        assert fires >= 1


def test_policy_snooze_holds_a_new_alert_then_it_fires_once() -> None:
    p = Pager()
    until = T0 + timedelta(hours=5)

    def snoozed(a: Alert) -> datetime | None:
        return until if a.cause == "cost-anomaly-daily" else None

    sent = []
    for h in range(10):
        notes, changed = step(p.records, [alert()], [], T0 + timedelta(hours=h), lambda _t: RULES, snoozed)
        p.records.update(changed)
        sent += [(h, n.transition) for n in notes]
    assert sent == [(5, Transition.FIRE)]


def forecast(amount: float) -> Alert:
    return Alert("cost:budget-forecast:acme", "acme", Severity.WARNING, "budget-forecast",
                 f"Acme is forecast to spend ${amount:.2f}", "look", amount)


def test_an_open_alert_says_what_holds_now_without_sending_again() -> None:
    p = Pager()
    assert [n.transition for n in p.run(T0, [forecast(158.01)])] == [Transition.FIRE]
    assert p.run(T0 + timedelta(hours=1), [forecast(82.65)]) == []
    record = p.records["cost:budget-forecast:acme"]
    assert record.summary == "Acme is forecast to spend $82.65" and record.amount_usd == 82.65
    resolved = p.run(T0 + timedelta(hours=2), [], ["cost:budget-forecast:acme"])
    assert [n.alert.summary for n in resolved] == ["Resolved: Acme is forecast to spend $82.65"]


def test_an_escalated_alert_keeps_its_heading_and_severity_as_its_text_moves() -> None:
    p = Pager()
    for h in range(0, 50):
        p.run(T0 + timedelta(hours=h), [forecast(100.0)])
    assert p.records["cost:budget-forecast:acme"].escalated
    assert p.run(T0 + timedelta(hours=50), [forecast(90.0)]) == []
    record = p.records["cost:budget-forecast:acme"]
    assert record.summary == "Escalated: still active after 48 h. Acme is forecast to spend $90.00"
    assert record.severity is Severity.CRITICAL
