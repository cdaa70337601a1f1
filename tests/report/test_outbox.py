"""The outbox: queued once, retried with backoff, sent once, failures surfaced. Time is passed in."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from tenantops.notify.outbox import (
    REPORT_REQUEST,
    DeliveryReport,
    Outbox,
    OutboxEntry,
    RetryPolicy,
    Status,
    message_id_for,
)
from tenantops.notify.transport import PermanentDeliveryError, TemporaryDeliveryError
from tenantops_lab.sandbox.smtp import SmtpServer

T0 = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


class ScriptedTransport:
    """A transport whose answers are scripted: 'ok', 'temp' or 'perm' per call, then 'ok'."""

    name = "scripted"

    def __init__(self, answers: Sequence[str] = ()) -> None:
        self.answers = list(answers)
        self.accepted: list[tuple[str, tuple[str, ...], bytes]] = []

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "temp":
            raise TemporaryDeliveryError("421 service not available", code=421)
        if answer == "perm":
            raise PermanentDeliveryError("550 mailbox unavailable", code=550)
        self.accepted.append((sender, tuple(recipients), message))


def make_message(subject: str = "Weekly cost report", to: str = "ops@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "tenantops@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("body")
    return msg


def metric(name: str, kind: str = "report") -> float:
    return REGISTRY.get_sample_value(name, {"kind": kind}) or 0.0


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "state" / "state.db")


def test_enqueue_is_idempotent_on_key(outbox: Outbox) -> None:
    assert outbox.enqueue("report", "report:2026-11-16", make_message(), now=T0) is True
    assert outbox.enqueue("report", "report:2026-11-16", make_message("other"), now=T0) is False
    entries = outbox.entries()
    assert len(entries) == 1
    assert b"Weekly cost report" in entries[0].message


def test_database_is_wal_and_own_table(outbox: Outbox) -> None:
    conn = sqlite3.connect(outbox.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert "outbox" in tables


def test_envelope_from_headers_and_stable_message_id(outbox: Outbox) -> None:
    msg = make_message(to="a@example.com, B <b@example.com>")
    msg["Bcc"] = "hidden@example.com"
    outbox.enqueue("report", "k1", msg, now=T0)
    entry = outbox.get("k1")
    assert entry is not None
    assert entry.sender == "tenantops@example.com"
    assert entry.recipients == ("a@example.com", "b@example.com", "hidden@example.com")
    assert b"hidden@example.com" not in entry.message  # Bcc is envelope-only
    assert message_id_for("k1").encode() in entry.message


def test_message_without_recipients_is_refused(outbox: Outbox) -> None:
    msg = EmailMessage()
    msg["From"] = "tenantops@example.com"
    msg.set_content("x")
    with pytest.raises(ValueError, match="no recipients"):
        outbox.enqueue("report", "k", msg, now=T0)


def test_delivers_once_and_marks_sent(outbox: Outbox) -> None:
    before = metric("tenantops_outbox_sent_total")
    outbox.enqueue("report", "k", make_message(), now=T0)
    transport = ScriptedTransport()
    report = outbox.deliver(transport, T0)
    assert report.sent == ["k"]
    again = outbox.deliver(transport, T0 + timedelta(days=1))
    assert again.sent == []
    assert len(transport.accepted) == 1
    entry = outbox.get("k")
    assert entry is not None and entry.status is Status.SENT and entry.sent_at == T0
    assert metric("tenantops_outbox_sent_total") == before + 1


def test_temporary_failure_backs_off_exponentially(tmp_path: Path) -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=10), max_attempts=50)
    outbox = Outbox(tmp_path / "s.db", retry=policy)
    outbox.enqueue("report", "k", make_message(), now=T0)
    transport = ScriptedTransport(["temp"] * 6)
    now = T0
    waits = []
    for _ in range(6):
        report = outbox.deliver(transport, now)
        assert report.retried == ["k"]
        entry = outbox.get("k")
        assert entry is not None and entry.status is Status.PENDING
        waits.append(entry.next_attempt_at - now)
        # Not due a moment before the backoff ends.
        assert outbox.deliver(transport, entry.next_attempt_at - timedelta(seconds=1)).retried == []
        now = entry.next_attempt_at
    assert [w.total_seconds() for w in waits] == [30, 60, 120, 240, 480, 600]
    assert outbox.deliver(transport, now).sent == ["k"]
    assert len(transport.accepted) == 1


def test_permanent_refusal_fails_at_once_with_alert_and_metric(outbox: Outbox) -> None:
    before = metric("tenantops_outbox_failed_total")
    outbox.enqueue("report", "k", make_message(), now=T0)
    report = outbox.deliver(ScriptedTransport(["perm"]), T0)
    assert report.failed == ["k"]
    assert len(report.alerts) == 1
    alert = report.alerts[0]
    assert alert.key == "outbox-failed:k"
    assert "550" in alert.summary and "ops@example.com" in alert.summary
    assert metric("tenantops_outbox_failed_total") == before + 1
    entry = outbox.get("k")
    assert entry is not None and entry.status is Status.FAILED
    # Kept, not deleted, and not retried.
    assert outbox.deliver(ScriptedTransport(), T0 + timedelta(days=1)).sent == []
    assert [a.key for a in outbox.failure_alerts()] == ["outbox-failed:k"]


def test_too_many_temporary_failures_become_permanent(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "s.db", retry=RetryPolicy(max_attempts=3))
    outbox.enqueue("alert", "a", make_message(), now=T0)
    transport = ScriptedTransport(["temp"] * 10)
    now = T0
    outcomes = []
    for _ in range(3):
        report = outbox.deliver(transport, now)
        outcomes.append((report.retried, report.failed))
        now += timedelta(days=1)
    assert outcomes == [(["a"], []), (["a"], []), ([], ["a"])]
    entry = outbox.get("a")
    assert entry is not None and entry.status is Status.FAILED and "gave up after 3" in (entry.last_error or "")


def test_crash_between_send_and_mark_resends_after_lease(tmp_path: Path) -> None:
    """A claim that never finished (process died mid-send) is resent once its lease runs out."""
    outbox = Outbox(tmp_path / "s.db", retry=RetryPolicy(lease=timedelta(minutes=5)))
    outbox.enqueue("report", "k", make_message(), now=T0)
    claimed, _ = outbox._claim(T0, 10)  # what deliver does first; the "crash" is simply not continuing
    assert [e.dedup_key for e in claimed] == ["k"]
    transport = ScriptedTransport()
    # Another deliverer during the lease must not send it too.
    assert outbox.deliver(transport, T0 + timedelta(minutes=4)).sent == []
    before = metric("tenantops_outbox_in_doubt_total")
    report = outbox.deliver(transport, T0 + timedelta(minutes=6))
    assert report.sent == ["k"] and report.in_doubt == ["k"]
    assert metric("tenantops_outbox_in_doubt_total") == before + 1
    assert message_id_for("k").encode() in transport.accepted[0][2]


class Crash(BaseException):
    """What a send that ends the process looks like from inside it: nothing below `deliver` catches it."""


class CrashingTransport(ScriptedTransport):
    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        self.accepted.append((sender, tuple(recipients), message))
        raise Crash("out of memory building the message")


def test_a_row_the_controller_stopped_in_twice_running_is_given_up_on_with_an_alert(tmp_path: Path) -> None:
    """A message whose sending ends the process was taken again after every lease, ended the controller
    each time (and its scaling with it), for ever: nothing was recorded to count. The first stop is
    resent as in doubt, as before; the second in a row is given up on, told, and never tried again."""
    outbox = Outbox(tmp_path / "s.db", retry=RetryPolicy(lease=timedelta(minutes=5)))
    outbox.enqueue("report", "k", make_message(), now=T0)
    crashing = CrashingTransport()
    with pytest.raises(Crash):
        outbox.deliver(crashing, T0)
    with pytest.raises(Crash):  # after the lease: in doubt, resent, and the process ends again
        outbox.deliver(crashing, T0 + timedelta(minutes=6))
    assert len(crashing.accepted) == 2
    report = outbox.deliver(crashing, T0 + timedelta(minutes=12))
    assert len(crashing.accepted) == 2 and report.failed == ["k"]
    [alert] = report.alerts
    assert alert.cause == "mail-delivery-failed" and "stopped while sending it twice running" in alert.summary
    assert outbox.get("k").status is Status.FAILED  # type: ignore[union-attr]
    assert outbox.deliver(crashing, T0 + timedelta(hours=1)) == DeliveryReport(alerts=report.alerts)


def test_one_stop_midway_then_a_send_that_ends_clears_the_mark(tmp_path: Path) -> None:
    """Only stops in a row count: a row resent after one stop, then failing for now and sent later after
    another stop, is still sent."""
    outbox = Outbox(tmp_path / "s.db", retry=RetryPolicy(lease=timedelta(minutes=5), base_delay=timedelta(minutes=1)))
    outbox.enqueue("report", "k", make_message(), now=T0)
    outbox._claim(T0, 1)  # stopped midway
    assert outbox.deliver(ScriptedTransport(["temp"]), T0 + timedelta(minutes=6)).retried == ["k"]  # due at +8
    claimed, _ = outbox._claim(T0 + timedelta(minutes=9), 1)  # stopped midway again, but not twice running
    assert [e.dedup_key for e in claimed] == ["k"]
    report = outbox.deliver(ScriptedTransport(), T0 + timedelta(minutes=15))
    assert report.sent == ["k"] and report.in_doubt == ["k"]


def test_a_job_runs_in_a_delivery_run_with_its_handler_and_is_left_alone_by_one_without(tmp_path: Path) -> None:
    """A job row (a report request) is never handed to a transport: a run without a handler for its kind
    leaves it pending; a run with one runs it, and what the handler queued is sent in the same run."""
    outbox = Outbox(tmp_path / "s.db")
    assert outbox.enqueue_job(REPORT_REQUEST, "job", b'{"what": "report"}', now=T0, recipients=["ops@example.com"])
    assert not outbox.enqueue_job(REPORT_REQUEST, "job", b"{}", now=T0)  # idempotent on its key
    transport = ScriptedTransport()
    assert outbox.deliver(transport, T0) == DeliveryReport()
    assert outbox.get("job").status is Status.PENDING and transport.accepted == []  # type: ignore[union-attr]

    ran: list[bytes] = []

    def handler(entry: OutboxEntry, at: datetime) -> None:
        ran.append(entry.message)
        outbox.enqueue("cost-report", "mail", make_message(), now=at)

    report = outbox.deliver(transport, T0 + timedelta(seconds=1), jobs={REPORT_REQUEST: handler})
    assert ran == [b'{"what": "report"}'] and report.done == ["job"] and report.sent == ["mail"]
    assert outbox.get("job").status is Status.DONE  # type: ignore[union-attr]
    assert outbox.deliver(transport, T0 + timedelta(hours=1), jobs={REPORT_REQUEST: handler}) == DeliveryReport()
    assert len(ran) == 1 and len(transport.accepted) == 1
    with pytest.raises(ValueError, match="not a job kind"):
        outbox.enqueue_job("cost-report", "x", b"", now=T0)


def test_a_job_that_keeps_failing_is_retried_then_given_up_on_with_an_alert(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "s.db", retry=RetryPolicy(max_attempts=3))
    outbox.enqueue_job(REPORT_REQUEST, "job", b"{}", now=T0, recipients=["ops@example.com"])

    def broken(entry: OutboxEntry, at: datetime) -> None:
        raise RuntimeError("template missing")

    now, outcomes = T0, []
    for _ in range(3):
        report = outbox.deliver(ScriptedTransport(), now, jobs={REPORT_REQUEST: broken})
        outcomes.append((report.retried, report.failed))
        now += timedelta(days=1)
    assert outcomes == [(["job"], []), (["job"], []), ([], ["job"])]
    [alert] = report.alerts
    assert alert.cause == "mail-delivery-failed" and "template missing" in alert.summary
    assert alert.details["kind"] == REPORT_REQUEST
    assert outbox.get("job").status is Status.FAILED  # type: ignore[union-attr]


def test_a_job_stopped_midway_runs_again_after_its_lease_and_is_not_in_doubt(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "s.db", retry=RetryPolicy(lease=timedelta(minutes=5)))
    outbox.enqueue_job(REPORT_REQUEST, "job", b"{}", now=T0)
    outbox._claim(T0, 10)  # claimed by a run that then stopped
    ran: list[datetime] = []
    jobs = {REPORT_REQUEST: lambda entry, at: ran.append(at)}
    assert outbox.deliver(ScriptedTransport(), T0 + timedelta(minutes=4), jobs=jobs).done == []
    before = metric("tenantops_outbox_in_doubt_total", REPORT_REQUEST)
    report = outbox.deliver(ScriptedTransport(), T0 + timedelta(minutes=6), jobs=jobs)
    assert report.done == ["job"] and report.in_doubt == [] and len(ran) == 1
    assert metric("tenantops_outbox_in_doubt_total", REPORT_REQUEST) == before


def test_two_outboxes_on_one_file_send_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first, second = Outbox(path), Outbox(path)
    for i in range(5):
        first.enqueue("report", f"k{i}", make_message(), now=T0)
        second.enqueue("report", f"k{i}", make_message(), now=T0)
    transport = ScriptedTransport()
    first.deliver(transport, T0)
    second.deliver(transport, T0)
    assert len(transport.accepted) == 5


def test_a_claim_late_in_a_long_run_gets_its_own_lease(tmp_path: Path) -> None:
    """A slow server makes one delivery run long; the messages claimed late in it carry leases from when
    they were claimed, so another replica, delivering meanwhile, does not take one still being sent for
    an abandoned claim and send it a second time."""
    import time

    lease = timedelta(seconds=1)
    path = tmp_path / "s.db"
    first, second = Outbox(path, retry=RetryPolicy(lease=lease)), Outbox(path, retry=RetryPolicy(lease=lease))
    for i in range(2):
        first.enqueue("report", f"k{i}", make_message(f"report {i}"), now=T0)
    other = ScriptedTransport()
    seen_by_other: list[list[str]] = []

    class SlowServer(ScriptedTransport):
        def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
            if len(self.accepted) == 1:  # the last message: the other replica's run comes meanwhile
                report = second.deliver(other, T0 + lease * 1.5)
                seen_by_other.append(report.sent + report.in_doubt)
            time.sleep(1.1)  # what a slow server takes per message
            super().send(sender, recipients, message)

    slow = SlowServer()
    assert first.deliver(slow, T0).sent == ["k0", "k1"]
    assert seen_by_other == [[]] and other.accepted == []  # k1 was being sent: not the other's to send
    assert [e.status for e in first.entries()] == [Status.SENT] * 2


def test_a_recipient_refused_for_now_gets_the_message_later_and_the_others_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A relay greylists one recipient (451 at RCPT TO) and takes the message for the others: the others
    have their copy once, and the greylisted one gets the same message at the next attempt. Before, the
    refusal was only logged and the row marked sent, so that recipient never had the report."""
    from tenantops.notify.mail import SmtpTransport

    outbox = Outbox(tmp_path / "s.db")
    message = make_message(to="ops@example.com, finance@example.com")
    outbox.enqueue("report", "k", message, now=T0)
    smtp_server.refuse_recipient("finance@example.com", "451 4.7.1 greylisted, try again later")
    transport = SmtpTransport(smtp_server.host, smtp_server.port)
    first = outbox.deliver(transport, T0)
    assert first.retried == ["k"] and first.sent == [] and first.alerts == []
    entry = outbox.get("k")
    assert entry is not None and entry.status is Status.PENDING and entry.recipients == ("finance@example.com",)
    assert "451" in (entry.last_error or "")
    again = outbox.deliver(transport, entry.next_attempt_at)
    assert again.sent == ["k"]
    received = smtp_server.wait_for(2)
    assert [m.rcpt_tos for m in received] == [("ops@example.com",), ("finance@example.com",)]
    assert {m.message["Message-ID"] for m in received} == {message_id_for("k")}


