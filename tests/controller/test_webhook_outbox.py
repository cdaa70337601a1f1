"""Webhook notifications and Alertmanager resolves are outbox rows committed with the pass that decided them,
posted after it by the delivery run: a controller stopped between the two posts them once when it starts
again, a receiver that is down gets each once when it is back, and one that refuses for good is given up on
and told by the other routes, never by itself.

The webhook is a real HTTP receiver, Alertmanager is Debian's, mail goes to a real SMTP server; the passes
are a real reconciler and runner, the controller's own post-pass hooks doing the delivery.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.faults.smtp_faults import SilentServer

from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.runner import Runner
from tenantops.engine.wiring import plan_mail, post_pass_hooks
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops.structs.plan import Alert
from tenantops_lab.sandbox.alert_receivers import alertmanager_alerts
from tenantops_lab.sandbox.smtp import SmtpServer

from .test_alert_lifecycle import OPS, START, STEP, Clock, SteadySource

pytestmark = pytest.mark.integration

KEY = "metrics:alpha/worker"


class Now:
    """The real clock, as the runner's, for tests where a server reads times against its own clock
    (`clock.now += STEP` of the tests' `Clock` is a no-op here: the real clock moves on its own)."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, _: datetime) -> None:
        pass


def _settings(smtp: SmtpServer, directory: Path, **routes: Any) -> Settings:
    return Settings(smtp_host=smtp.host, smtp_port=smtp.port, state=str(directory / "state.db"),
                    mail_from="tenantops@example.com", ops_email=OPS, **routes)


def _worker_missing() -> tuple[SteadySource, Clock]:
    """Metrics that alpha/worker no longer reports, from the first pass on, and the test's clock."""
    source = SteadySource()
    source.missing = {("alpha", "worker")}
    return source, Clock(START)


def _ticks(runner: Runner, clock: Any, passes: int) -> None:
    for _ in range(passes):
        assert runner.tick() is not None
        clock.now += STEP


def _runner(settings: Settings, store: StateStore, source: SteadySource, clock: Any,
            files: tuple[Path, Path], courier: Any = None) -> Runner:
    """The restarted controller: a runner with the controller's post-pass hooks (delivery in the hook, or
    on the notification worker `courier` as the controller runs it)."""
    catalog, policies = files
    metrics = ControllerMetrics()
    reconciler = Reconciler(source, store, [AutoscalingDecider()], register_actuators(), metrics=metrics,
                            mail=plan_mail(settings))
    runner = Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies, metrics=metrics,
                    clock=clock)
    runner.on_pass.extend(post_pass_hooks(settings, lambda: runner.config, metrics, dry_run=False, store=store,
                                          courier=courier))
    return runner


def _fire_without_hooks(settings: Settings, source: SteadySource, clock: Any, files: tuple[Path, Path],
                        transition: str = "fire") -> Alert:
    """Passes run on their own (what a kill right after a pass's commit leaves behind) until alpha/worker's
    episode takes `transition`; returns that notification."""
    config = load_config(*files)
    with StateStore(settings.state) as store:
        stopped = Reconciler(source, store, [AutoscalingDecider()], register_actuators(), mail=plan_mail(settings))
        for _ in range(20):
            result = stopped.run_pass(config, clock())
            clock.now += STEP
            notice = next((a for a in result.alerts if a.key == KEY and a.transition == transition), None)
            if notice is not None:
                return notice
    raise AssertionError(f"{KEY} never took {transition}")


def _rows(state: str, kind: str) -> list[tuple[str, str, int]]:
    with StateStore(state) as store:
        return [tuple(r) for r in store.connection.execute(  # type: ignore[misc]
            "SELECT dedup_key, status, attempts FROM outbox WHERE kind = ? ORDER BY id", (kind,)).fetchall()]


def _alpha_posts(receiver: Any, start: int = 0) -> list[str]:
    return [body["text"] for _, body in receiver.posts[start:] if "alpha" in body["text"]]


