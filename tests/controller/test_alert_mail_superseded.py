"""An alert mail that waited in the outbox is sent only while it is still true: when the episode resolved
before its firing mail could be delivered (the mail server was down), the firing mail is not sent late,
after or beside the resolve; the resolve is the one mail, and says when the episode fired and when it
cleared. The firing row is done unsent with an audit row saying which resolve superseded it.

Mail goes to a real SMTP server, stopped and started again on its port; the passes are a real reconciler
and runner with the controller's own post-pass hooks delivering.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tenantops.record.audit import query
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.smtp import SmtpServer

from .test_webhook_outbox import _rows, _runner, _settings, _ticks, _worker_missing

pytestmark = pytest.mark.integration

EPISODE = "alert:metrics:alpha/worker:"


def _episode(state: str) -> list[tuple[str, str, int]]:
    return [row for row in _rows(state, "alert") if row[0].startswith(EPISODE)]


def _until(runner: Any, clock: Any, state: str, transition: str) -> None:
    """Passes until the episode's mail of `transition` is queued (at most 20)."""
    for _ in range(20):
        if any(f":{transition}:" in key for key, _, _ in _episode(state)):
            return
        _ticks(runner, clock, 1)
    raise AssertionError(f"no {transition} mail queued")


def test_a_firing_mail_still_waiting_when_its_episode_resolves_is_not_sent_and_the_resolve_says_both(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, tmp_path: Path) -> None:
    """The mail server is down when alpha/worker's alert fires, and still down when it resolves: both
    mails wait. Before, once the server was back, the firing mail went out too, after the resolve when its
    backoff was the longer: the reader was told the condition held when it had ended. Now only the
    resolve is sent, and it says when the episode fired and when it cleared."""
    settings = _settings(smtp_server, tmp_path)
    source, clock = _worker_missing()
    smtp_server.stop()
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        _until(runner, clock, settings.state, "fire")
        _ticks(runner, clock, 2)
        [(fired, _, attempts)] = _episode(settings.state)
        assert attempts >= 1  # tried while the server was down
        source.missing = set()
        _until(runner, clock, settings.state, "resolve")
        smtp_server.start()
        clock.now += timedelta(hours=1)  # past every backoff
        _ticks(runner, clock, 3)
        dropped = [d for d in query(store.db) if d.kind == "outbox" and d.rule == "dropped:notice-superseded"]
    mails = [m.message for m in smtp_server.received if "alpha" in str(m.message["Subject"])]
    bodies = [str(m.get_content()) for m in mails]
    rows = {key: status for key, status, _ in _episode(settings.state)}
    print(f"\nmailed after the server came back: {[b.splitlines()[0] for b in bodies]}; rows {rows}")
    assert len(bodies) == 1 and bodies[0].startswith("Resolved"), bodies
    assert "Fired at 2026-11-17T10:" in bodies[0] and ", resolved at 2026-11-17T10:" in bodies[0], bodies[0]
    assert rows == {fired: "done", fired.replace(":fire:", ":resolve:"): "sent"}
    [row] = dropped
    assert row.inputs["dedup_key"] == fired and row.inputs["superseded_by"] == fired.replace(":fire:", ":resolve:")
    assert row.reason.startswith(f"{fired} not sent: superseded")
