"""Delivery failures are told, each once: a mail refused for one recipient and later for another, or given
up on after it was refused for someone, is two failures and two notices; a controller stopped between
giving up on a row and queueing its notice tells it when it starts again.

Mail goes to a real SMTP server (aiosmtpd) that refuses the recipients the test names; the passes are a
real reconciler and runner with the controller's own post-pass hooks doing the delivery.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from tenantops.config.settings import Settings
from tenantops.notify.outbox import DeliveryReport, Outbox, OutboxEntry, Status
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.smtp import SmtpServer

from .test_alert_lifecycle import OPS, START, Clock, SteadySource
from .test_webhook_outbox import _runner, _ticks

pytestmark = pytest.mark.integration


def _report(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "tenantops@example.com", to, "Cost report"
    msg.set_content("the week's figures")
    return msg


def _failure_mail(smtp: SmtpServer) -> list[str]:
    """The bodies of the delivery-failure mails the server received (to ops)."""
    return [m.message.get_content() for m in smtp.received
            if "mail-delivery-failed" in str(m.message["Subject"])]


def test_a_second_failure_of_one_message_is_told_too(config_files: tuple[Path, Path], smtp_server: SmtpServer,
                                                     tmp_path: Path) -> None:
    """The report goes to finance and to an address that does not exist: the relay refuses the second for
    good (550) and greylists finance (451); at the next attempt it refuses finance for good too. Both are
    failures a person must hear about, and both are told. Before, both notices had one key
    (`outbox-failed:<row>`), so the second was taken for the first, already queued, and never sent."""
    settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, state=str(tmp_path / "state.db"),
                        mail_from="tenantops@example.com", ops_email=OPS)
    clock = Clock(START)
    Outbox(settings.state).enqueue("cost-report", "report", _report("finance@example.com, nobody@example.com"),
                                   now=clock())
    smtp_server.refuse_recipient("nobody@example.com", "550 5.1.1 no such user")
    smtp_server.refuse_recipient("finance@example.com", "451 4.7.1 greylisted, try again later")
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, SteadySource(), clock, config_files)
        _ticks(runner, clock, 1)
        assert Outbox(settings.state).get("report").status is Status.PENDING  # type: ignore[union-attr]
        smtp_server.refuse_recipient("finance@example.com", "550 5.1.1 mailbox disabled")
        _ticks(runner, clock, 4)
    told = _failure_mail(smtp_server)
    print(f"\nfailure mails: {[t.splitlines()[0] for t in told]}")
    assert Outbox(settings.state).get("report").status is Status.FAILED  # type: ignore[union-attr]
    assert len(told) == 2, told
    assert "nobody@example.com" in told[0] and "finance@example.com" not in told[0].splitlines()[0]
    assert "finance@example.com" in told[1] and "mailbox disabled" in told[1]


def _stopped_then_restarted(config_files: tuple[Path, Path], smtp_server: SmtpServer, state_url: str,
                            to: str) -> tuple[DeliveryReport, list[OutboxEntry], list[str]]:
    """The report to `to`, where nobody@example.com is refused for good (550), delivered by a run that
    stopped before it routed its alerts (what a kill then leaves); then the restarted controller's passes.
    Returns the stopped run's report, the failed rows it left, and the failure mails told after."""
    from tenantops.notify.mail import SmtpTransport

    settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, database_url=state_url,
                        mail_from="tenantops@example.com", ops_email=OPS)
    clock = Clock(START)
    outbox = Outbox(state_url)
    outbox.enqueue("cost-report", "report", _report(to), now=clock())
    smtp_server.refuse_recipient("nobody@example.com", "550 5.1.1 no such user")
    stopped = outbox.deliver(SmtpTransport(smtp_server.host, smtp_server.port), clock())
    failed = outbox.entries(Status.FAILED)
    with StateStore(state_url) as store:
        runner = _runner(settings, store, SteadySource(), clock, config_files)
        _ticks(runner, clock, 4)
    told = _failure_mail(smtp_server)
    print(f"\nfailure mails after the restart: {[t.splitlines()[0] for t in told]}")
    return stopped, failed, told