def test_a_pass_stopped_before_its_hooks_neither_loses_nor_repeats_the_webhook_notice(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, webhook_receiver: Any, tmp_path: Path) -> None:
    """Before, the webhook was called by a hook after the pass: the episode was recorded as notified, and a
    controller stopped in between never told the webhook at all."""
    settings = _settings(smtp_server, tmp_path, webhook_url=webhook_receiver.url + "/hook")
    source, clock = _worker_missing()
    fired = _fire_without_hooks(settings, source, clock, every_route)
    assert _rows(settings.state, "alert-webhook") == [(f"webhook:{fired.notice_key}", "pending", 0)]
    assert webhook_receiver.posts == []

    with StateStore(settings.state) as store:  # the restart: the episode goes on, then ends
        runner = _runner(settings, store, source, clock, every_route)
        _ticks(runner, clock, 3)
        after_restart = _alpha_posts(webhook_receiver)
        source.missing = set()
        _ticks(runner, clock, 3)
    posts = _alpha_posts(webhook_receiver)
    print(f"\nwebhook posts after restart: {after_restart}; with the resolve: {posts}")
    assert len(after_restart) == 1 and "WARNING" in after_restart[0], after_restart
    assert len(posts) == 2 and "Resolved" in posts[1], posts
    assert [status for _, status, _ in _rows(settings.state, "alert-webhook")] == ["done", "done"]
    assert [r[0] for r in webhook_receiver.posts] == ["/hook", "/hook"]


def test_a_webhook_down_then_up_gets_the_notice_once(every_route: tuple[Path, Path], smtp_server: SmtpServer,
                                                    webhook_receiver: Any, tmp_path: Path) -> None:
    """A receiver answering 503 for the first passes: the notice waits in the outbox with the outbox's
    backoff (30 s, 60 s, 120 s...), then reaches the receiver once it answers 200, and is not posted again."""
    settings = _settings(smtp_server, tmp_path, webhook_url=webhook_receiver.url)
    source, clock = _worker_missing()
    webhook_receiver.status = 503
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        for _ in range(20):  # until the episode fires (the policy's failed passes)
            if _rows(settings.state, "alert-webhook"):
                break
            _ticks(runner, clock, 1)
        _ticks(runner, clock, 2)
        refused = len(webhook_receiver.posts)
        [(key, status, attempts)] = _rows(settings.state, "alert-webhook")
        assert refused == attempts == 3 and status == "pending"
        webhook_receiver.status = 200
        _ticks(runner, clock, 5)
    taken = _alpha_posts(webhook_receiver, refused)
    print(f"\n{refused} post(s) refused while down, {len(taken)} taken after: {_rows(settings.state, 'alert-webhook')}")
    assert len(taken) == 1 and "WARNING" in taken[0]
    assert _rows(settings.state, "alert-webhook") == [(key, "done", 4)]


def test_a_webhook_that_refuses_for_good_is_given_up_on_and_told_by_mail_not_by_itself(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, webhook_receiver: Any, tmp_path: Path) -> None:
    """A 404 (a revoked webhook) will not change by asking again: the row fails at its first attempt, and
    the failure alert goes to mail only; posting it to the same webhook would queue one more failing row."""
    settings = _settings(smtp_server, tmp_path, webhook_url=webhook_receiver.url)
    source, clock = _worker_missing()
    webhook_receiver.status = 404
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        _ticks(runner, clock, 8)
    rows = _rows(settings.state, "alert-webhook")
    subjects = [str(m.message["Subject"]) for m in smtp_server.received]
    print(f"\nwebhook rows {rows}; {len(webhook_receiver.posts)} post(s); mail {subjects}")
    assert [(status, attempts) for _, status, attempts in rows] == [("failed", 1)]
    assert len(webhook_receiver.posts) == 1
    # The cause names the channel that failed: mail was fine, and saying otherwise sends on-call to the
    # SMTP settings.
    assert "[tenantops] [FIRING] WARNING all tenants: webhook-delivery-failed" in subjects
    assert not any("mail-delivery-failed" in s for s in subjects), subjects


