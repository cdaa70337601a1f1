"""Sent mail leaves the outbox after the ControllerPolicy's `outbox_retention_days` (30), a bounded batch after
each pass, so a controller running for years does not keep every mail it ever sent; a row whose key still
keeps a notification from being queued again stays until nothing can queue it again. The audit's rows
leave after `audit_retention_days` (400).

Mail goes to a real SMTP server; the passes are a real reconciler and runner with the controller's own
post-pass hooks delivering and pruning.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from tenantops.notify.outbox import Outbox
from tenantops.record import audit
from tenantops.record.store import StateStore
from tenantops.structs.plan import Decision
from tenantops_lab.sandbox.smtp import SmtpServer

from .test_alert_lifecycle import OPS
from .test_webhook_outbox import _rows, _runner, _settings, _ticks, _worker_missing

pytestmark = pytest.mark.integration


def _report(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "tenantops@example.com", OPS, subject
    message.set_content("cost")
    return message


def _subjects(smtp: SmtpServer) -> list[str]:
    return [str(m.message["Subject"]) for m in smtp.received]


def _episode_rows(state: str) -> list[tuple[str, str, int]]:
    return [r for r in _rows(state, "alert") if r[0].startswith("alert:metrics:alpha/worker:")]


def test_sent_mail_is_pruned_after_the_retention_but_an_episode_still_remembered_keeps_its_rows(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, tmp_path: Path) -> None:
    """A manual report and alpha/worker's alert (fired, then resolved) are mailed. 31 days on, the report's
    row is gone; the alert's stay, since the alert state still remembers their episode (for 40 days after
    it cleared) and could decide its transitions again, which only their keys keep from being mailed twice;
    the refused report's row, given up on and told, is gone too. 41 days on, the episode is forgotten, and
    so are its rows. Nothing was mailed twice. The audit loses its rows older than `audit_retention_days`
    (400) and keeps the passes'."""
    settings = _settings(smtp_server, tmp_path)
    source, clock = _worker_missing()
    evidence = min(clock(), datetime.now(UTC)) - timedelta(days=500)
    with StateStore(settings.state) as store:
        store.commit({}, [Decision(evidence, "alpha", "api", "scale", "r", "long ago", 1, 2)])
    outbox = Outbox(settings.state)
    outbox.enqueue("cost-report", "cost-report:manual:2026-11-10:2026-11-17", _report("manual report"), now=clock())
    outbox.enqueue("cost-report", "cost-report:manual:refused", _report("refused report"), now=clock(),
                   recipients=["nobody@example.com"])
    smtp_server.refuse_recipient("nobody@example.com", "550 5.1.1 no such user")
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        for _ in range(20):
            if _episode_rows(settings.state):
                break
            _ticks(runner, clock, 1)
        source.missing = set()
        _ticks(runner, clock, 3)
        mailed = _subjects(smtp_server)
        alert_rows = _episode_rows(settings.state)
        assert [status for _, status, _ in alert_rows] == ["sent", "sent"], alert_rows
        clock.now += timedelta(days=31)
        _ticks(runner, clock, 2)
        after_31 = [key for key, _, _ in _rows(settings.state, "alert") + _rows(settings.state, "cost-report")]
        clock.now += timedelta(days=10)
        _ticks(runner, clock, 2)
        reasons = [e.reason for e in audit.query(store.connection)]
    after_41 = [(key, status) for key, status, _ in
                _rows(settings.state, "alert") + _rows(settings.state, "cost-report")]
    print(f"\nmailed {mailed}\nrows after 31 days {after_31}\nafter 41 days {after_41}")
    # The report, the refused report's delivery-failed alert, and the episode's firing and resolve.
    assert "manual report" in mailed and len(mailed) == 4, mailed
    assert after_31 == [key for key, _, _ in alert_rows]
    assert after_41 == []
    assert "long ago" not in reasons and len(reasons) > 0, reasons
    assert _subjects(smtp_server) == mailed  # nothing mailed again, before or after the rows went