def test_a_failure_given_up_on_by_a_run_stopped_before_telling_it_is_told_after_restart(
        config_files: tuple[Path, Path], smtp_server: SmtpServer, state_url: str) -> None:
    """A delivery run marks a row failed, then routes its failure alert: a controller killed in between (or
    `tenantops report --send`, which delivers and routes nothing) left the row failed and no one told.
    The restarted controller's delivery tells it, once (on both state backends)."""
    stopped, _, told = _stopped_then_restarted(config_files, smtp_server, state_url, "nobody@example.com")
    assert stopped.failed == ["report"] and len(stopped.alerts) == 1
    assert len(told) == 1 and "nobody@example.com" in told[0] and "550" in told[0]


def test_a_recipient_refused_for_good_by_a_run_stopped_before_telling_it_is_told_after_restart(
        config_files: tuple[Path, Path], smtp_server: SmtpServer, state_url: str) -> None:
    """The relay takes the report for finance and refuses an address that does not exist (550): the row is
    sent, and the refusal is a failure to tell. A run stopped before it told it (its alerts are routed
    after the whole run, maybe minutes of slow mail later) lost it: nothing in the table said so. The
    refused recipients are now a failed row of their own, told by the restarted controller, once; setting
    it back to `pending` sends the same message to them only."""
    stopped, failed, told = _stopped_then_restarted(config_files, smtp_server, state_url,
                                                    "finance@example.com, nobody@example.com")
    assert stopped.sent == ["report"] and len(stopped.alerts) == 1
    assert [(e.recipients, "550" in (e.last_error or "")) for e in failed] == [(("nobody@example.com",), True)]
    assert len(told) == 1 and "nobody@example.com" in told[0] and "finance@example.com" not in told[0]
    assert [m.rcpt_tos for m in smtp_server.received if "Cost report" in str(m.message["Subject"])] == [
        ("finance@example.com",)]


def test_the_row_of_recipients_refused_for_good_refers_to_the_message_and_sends_the_same_bytes(
        smtp_server: SmtpServer, state_url: str) -> None:
    """A large report (half a megabyte, as a report with charts for many tenants is) taken for finance and
    refused for an address that does not exist (550): the refused recipients' row stored a second full copy
    of the message, kept for good with the failed row, one more for every report that meets the stale
    address. It refers to the sent row's message instead; set back to `pending`, it sends the same bytes
    (the same Message-ID) to the refused recipient only."""
    from tenantops.notify.mail import SmtpTransport

    report = _report("finance@example.com, nobody@example.com")
    report.set_content("the week's figures\n" + "x" * 76 * 7000)  # ~0.5 MB
    outbox = Outbox(state_url)
    outbox.enqueue("cost-report", "report", report, now=START)
    smtp_server.refuse_recipient("nobody@example.com", "550 5.1.1 no such user")
    transport = SmtpTransport(smtp_server.host, smtp_server.port)
    outbox.deliver(transport, START)
    original = outbox.get("report")
    [refused] = outbox.entries(Status.FAILED)
    assert original is not None and original.status is Status.SENT
    print(f"\nstored: original {len(original.message)} bytes, refused recipients' row {len(refused.message)} bytes")
    assert refused.recipients == ("nobody@example.com",)
    assert len(refused.message) < 1000, "the refused recipients' row holds a second copy of the message"
    with outbox.db.begin() as conn:
        conn.exec_driver_sql("UPDATE outbox SET status = 'pending', next_attempt_at = 0, attempts = 0,"
                             f" lease_until = NULL WHERE dedup_key = '{refused.dedup_key}'")
    again = outbox.deliver(transport, START)
    assert again.sent == [refused.dedup_key]
    first, second = smtp_server.received
    assert second.rcpt_tos == ("nobody@example.com",)
    assert second.message["Message-ID"] == first.message["Message-ID"]
    assert second.message.get_content() == first.message.get_content()
    with outbox.db.begin() as conn:  # the row it names removed by hand: failed, saying so, never sent empty
        conn.exec_driver_sql("DELETE FROM outbox WHERE dedup_key = 'report'")
        conn.exec_driver_sql("UPDATE outbox SET status = 'pending', next_attempt_at = 0, attempts = 0,"
                             f" lease_until = NULL WHERE dedup_key = '{refused.dedup_key}'")
    gone = outbox.deliver(transport, START)
    assert gone.failed == [refused.dedup_key] and "'report'" in gone.alerts[0].summary
    assert len(smtp_server.received) == 2
