"""The scheduled cost report in the running controller: requested by the pass when ReportPolicy's cron
comes due (a `ReportRequest` effect through the report actuator), rendered and mailed by the delivery run
to a real SMTP server once, its outbox figures on /metrics, delivery failures routed as alerts."""

from __future__ import annotations

import sqlite3
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.engine.deciders import load_decider
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators, report_queue
from tenantops.engine.runner import Runner
from tenantops.engine.wiring import plan_mail, post_pass_hooks
from tenantops.notify.outbox import Outbox, Status
from tenantops.record.http import Health, HealthServer
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.smtp import SmtpServer

from .conftest import StaticSource

pytestmark = pytest.mark.integration

VALUES = {("alpha", "api"): (40.0, 2.0), ("beta", "api"): (10.0, 1.0), ("gamma", "api"): (5.0, 1.0),
          ("delta", "api"): (60.0, 3.0)}
# The repository's ReportPolicy: Mondays 08:00 Europe/Berlin (07:00 UTC in November).
MONDAY_AFTER = datetime(2026, 11, 16, 7, 5, tzinfo=UTC)
OPS = "ops@example.com"


class Clock:
    """The pass time, moved by the test: schedules are checked without waiting for a Monday."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _controller(config_files: tuple[Path, Path], settings: Settings, clock: Clock, *, dry_run: bool = False,
                busy_timeout_ms: int = 5000) -> tuple[Runner, ControllerMetrics, StateStore]:
    catalog, policies = config_files
    config = load_config(catalog, policies)
    store = StateStore(settings.state, busy_timeout_ms=busy_timeout_ms)
    metrics = ControllerMetrics()
    reconciler = Reconciler(StaticSource(VALUES), store, [load_decider("cost"), load_decider("reports")],
                            register_actuators(reports=report_queue(store)), metrics=metrics,
                            mail=None if dry_run else plan_mail(settings))
    runner = Runner(reconciler, config, catalog=catalog, policies=policies, dry_run=dry_run, metrics=metrics,
                    clock=clock)
    runner.on_pass.extend(post_pass_hooks(settings, lambda: runner.config, metrics, dry_run=dry_run, store=store))
    return runner, metrics, store


@pytest.fixture
def settings(smtp_server: SmtpServer, tmp_path: Path) -> Settings:
    return Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, state=str(tmp_path / "state.db"),
                    mail_from="tenantops@example.com", ops_email=OPS)


@pytest.fixture
def http(request: pytest.FixtureRequest) -> Iterator[list[HealthServer]]:
    servers: list[HealthServer] = []
    yield servers
    for server in servers:
        server.stop()


def _reports(smtp_server: SmtpServer) -> list[str]:
    return [str(m.message["Subject"]) for m in smtp_server.received
            if OPS in m.rcpt_tos and str(m.message["Subject"]).startswith("Cost report")]


def test_due_report_is_mailed_once_across_passes_and_again_next_week(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer
) -> None:
    clock = Clock(MONDAY_AFTER)
    runner, _, store = _controller(config_files, settings, clock)
    try:
        assert runner.tick() is not None
        smtp_server.wait_for(1)
        assert len(_reports(smtp_server)) == 1
        outbox = Outbox(settings.state)
        [entry] = [e for e in outbox.entries() if e.kind == "cost-report"]
        assert entry.dedup_key == "cost-report:2026-11-16T08:00:00+01:00" and entry.status is Status.SENT

        for minutes in (1, 30, 60 * 24):  # later passes the same week: not due again
            clock.now = MONDAY_AFTER + timedelta(minutes=minutes)
            assert runner.tick() is not None
        assert len(_reports(smtp_server)) == 1
        assert [e.dedup_key for e in outbox.entries() if e.kind == "cost-report"] == [entry.dedup_key]

        clock.now = MONDAY_AFTER + timedelta(days=7)  # the next Monday 08:00 Berlin has passed
        runner.tick()
        smtp_server.wait_for(2)
        assert len(_reports(smtp_server)) == 2
        assert outbox.get("cost-report:2026-11-23T08:00:00+01:00") is not None
    finally:
        store.close()


def test_a_pass_that_cannot_record_neither_loses_nor_repeats_the_due_report(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer
) -> None:
    """The report is due in a pass whose commit fails (another writer holds the database): nothing of that
    pass is queued, and the next pass that records queues and mails the report exactly once."""
    clock = Clock(MONDAY_AFTER)
    runner, _, store = _controller(config_files, settings, clock, busy_timeout_ms=200)
    outbox = Outbox(settings.state)
    try:
        other = sqlite3.connect(settings.state, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # this pass decides, then cannot record
        try:
            assert runner.tick() is None and runner.stats.failed_passes == 1
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert outbox.entries() == [] and smtp_server.received == []

        for minutes in (1, 2, 3):  # the database is back: the same week's report, once
            clock.now = MONDAY_AFTER + timedelta(minutes=minutes)
            assert runner.tick() is not None
        smtp_server.wait_for(1)
        assert len(_reports(smtp_server)) == 1
        assert [e.dedup_key for e in outbox.entries() if e.kind == "cost-report"] == [
            "cost-report:2026-11-16T08:00:00+01:00"]
    finally:
        store.close()


def test_outbox_collector_is_served_on_metrics(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer, http: list[HealthServer]
) -> None:
    runner, metrics, store = _controller(config_files, settings, Clock(MONDAY_AFTER))
    try:
        runner.tick()
        server = HealthServer(Health(), metrics.registry, host="127.0.0.1", port=0).start()
        http.append(server)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        assert 'tenantops_outbox_sent_total{kind="cost-report"} 1.0' in text
        assert 'tenantops_outbox_messages{kind="cost-report",status="sent"} 1.0' in text
        assert "tenantops_passes_total" in text  # the controller's own metrics, same registry
    finally:
        store.close()


def test_dry_run_neither_queues_nor_mails_nor_registers_the_collector(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer
) -> None:
    runner, metrics, store = _controller(config_files, settings, Clock(MONDAY_AFTER), dry_run=True)
    try:
        result = runner.tick()
        assert result is not None and runner.stats.passes == 1
        # The report is due and decided, but a dry run records no request and no state.
        assert [o.status.value for o in result.report_outcomes] == ["dry_run"]
        assert store.state("reports") == {}
    finally:
        store.close()
    assert Outbox(settings.state).entries() == []
    assert smtp_server.received == []
    assert metrics.registry.get_sample_value("tenantops_outbox_sent_total", {"kind": "cost-report"}) is None


def test_refused_report_becomes_an_alert_mail_and_a_refused_alert_mail_does_not_loop(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer
) -> None:
    clock = Clock(MONDAY_AFTER)
    runner, metrics, store = _controller(config_files, settings, clock)
    outbox = Outbox(settings.state)
    try:
        smtp_server.refuse_next(100, "550 5.1.1 mailbox unavailable")
        runner.tick()
        failed = outbox.entries(Status.FAILED)
        assert "cost-report" in {e.kind for e in failed}
        # The failure was routed like a pass's alert: an alert mail to ops, queued for the next delivery.
        alerts = [e for e in outbox.entries() if e.kind == "alert"]
        assert alerts and all(e.status is Status.PENDING for e in alerts)
        assert any(b"cost-report" in e.message for e in alerts)

        clock.now += timedelta(minutes=1)
        runner.tick()  # the server still refuses: the alert mails fail too ...
        assert {e.status for e in outbox.entries() if e.kind == "alert"} == {Status.FAILED}
        queued = len(outbox.entries())
        clock.now += timedelta(minutes=1)
        runner.tick()  # ... and are not mailed about again, every pass, forever
        assert len(outbox.entries()) == queued
        assert metrics.registry.get_sample_value("tenantops_outbox_failed_total", {"kind": "alert"}) == len(alerts)
    finally:
        store.close()


def test_delivery_behind_a_busy_notification_worker_stamps_the_time_it_runs(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer
) -> None:
    """The pass hands delivery to the notification worker, which may get to it minutes later (a report
    being built, a slow mail server ahead of it on the mail lane). The run's claims, and so their leases,
    count from when it runs: stamped with the pass time, their leases could have run out before they were
    taken, and a replica delivering meanwhile would have sent them a second time."""
    import threading
    import time

    from tenantops.notify.worker import Courier

    catalog, policies = config_files
    store = StateStore(settings.state)
    metrics = ControllerMetrics()
    reconciler = Reconciler(StaticSource(VALUES), store, [load_decider("cost"), load_decider("reports")],
                            register_actuators(reports=report_queue(store)), metrics=metrics,
                            mail=plan_mail(settings))
    clock = Clock(MONDAY_AFTER)
    runner = Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies,
                    metrics=metrics, clock=clock)
    courier = Courier()
    runner.on_pass.extend(post_pass_hooks(settings, lambda: runner.config, metrics, dry_run=False, store=store,
                                          courier=courier))
    busy = threading.Event()
    try:
        courier.submit("a slow mail server", lambda: busy.wait(10), lane="mail")
        assert runner.tick() is not None
        time.sleep(2.2)  # the mail lane is still on the slow job; the report and the delivery wait behind it
        busy.set()
        assert courier.close(30)  # lets the waiting jobs finish
        smtp_server.wait_for(1)
        [entry] = [e for e in Outbox(settings.state).entries() if e.kind == "cost-report"]
        assert entry.status is Status.SENT and entry.sent_at is not None
        assert entry.sent_at >= MONDAY_AFTER + timedelta(seconds=2), entry.sent_at
    finally:
        busy.set()
        courier.close(10)
        store.close()


MOMENT = "2026-11-16T08:00:00+01:00"
REPORT_KEY = f"cost-report:{MOMENT}"


def _report_rows(store: StateStore) -> list[tuple[str, str, str]]:
    from tenantops.record.audit import query

    return [(e.kind, e.rule, e.reason) for e in query(store.db)
            if e.kind == "report" or (e.kind == "act" and e.inputs.get("target") == "outbox")]


def test_the_pass_requests_the_report_and_it_is_mailed_once_across_passes_and_a_restart(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer
) -> None:
    """The due moment is a `ReportRequest` of the pass: recorded in the outbox by the report actuator,
    audited with its reason, settled in the reports concern's state only once recorded, then rendered and
    mailed by the delivery run. Later passes and a restarted controller ask for nothing more."""
    clock = Clock(MONDAY_AFTER)
    runner, _, store = _controller(config_files, settings, clock)
    try:
        result = runner.tick()
        assert result is not None and result.ok
        assert [(o.request.key, o.status.value) for o in result.report_outcomes] == [(REPORT_KEY, "applied")]
        assert result.plan is not None and [r.key for r in result.plan.reports] == [REPORT_KEY]
        assert store.state("reports") == {"requested": MOMENT}
        smtp_server.wait_for(1)
        rows = _report_rows(store)
        assert [(kind, rule) for kind, rule, _ in rows] == [("report", "due"), ("act", "applied")]
        assert f"cost report due: scheduled {MOMENT}" in rows[0][2] and REPORT_KEY in rows[1][2]
        for minutes in (1, 30):
            clock.now = MONDAY_AFTER + timedelta(minutes=minutes)
            later = runner.tick()
            assert later is not None and later.report_outcomes == ()
    finally:
        store.close()

    clock.now = MONDAY_AFTER + timedelta(hours=2)  # a restarted controller, same database
    runner, _, store = _controller(config_files, settings, clock)
    try:
        again = runner.tick()
        assert again is not None and again.report_outcomes == ()
        assert len(_reports(smtp_server)) == 1
        outbox = Outbox(settings.state)
        assert [(e.kind, e.status) for e in outbox.entries() if e.dedup_key.startswith(REPORT_KEY)] == [
            ("report-request", Status.DONE), ("cost-report", Status.SENT)]
        assert len(_report_rows(store)) == 2
    finally:
        store.close()


def test_a_stop_between_the_request_and_its_delivery_run_loses_nothing_and_sends_once(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer
) -> None:
    """The controller stops right after the pass that requested the report, before any delivery run (the
    reconciler's pass on its own). Nothing is rendered or mailed yet; the restarted controller does not
    ask again (the moment is recorded as requested) and its delivery run renders and mails it, once."""
    from tenantops.config import load_config

    catalog, policies = config_files
    store = StateStore(settings.state)
    try:
        reconciler = Reconciler(StaticSource(VALUES), store, [load_decider("cost"), load_decider("reports")],
                                register_actuators(reports=report_queue(store)), mail=plan_mail(settings))
        stopped = reconciler.run_pass(load_config(catalog, policies), MONDAY_AFTER)
        assert [o.status.value for o in stopped.report_outcomes] == ["applied"]
    finally:
        store.close()
    outbox = Outbox(settings.state)
    assert [(e.kind, e.status) for e in outbox.entries()] == [("report-request", Status.PENDING)]
    assert smtp_server.received == []

    clock = Clock(MONDAY_AFTER + timedelta(minutes=3))
    runner, _, store = _controller(config_files, settings, clock)
    try:
        for minutes in (3, 4):
            clock.now = MONDAY_AFTER + timedelta(minutes=minutes)
            result = runner.tick()
            assert result is not None and result.report_outcomes == ()
        smtp_server.wait_for(1)
        assert len(_reports(smtp_server)) == 1
        assert outbox.get(f"{REPORT_KEY}:request").status is Status.DONE  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_report_queued_before_reports_were_requested_is_not_queued_again(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer
) -> None:
    """An upgraded controller starts with no reports state and asks for the latest moment; the report of
    that moment is in the outbox already (queued by the earlier version, same key), so the request is
    unchanged, the moment is settled, and the report is mailed once."""
    from email.message import EmailMessage

    earlier = EmailMessage()
    earlier["From"], earlier["To"], earlier["Subject"] = "tenantops@example.com", OPS, "Cost report (earlier version)"
    earlier.set_content("queued by the earlier version")
    Outbox(settings.state).enqueue("cost-report", REPORT_KEY, earlier, now=MONDAY_AFTER - timedelta(minutes=1))

    clock = Clock(MONDAY_AFTER)
    runner, _, store = _controller(config_files, settings, clock)
    try:
        result = runner.tick()
        assert result is not None
        assert [(o.status.value, o.detail) for o in result.report_outcomes] == [("unchanged", "already in the outbox")]
        assert store.state("reports") == {"requested": MOMENT}
        clock.now += timedelta(minutes=1)
        runner.tick()
        smtp_server.wait_for(1)
        assert _reports(smtp_server) == ["Cost report (earlier version)"]
        assert [e.kind for e in Outbox(settings.state).entries()] == ["cost-report"]  # no request row
    finally:
        store.close()


def test_a_report_that_cannot_be_rendered_is_retried_and_mailed_once_it_can(
    config_files: tuple[Path, Path], settings: Settings, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """No sender configured: the delivery run cannot compose the report, logs why and keeps the request
    for a later run (with the outbox's backoff); once the sender is set, the next run mails it, once."""
    import logging

    broken = settings.model_copy(update={"mail_from": ""})
    clock = Clock(MONDAY_AFTER)
    runner, _, store = _controller(config_files, broken, clock)
    try:
        with caplog.at_level(logging.WARNING, logger="tenantops.notify.outbox"):
            assert runner.tick() is not None
        request = Outbox(settings.state).get(f"{REPORT_KEY}:request")
        assert request is not None and request.status is Status.PENDING and request.attempts == 1
        assert request.last_error is not None and "no sender" in request.last_error
        assert any(REPORT_KEY in r.getMessage() and "will retry" in r.getMessage() for r in caplog.records)
        assert _reports(smtp_server) == []
    finally:
        store.close()

    clock.now = MONDAY_AFTER + timedelta(minutes=5)  # after the first backoff; restarted with a sender
    runner, _, store = _controller(config_files, settings, clock)
    try:
        assert runner.tick() is not None
        smtp_server.wait_for(1)
        assert len(_reports(smtp_server)) == 1
        assert Outbox(settings.state).get(f"{REPORT_KEY}:request").status is Status.DONE  # type: ignore[union-attr]
    finally:
        store.close()