def test_a_recipient_refused_for_good_is_an_alert_and_the_others_have_it(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    from tenantops.notify.mail import SmtpTransport

    outbox = Outbox(tmp_path / "s.db")
    outbox.enqueue("report", "k", make_message(to="ops@example.com, nobody@example.com"), now=T0)
    smtp_server.refuse_recipient("nobody@example.com", "550 5.1.1 no such user")
    report = outbox.deliver(SmtpTransport(smtp_server.host, smtp_server.port), T0)
    assert report.sent == ["k"]
    (alert,) = report.alerts
    assert alert.cause == "mail-delivery-failed" and "nobody@example.com" in alert.summary and "550" in alert.summary
    assert "ops@example.com" not in alert.summary
    assert [m.rcpt_tos for m in smtp_server.wait_for(1)] == [("ops@example.com",)]
    assert outbox.deliver(SmtpTransport(smtp_server.host, smtp_server.port), T0 + timedelta(hours=1)).sent == []


def test_every_recipient_refused_some_only_for_now_goes_to_those_later(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """One recipient greylisted (451), the other unknown (550), nobody took it: the greylisted one still gets
    it at the next attempt and the unknown one is an alert. Before, the worst reply (550) failed the
    message for both."""
    from tenantops.notify.mail import SmtpTransport

    outbox = Outbox(tmp_path / "s.db")
    outbox.enqueue("report", "k", make_message(to="ops@example.com, nobody@example.com"), now=T0)
    smtp_server.refuse_recipient("ops@example.com", "451 4.7.1 greylisted, try again later")
    smtp_server.refuse_recipient("nobody@example.com", "550 5.1.1 no such user")
    transport = SmtpTransport(smtp_server.host, smtp_server.port)
    first = outbox.deliver(transport, T0)
    assert first.retried == ["k"] and first.failed == [] and smtp_server.received == []
    (alert,) = first.alerts
    assert "nobody@example.com" in alert.summary and "ops@example.com" not in alert.summary
    entry = outbox.get("k")
    assert entry is not None and entry.status is Status.PENDING and entry.recipients == ("ops@example.com",)
    assert outbox.deliver(transport, entry.next_attempt_at).sent == ["k"]
    assert [m.rcpt_tos for m in smtp_server.wait_for(1)] == [("ops@example.com",)]


def test_the_requeue_statement_deploy_readme_gives_sends_an_in_doubt_message_once_more(tmp_path: Path) -> None:
    """deploy/README.md tells an operator how to send a message kept `in_doubt` again; the statement is
    run here as written (the dedup key aside) against a real state file."""
    import re

    from tenantops.notify.transport import InDoubtDeliveryError

    readme = (Path(__file__).resolve().parents[2] / "deploy" / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\n    (UPDATE outbox SET .+?;)\n", readme, re.S)
    assert found is not None, "deploy/README.md no longer gives the requeue statement"
    statement = " ".join(found[1].split()).replace("'cost-report:2026-11-16T08:00:00+01:00'", "'k'")
    path = tmp_path / "s.db"
    outbox = Outbox(path)
    outbox.enqueue("report", "k", make_message(), now=T0)

    class LostReply(ScriptedTransport):
        def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
            raise InDoubtDeliveryError("the reply to DATA was lost")

    assert outbox.deliver(LostReply(), T0).in_doubt == ["k"]
    assert outbox.deliver(ScriptedTransport(), T0 + timedelta(hours=1)).sent == []
    with sqlite3.connect(path) as conn:
        assert conn.execute(statement).rowcount == 1
    transport = ScriptedTransport()
    assert outbox.deliver(transport, T0 + timedelta(hours=2)).sent == ["k"] and len(transport.accepted) == 1


def test_naive_time_is_refused(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        outbox.enqueue("report", "k", make_message(), now=datetime(2026, 1, 1))


@given(st.integers(min_value=1, max_value=200))
def test_backoff_is_monotonic_and_capped(attempts: int) -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=7), max_delay=timedelta(minutes=45))
    delay = policy.delay(attempts)
    assert timedelta(seconds=7) <= delay <= timedelta(minutes=45)
    assert policy.delay(attempts + 1) >= delay


@settings(deadline=None, max_examples=40)  # each example opens a real SQLite file; its fsyncs vary in time
@given(st.lists(st.sampled_from(["ok", "temp", "perm"]), max_size=30), st.integers(min_value=1, max_value=8))
def test_every_message_ends_sent_or_failed_never_lost_or_doubled(answers: list[str], n: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "s.db", retry=RetryPolicy(max_attempts=4))
        for i in range(n):
            outbox.enqueue("report", f"k{i}", make_message(f"s{i}"), now=T0)
        transport = ScriptedTransport(answers)
        now = T0
        for _ in range(10):
            outbox.deliver(transport, now)
            now += timedelta(days=1)
        sent = outbox.entries(Status.SENT)
        failed = outbox.entries(Status.FAILED)
        assert len(sent) + len(failed) == n
        assert len(transport.accepted) == len(sent)
        subjects = [m for _, _, m in transport.accepted]
        assert len(set(subjects)) == len(subjects)


def test_collector_exports_counts_from_the_table(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from tenantops.notify.outbox import OutboxCollector

    path = tmp_path / "s.db"
    registry = CollectorRegistry()
    registry.register(OutboxCollector(path))
    assert registry.get_sample_value("tenantops_outbox_messages", {"kind": "report", "status": "pending"}) is None
    outbox = Outbox(path)
    for key in ("a", "b", "c"):
        outbox.enqueue("report", key, make_message(), now=T0)
    outbox.deliver(ScriptedTransport(["perm", "ok", "temp"]), T0)
    assert registry.get_sample_value("tenantops_outbox_failed_total", {"kind": "report"}) == 1
    assert registry.get_sample_value("tenantops_outbox_sent_total", {"kind": "report"}) == 1
    assert registry.get_sample_value("tenantops_outbox_messages", {"kind": "report", "status": "pending"}) == 1
    assert registry.get_sample_value("tenantops_outbox_oldest_pending_timestamp_seconds") == T0.timestamp()
    # A fresh collector (a restarted controller) reads the same figures.
    again = CollectorRegistry()
    again.register(OutboxCollector(path))
    assert b'tenantops_outbox_failed_total{kind="report"} 1.0' in generate_latest(again)


def test_the_statement_deploy_readme_gives_runs_a_report_request_given_up_on_again(tmp_path: Path) -> None:
    """deploy/README.md tells an operator how to run a report request again once its rendering was given
    up on; the statement is run here as written (the dedup key aside) against a real state file."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "deploy" / "README.md").read_text(encoding="utf-8")
    statements = [" ".join(s.split()) for s in re.findall(r"\n    (UPDATE outbox SET .+?;)\n", readme, re.S)]
    found = [s for s in statements if ":request'" in s]
    assert len(found) == 1, "deploy/README.md no longer gives the statement for a failed report request"
    statement = found[0].replace("'cost-report:2026-11-16T08:00:00+01:00:request'", "'job'")
    path = tmp_path / "s.db"
    outbox = Outbox(path, retry=RetryPolicy(max_attempts=1))
    outbox.enqueue_job(REPORT_REQUEST, "job", b"{}", now=T0)

    def broken(entry: OutboxEntry, at: datetime) -> None:
        raise RuntimeError("no sender")

    assert outbox.deliver(ScriptedTransport(), T0, jobs={REPORT_REQUEST: broken}).failed == ["job"]
    with sqlite3.connect(path) as conn:
        assert conn.execute(statement).rowcount == 1
    ran: list[str] = []
    report = outbox.deliver(ScriptedTransport(), T0 + timedelta(hours=1),
                            jobs={REPORT_REQUEST: lambda entry, at: ran.append(entry.dedup_key)})
    assert report.done == ["job"] and ran == ["job"]


def test_a_run_for_one_channel_takes_only_that_channels_rows(outbox: Outbox) -> None:
    """Each channel is delivered on its own (mail, webhook, Alertmanager on their own threads), so a run for
    one never claims another's rows: a run for the webhook needs no mail transport and sends no mail."""
    from tenantops.notify.outbox import ALERTMANAGER_RESOLVE, WEBHOOK_NOTICE

    outbox.enqueue("alert", "mail", make_message(), now=T0)
    outbox.enqueue_job(WEBHOOK_NOTICE, "webhook", b"{}", now=T0)
    outbox.enqueue_job(ALERTMANAGER_RESOLVE, "resolve", b"{}", now=T0)
    ran: list[str] = []
    jobs = {WEBHOOK_NOTICE: lambda e, at: ran.append(e.dedup_key),
            ALERTMANAGER_RESOLVE: lambda e, at: ran.append(e.dedup_key)}
    assert outbox.deliver(None, T0, jobs=jobs, channel="webhook").done == ["webhook"]
    assert ran == ["webhook"] and outbox.get("mail").status is Status.PENDING  # type: ignore[union-attr]
    transport = ScriptedTransport()
    assert outbox.deliver(transport, T0, jobs=jobs, channel="mail").sent == ["mail"]
    assert ran == ["webhook"] and outbox.get("resolve").status is Status.PENDING  # type: ignore[union-attr]
    assert outbox.deliver(None, T0, jobs=jobs, channel="alertmanager").done == ["resolve"]
    with pytest.raises(ValueError, match="needs a transport"):
        outbox.deliver(None, T0, channel="mail")
    with pytest.raises(ValueError, match="unknown delivery channel"):
        outbox.deliver(transport, T0, channel="sms")


def test_a_non_ascii_recipient_is_refused_for_good_by_an_ascii_relay_and_never_stalls_the_run(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """The catalogue takes internationalised contacts (`josé@example.com`, RFC 6531). A relay that does not
    offer SMTPUTF8 cannot take such an address: that recipient is refused for good (an alert), the others
    get their copy, and the run goes on. Before, smtplib's UnicodeEncodeError escaped the transport and the
    run: the row stayed `sending`, was tried again after every lease as in doubt, forever, never alerted,
    and the mail queued behind it waited for the next run."""
    from tenantops.notify.mail import SmtpTransport

    outbox = Outbox(tmp_path / "s.db")
    outbox.enqueue("budget-mail", "intl", make_message(to="josé@example.com, ops@example.com"), now=T0)
    outbox.enqueue("alert", "after", make_message("next in line"), now=T0)
    report = outbox.deliver(SmtpTransport(smtp_server.host, smtp_server.port), T0)
    assert report.sent == ["intl", "after"], report
    (alert,) = report.alerts
    assert "josé@example.com" in alert.summary and "SMTPUTF8" in alert.summary
    assert [m.rcpt_tos for m in smtp_server.wait_for(2)] == [("ops@example.com",), ("ops@example.com",)]


def test_a_non_ascii_recipient_gets_the_mail_from_a_relay_that_offers_smtputf8(tmp_path: Path) -> None:
    from tenantops.notify.mail import SmtpTransport

    with SmtpServer(smtputf8=True) as server:
        outbox = Outbox(tmp_path / "s.db")
        outbox.enqueue("budget-mail", "intl", make_message(to="josé@example.com, ops@example.com"), now=T0)
        report = outbox.deliver(SmtpTransport(server.host, server.port), T0)
        assert report.sent == ["intl"] and report.alerts == []
        assert [m.rcpt_tos for m in server.wait_for(1)] == [("josé@example.com", "ops@example.com")]


def test_a_transport_error_nobody_foresaw_is_retried_then_given_up_on_and_never_stops_the_run(
    tmp_path: Path,
) -> None:
    """A transport raising something other than a `DeliveryError` (a client library's bug, an encoding it
    cannot do) is a failed attempt like any other: retried with backoff, given up on with an alert after
    `max_attempts`, and the rest of the run goes on. Before, the exception escaped the run, the row stayed
    `sending` and was tried again after every lease as in doubt, forever, never given up on or alerted."""
    outbox = Outbox(tmp_path / "s.db", retry=RetryPolicy(max_attempts=2))
    outbox.enqueue("report", "odd", make_message(to="odd@example.com"), now=T0)
    outbox.enqueue("report", "fine", make_message(), now=T0)

    class Quirky(ScriptedTransport):
        def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
            if "odd@example.com" in recipients:
                raise RuntimeError("client library bug")
            super().send(sender, recipients, message)

    first = outbox.deliver(Quirky(), T0)
    assert first.retried == ["odd"] and first.sent == ["fine"]
    entry = outbox.get("odd")
    assert entry is not None and entry.status is Status.PENDING and "client library bug" in (entry.last_error or "")
    second = outbox.deliver(Quirky(), entry.next_attempt_at)
    assert second.failed == ["odd"] and len(second.alerts) == 1


def test_a_job_that_runs_longer_than_its_lease_is_neither_run_again_nor_given_up_on(state_url: str) -> None:
    """Replicas sharing one state deliver the same outbox. A report request whose rendering legitimately
    takes longer than the claim's lease (a large catalogue) was taken by a second replica as stopped midway
    and rendered again, and by a third as stopped twice running and given up on, with a failure alert, while
    the first was still rendering it. The lease is the attempt's own while it runs: it is kept from running
    out (each renewal from the attempt's start, on its clock) until the attempt ends."""
    import threading
    import time

    lease = timedelta(seconds=3)
    replicas = [Outbox(state_url, retry=RetryPolicy(lease=lease)) for _ in range(3)]
    replicas[0].enqueue_job(REPORT_REQUEST, "job", b"{}", now=datetime.now(UTC))
    ran: list[str] = []

    def render(name: str) -> Callable[[OutboxEntry, datetime], None]:
        def slow(entry: OutboxEntry, at: datetime) -> None:
            ran.append(name)
            time.sleep(2.5 * lease.total_seconds())
        return slow

    reports: dict[str, DeliveryReport] = {}

    def deliver(index: int) -> None:
        name = f"replica-{index}"
        reports[name] = replicas[index].deliver(ScriptedTransport(), datetime.now(UTC),
                                                jobs={REPORT_REQUEST: render(name)})

    threads = []
    for index in range(3):  # the others run one lease and two leases into the first one's rendering
        threads.append(threading.Thread(target=deliver, args=(index,)))
        threads[-1].start()
        time.sleep(1.2 * lease.total_seconds())
    for thread in threads:
        thread.join(timeout=60)
    failed = [r.failed for r in reports.values() if r.failed]
    assert ran == ["replica-0"] and not failed, (ran, failed)
    assert reports["replica-0"].done == ["job"]
    assert replicas[0].get("job").status is Status.DONE  # type: ignore[union-attr]


def test_prune_keeps_the_latest_requested_report_and_examines_a_bounded_batch(state_url: str) -> None:
    """Settled rows past the retention go, at most `limit` examined a call; the rows of the scheduled
    report the reports state remembers as the latest requested stay (with no state they all stay: the
    decider then finds its latest moment by the key), and so do failed rows."""
    from tenantops.record.store import StateStore

    outbox = Outbox(state_url)
    old, new = "2026-09-07T08:00:00+02:00", "2026-09-14T08:00:00+02:00"
    keys = [f"cost-report:{old}", f"cost-report:{old}:tenant:alpha", f"cost-report:{new}",
            f"cost-report:{new}:tenant:alpha", "cost-report:manual:2026-09-01:2026-09-08"]
    keys += [f"report:{n}" for n in range(5)]
    for key in keys:
        outbox.enqueue("report", key, make_message(), now=T0)
    outbox.enqueue("report", "refused", make_message(), now=T0)
    outbox.deliver(ScriptedTransport(["ok"] * len(keys) + ["perm"]), T0)
    later = T0 + timedelta(days=31)
    assert outbox.prune(T0 + timedelta(days=29), timedelta(days=30)) == []
    batches = [outbox.prune(later, timedelta(days=30), limit=3) for _ in range(5)]
    # Three rows examined a call, from where the last call stopped; every scheduled report is kept while
    # the reports state has no moment; the fifth call starts again from the first row.
    assert batches == [[], ["cost-report:manual:2026-09-01:2026-09-08", "report:0"],
                       ["report:1", "report:2", "report:3"], ["report:4"], []]
    with StateStore(state_url) as store:
        store.commit({"reports": {"requested": new}})
    pruned = outbox.prune(later, timedelta(days=30)) + outbox.prune(later, timedelta(days=30))
    assert pruned == [f"cost-report:{old}", f"cost-report:{old}:tenant:alpha"]
    assert [e.dedup_key for e in outbox.entries()] == [f"cost-report:{new}", f"cost-report:{new}:tenant:alpha",
                                                       "refused"]
    # A key pruned can be queued again: only keys nothing queues again are pruned.
    assert outbox.enqueue("report", "report:0", make_message(), now=later) is True


def test_failed_and_in_doubt_rows_are_pruned_after_the_retention_once_nothing_is_owed_on_them(
    state_url: str, smtp_server: SmtpServer
) -> None:
    """A row given up on whose failure was told, and a row in doubt, go once they have been so for the
    retention (a person had that long to set them back to `pending`); a failure not told yet stays until
    it is, and a row still being retried is never pruned. The counters read from the table
    (`tenantops_outbox_failed_total`, `tenantops_outbox_sent_total`) stay where they were: pruning is no
    reset. Before, failed and in-doubt rows stayed for ever, and pruning sent rows lowered the sent count."""
    from prometheus_client import CollectorRegistry
    from tests.faults.smtp_faults import FaultySmtp

    from tenantops.notify.mail import SmtpTransport
    from tenantops.notify.outbox import OutboxCollector

    outbox = Outbox(state_url)
    registry = CollectorRegistry()
    registry.register(OutboxCollector(outbox.db))
    for key in ("told", "untold"):
        outbox.enqueue("report", key, make_message(to="nobody@example.com"), now=T0)
    outbox.enqueue("report", "delivered", make_message(), now=T0)
    smtp_server.refuse_recipient("nobody@example.com", "550 5.1.1 no such user", count=2)
    report = outbox.deliver(SmtpTransport(smtp_server.host, smtp_server.port), T0)
    assert sorted(report.failed) == ["told", "untold"] and report.sent == ["delivered"]
    outbox.mark_told([a for a in report.alerts if a.details["row"] == "told"])  # "untold": a run that told no one
    lost_ack = FaultySmtp("lost-ack")
    try:
        outbox.enqueue("report", "doubt", make_message(), now=T0)
        assert outbox.deliver(SmtpTransport(lost_ack.host, lost_ack.port, timeout=5), T0).in_doubt == ["doubt"]
    finally:
        lost_ack.close()
    outbox.enqueue("report", "retrying", make_message(), now=T0)
    smtp_server.refuse_next(1)
    assert outbox.deliver(SmtpTransport(smtp_server.host, smtp_server.port), T0).retried == ["retrying"]

    def counters() -> tuple[float | None, float | None]:
        return (registry.get_sample_value("tenantops_outbox_failed_total", {"kind": "report"}),
                registry.get_sample_value("tenantops_outbox_sent_total", {"kind": "report"}))

    assert counters() == (2, 1)
    assert outbox.prune(T0 + timedelta(days=29), timedelta(days=30)) == []
    assert sorted(outbox.prune(T0 + timedelta(days=31), timedelta(days=30))) == ["delivered", "doubt", "told"]
    assert {e.dedup_key: e.status for e in outbox.entries()} == {"untold": Status.FAILED, "retrying": Status.PENDING}
    assert counters() == (2, 1)
    outbox.mark_told(outbox.untold())  # told at last: the retention counts from when it failed
    assert outbox.prune(T0 + timedelta(days=31), timedelta(days=30)) == ["untold"]
    assert counters() == (2, 1)
    assert [e.dedup_key for e in outbox.entries()] == ["retrying"]
