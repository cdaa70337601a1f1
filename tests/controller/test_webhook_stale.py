"""A webhook notice that waited in the outbox is posted only while it is still true: a resolve supersedes
the pending firing (or escalation) of its episode, and a notice older than the ControllerPolicy's
`notice_max_age_hours` is given up on; either is done without a post and has an audit row saying why.

The webhook is a real HTTP receiver, mail a real SMTP server; the passes are a real reconciler and runner
with the controller's own post-pass hooks doing the delivery.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tenantops.record.audit import query
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.smtp import SmtpServer

from .test_webhook_outbox import (
    _alpha_posts,
    _rows,
    _runner,
    _settings,
    _ticks,
    _worker_missing,
)

pytestmark = pytest.mark.integration


def _until_webhook_rows(runner: Any, clock: Any, state: str, count: int) -> None:
    """Passes until the outbox holds `count` webhook rows (at most 20)."""
    for _ in range(20):
        if len(_rows(state, "alert-webhook")) >= count:
            return
        _ticks(runner, clock, 1)


def _dropped(state: str) -> list[Any]:
    with StateStore(state) as store:
        return [d for d in query(store.db) if d.kind == "outbox" and d.rule.startswith("dropped:notice")]


def test_a_resolve_supersedes_the_pending_firing_notice_of_its_episode(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, webhook_receiver: Any, tmp_path: Path) -> None:
    """The webhook is down (503) when alpha/worker's alert fires, and still down when it resolves: both
    notices wait. Back up, it got the firing notice after (or with) the resolve, telling the channel of a
    condition that had ended. The firing is superseded, not posted; the resolve is."""
    settings = _settings(smtp_server, tmp_path, webhook_url=webhook_receiver.url)
    source, clock = _worker_missing()
    webhook_receiver.status = 503
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        _until_webhook_rows(runner, clock, settings.state, 1)
        source.missing = set()
        _until_webhook_rows(runner, clock, settings.state, 2)
        refused = len(webhook_receiver.posts)
        webhook_receiver.status = 200
        _ticks(runner, clock, 10)
    taken = _alpha_posts(webhook_receiver, refused)
    rows = _rows(settings.state, "alert-webhook")
    print(f"\nposted after the webhook came back: {[t[:60] for t in taken]}; rows {rows}")
    assert len(taken) == 1 and "Resolved" in taken[0], taken
    assert [status for _, status, _ in rows] == ["done", "done"]
    [dropped] = _dropped(settings.state)
    assert dropped.rule == "dropped:notice-superseded" and ":fire:" in dropped.inputs["dedup_key"]


def test_a_notice_older_than_the_policy_age_is_given_up_on_with_an_audit_row(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, webhook_receiver: Any, tmp_path: Path) -> None:
    """The webhook is down when the alert fires and comes back 30 hours later: the notice, past the default
    24 h, is not posted (the channel would read a warning of yesterday as news); the row is done and the
    audit says it was given up on, and how old it was. (The episode escalates at 48 h: that notice is new.)"""
    settings = _settings(smtp_server, tmp_path, webhook_url=webhook_receiver.url)
    source, clock = _worker_missing()
    webhook_receiver.status = 503
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        _until_webhook_rows(runner, clock, settings.state, 1)
        refused = len(webhook_receiver.posts)
        webhook_receiver.status = 200
        clock.now += timedelta(hours=30)
        _ticks(runner, clock, 3)
    taken = _alpha_posts(webhook_receiver, refused)
    rows = _rows(settings.state, "alert-webhook")
    print(f"\nposted 30 h late: {taken}; rows {rows}")
    assert taken == []
    assert [status for _, status, _ in rows] == ["done"]
    [dropped] = _dropped(settings.state)
    assert dropped.rule == "dropped:notice-too-old" and dropped.inputs["age_hours"] >= 30