def test_an_alertmanager_that_refuses_a_resolve_for_good_is_an_alertmanager_failure_told_by_mail(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, webhook_receiver: Any, tmp_path: Path) -> None:
    """A receiver standing in for Alertmanager takes the firing posts, then answers 400 to everything: the
    resolve row fails at once, and its failure alert says Alertmanager (not mail), goes to mail, and is not
    posted to the Alertmanager that refused."""
    settings = _settings(smtp_server, tmp_path, alertmanager_url=webhook_receiver.url)
    source, clock = _worker_missing()
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        for _ in range(20):
            if any(a["labels"].get("key") == KEY for _, body in webhook_receiver.posts for a in body):
                break
            _ticks(runner, clock, 1)
        webhook_receiver.status = 400
        source.missing = set()
        for _ in range(20):
            if [s for _, s, _ in _rows(settings.state, "alertmanager-resolve")] == ["failed"]:
                break
            _ticks(runner, clock, 1)
        _ticks(runner, clock, 2)
    subjects = [str(m.message["Subject"]) for m in smtp_server.received]
    posted_causes = {a["labels"]["cause"] for _, body in webhook_receiver.posts for a in body}
    print(f"\nresolve rows {_rows(settings.state, 'alertmanager-resolve')}; mail {subjects};"
          f" causes posted {posted_causes}")
    assert [s for _, s, _ in _rows(settings.state, "alertmanager-resolve")] == ["failed"]
    assert "[tenantops] [FIRING] WARNING all tenants: alertmanager-delivery-failed" in subjects
    assert not any("mail-delivery-failed" in s for s in subjects), subjects
    assert "alertmanager-delivery-failed" not in posted_causes


def test_an_alertmanager_resolve_committed_then_stopped_is_posted_after_restart(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, alertmanager: str, tmp_path: Path) -> None:
    """The firing alert is posted with every pass's active set, so a lost post is made good by the next
    pass; the resolve is said once. A controller stopped after the pass that resolved the episode kept it
    in the outbox, and the restarted one posts it: Alertmanager ends the alert then, not at the `endsAt`
    of the last firing post (four pass intervals later). The clock is the real one: Alertmanager reads
    `endsAt` against its own."""
    settings = _settings(smtp_server, tmp_path, alertmanager_url=alertmanager)

    clock: Any = Now()
    source = SteadySource()
    source.missing = {("alpha", "worker")}

    def active() -> list[dict[str, Any]]:
        return [a for a in alertmanager_alerts(alertmanager, "active=true") if a["labels"].get("key") == KEY]

    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        for _ in range(20):
            if active():
                break
            assert runner.tick() is not None
    source.missing = set()
    resolved = _fire_without_hooks(settings, source, clock, every_route, transition="resolve")
    rows = _rows(settings.state, "alertmanager-resolve")
    assert rows == [(f"alertmanager:{resolved.notice_key}", "pending", 0)]
    assert len(active()) == 1  # nothing told Alertmanager yet

    with StateStore(settings.state) as store:
        _runner(settings, store, source, clock, every_route).tick()
    remaining = active()
    print(f"\nAlertmanager after restart: {len(remaining)} active;"
          f" resolve rows {_rows(settings.state, 'alertmanager-resolve')}")
    assert remaining == []
    assert _rows(settings.state, "alertmanager-resolve") == [(rows[0][0], "done", 1)]


def _status(state: str, key: str) -> str | None:
    from tenantops.notify.outbox import Outbox

    entry = Outbox(state).get(key)
    return None if entry is None else str(entry.status)


def test_a_hanging_mail_server_does_not_hold_the_webhook_notice(
        every_route: tuple[Path, Path], webhook_receiver: Any, tmp_path: Path) -> None:
    """A mail server that accepts and never greets holds its message for the whole per-message deadline
    (30 s). The webhook notice of the same pass is posted meanwhile, not after it: the webhook reaches the
    receiver while the alert mail is still being sent."""
    from tenantops.notify.outbox import Outbox
    from tenantops.notify.worker import Courier

    smtp = SilentServer()  # accepts and never greets
    settings = Settings(smtp_host="127.0.0.1", smtp_port=smtp.port, state=str(tmp_path / "state.db"),
                        mail_from="tenantops@example.com", ops_email=OPS, webhook_url=webhook_receiver.url)
    source, clock = _worker_missing()
    courier = Courier()
    try:
        with StateStore(settings.state) as store:
            runner = _runner(settings, store, source, clock, every_route, courier)
            for _ in range(20):
                if _rows(settings.state, "alert-webhook"):
                    break
                _ticks(runner, clock, 1)
            [(webhook_key, _, _)] = _rows(settings.state, "alert-webhook")
            [(mail_key, _, _)] = _rows(settings.state, "alert")
            deadline = time.monotonic() + 20
            while not _alpha_posts(webhook_receiver) and time.monotonic() < deadline:
                time.sleep(0.05)
            mail = Outbox(settings.state).get(mail_key)
            assert mail is not None
            mail_then = f"{mail.status} (error {mail.last_error})"
            print(f"\nwebhook posts {len(_alpha_posts(webhook_receiver))}; alert mail {mail_then};"
                  f" webhook row {_status(settings.state, webhook_key)}")
            assert len(_alpha_posts(webhook_receiver)) == 1
            # No attempt of the mail had ended when the webhook got its post: still held by the mail server
            # (or not even begun on a busy machine); ahead of it, the mail would have held it for 30 s.
            assert mail.status in ("sending", "pending") and mail.last_error is None
    finally:
        smtp.close()
        courier.close(5)


def test_a_hanging_webhook_does_not_hold_the_alert_mail(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, tmp_path: Path) -> None:
    """A webhook that accepts and never answers holds its post for its timeout (5 s); a notice queued
    before the mail (an earlier pass's, due again) no longer keeps the mail waiting behind it: after one
    pass, the mail reaches the server while the post is still held."""
    from tenantops.notify.outbox import WEBHOOK_NOTICE, Outbox
    from tenantops.notify.worker import Courier

    silent = SilentServer()
    settings = _settings(smtp_server, tmp_path, webhook_url=silent.url)
    clock = Clock(START)
    courier = Courier()
    try:
        with StateStore(settings.state) as store:
            outbox = Outbox(settings.state)
            outbox.enqueue_job(WEBHOOK_NOTICE, "webhook:earlier", b'{"text": "earlier"}', now=clock(),
                               recipients=("webhook",))
            outbox.enqueue("alert", "alert:later", _alert_mail(), now=clock())
            runner = _runner(settings, store, SteadySource(), clock, every_route, courier)
            _ticks(runner, clock, 1)
            smtp_server.wait_for(1, timeout=20)
            earlier = outbox.get("webhook:earlier")
            assert earlier is not None
            print(f"\nmail {len(smtp_server.received)}; earlier webhook row {earlier.status},"
                  f" attempt {earlier.attempts}, error {earlier.last_error}")
            assert len(smtp_server.received) == 1
            # No attempt of the post had ended when the mail went (held, or not even begun on a busy machine);
            # behind it, the mail would have waited for its 5-second timeout and found it rescheduled.
            assert earlier.status in ("sending", "pending") and earlier.last_error is None
    finally:
        courier.close(1)
        silent.close()


def _alert_mail() -> Any:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "tenantops@example.com", OPS, "[tenantops] [FIRING] WARNING alpha: metrics"
    msg.set_content("queued after the webhook's notice")
    return msg


def test_alert_mail_that_cannot_be_composed_does_not_cost_the_webhook_its_notice(
        every_route: tuple[Path, Path], smtp_server: SmtpServer, webhook_receiver: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """A mail setting no message can be composed with (TENANTOPS_MAIL_FROM set empty) fails the email route
    of each alert, with an error naming the setting; the webhook's notice is still queued with the pass and
    posted. Before, the one error dropped every notification of the pass, webhook and Alertmanager resolves
    too, while the episodes were recorded as notified: lost for good."""
    settings = _settings(smtp_server, tmp_path, webhook_url=webhook_receiver.url).model_copy(update={"mail_from": ""})
    source, clock = _worker_missing()
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, source, clock, every_route)
        for _ in range(20):
            if _alpha_posts(webhook_receiver):
                break
            _ticks(runner, clock, 1)
    posts = _alpha_posts(webhook_receiver)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "email" in r.getMessage()]
    print(f"\nwebhook posts {posts}; errors {errors[:1]}")
    assert len(posts) == 1 and "WARNING" in posts[0]
    assert errors and "TENANTOPS_MAIL_FROM" in errors[0], errors
