"""Alertmanager ends an alert that stops being posted once its `endsAt` passes, so every alert tenantops holds
firing is posted again before then, for as long as its condition holds, and resolved when it ends.

Alertmanager is Debian's, mail goes to a real SMTP server (aiosmtpd), the passes are a real reconciler and
runner with the controller's own post-pass hooks, on the real clock (Alertmanager reads `endsAt` against its
own). The pass interval is 0.5 s, so a post's `endsAt` is 2 s ahead (four intervals).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.faults.helpers import set_interval

from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.base import DeciderOutput, PassInput
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.runner import Runner
from tenantops.engine.wiring import plan_mail, post_pass_hooks
from tenantops.notify.outbox import Outbox, Status
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.alert_receivers import alertmanager_alerts
from tenantops_lab.sandbox.smtp import SmtpServer

from .test_alert_lifecycle import OPS, SteadySource
from .test_webhook_outbox import Now, _runner

pytestmark = pytest.mark.integration

ENDS_AFTER = 2.0  # seconds: four pass intervals of 0.5 s


def _active(url: str, key: str) -> list[dict[str, Any]]:
    return [a for a in alertmanager_alerts(url, "active=true")
            if a["labels"].get("key") == key and a["status"]["state"] == "active"]


def _passes(runner: Any, seconds: float) -> int:
    """Passes every 0.5 s for `seconds` of real time; returns how many ran."""
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        assert runner.tick() is not None
        n += 1
        time.sleep(0.5)
    return n


def _report(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "tenantops@example.com", to, "Cost report"
    msg.set_content("the week's figures")
    return msg


def test_a_delivery_failure_stays_firing_in_alertmanager_while_the_row_is_failed_then_resolves(
        config_files: tuple[Path, Path], smtp_server: SmtpServer, alertmanager: str, tmp_path: Path) -> None:
    """The report to an address the relay refuses for good (550) is failed and told, to mail and to
    Alertmanager. Told once, the alert ended in Alertmanager at its first `endsAt` (four intervals later),
    while the row was still failed and nothing had been done. It is posted with every pass's active set as
    long as the row is failed; set back to `pending` (the runbook's fix), it is resolved at once."""
    catalog, policies = config_files
    set_interval(policies, 0.5)
    settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, state=str(tmp_path / "state.db"),
                        mail_from="tenantops@example.com", ops_email=OPS, alertmanager_url=alertmanager)
    clock: Any = Now()
    Outbox(settings.state).enqueue("cost-report", "report", _report("nobody@example.com"), now=clock())
    smtp_server.refuse_recipient("nobody@example.com", "550 5.1.1 no such user")
    key = "outbox-failed:report"
    with StateStore(settings.state) as store:
        runner = _runner(settings, store, SteadySource(), clock, (catalog, policies))
        assert runner.tick() is not None
        assert Outbox(settings.state).get("report").status is Status.FAILED  # type: ignore[union-attr]
        assert len(_active(alertmanager, key)) == 1
        passes = _passes(runner, 3 * ENDS_AFTER)
        still = _active(alertmanager, key)
        print(f"\nafter {passes} passes over {3 * ENDS_AFTER:g} s: {len(still)} active for {key}")
        assert len(still) == 1, "the delivery failure ended in Alertmanager while the row was still failed"
        with sqlite3.connect(settings.state) as db:  # the runbook: set it back to pending, it is sent again
            db.execute("UPDATE outbox SET status = 'pending', next_attempt_at = 0, attempts = 0,"
                       " lease_until = NULL WHERE dedup_key = 'report'")
        assert runner.tick() is not None
        assert Outbox(settings.state).get("report").status is Status.SENT  # type: ignore[union-attr]
        assert _active(alertmanager, key) == [], "resolved when the row left `failed`, not at its endsAt"


class Failing:
    """The autoscaling decider, raising while `down` (what a bug or a bad input does to one concern): the
    engine keeps its open alerts, since it did not evaluate them."""

    name = "autoscaling"

    def __init__(self) -> None:
        self.inner = AutoscalingDecider()
        self.down = False

    def decide(self, inp: PassInput, state: Any) -> DeciderOutput:
        if self.down:
            raise RuntimeError("decider down")
        return self.inner.decide(inp, state)


def test_an_open_alert_of_a_decider_that_fails_stays_firing_in_alertmanager(
        config_files: tuple[Path, Path], smtp_server: SmtpServer, alertmanager: str, tmp_path: Path) -> None:
    """alpha/worker's metrics are missing: the alert fires, to mail and Alertmanager. Then the decider that
    raised it fails for a while: the engine keeps the episode open (nothing was evaluated, nothing resolves),
    but the alert was posted only with the active set of passes that raised it, so Alertmanager ended it at
    its last `endsAt`, and a decider back on its feet started it again there (a resolve and a second page
    for one episode). The engine's open alerts are posted every pass, raised this pass or not."""
    catalog, policies = config_files
    set_interval(policies, 0.5)
    data = yaml.safe_load(catalog.read_text())
    data["tenants"][0]["overrides"] = {"alerts": {"routes": ["email", "alertmanager"]}}
    catalog.write_text(yaml.safe_dump(data, sort_keys=False))
    settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, state=str(tmp_path / "state.db"),
                        mail_from="tenantops@example.com", ops_email=OPS, alertmanager_url=alertmanager)
    clock: Any = Now()
    source = SteadySource()
    source.missing = {("alpha", "worker")}
    decider = Failing()
    key = "metrics:alpha/worker"
    with StateStore(settings.state) as store:
        metrics = ControllerMetrics()
        reconciler = Reconciler(source, store, [decider], register_actuators(), metrics=metrics,
                                mail=plan_mail(settings))
        runner = Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies,
                        metrics=metrics, clock=clock)
        runner.on_pass.extend(post_pass_hooks(settings, lambda: runner.config, metrics, dry_run=False, store=store))
        for _ in range(20):
            if _active(alertmanager, key):
                break
            _passes(runner, 0.5)
        first = _active(alertmanager, key)
        assert len(first) == 1
        decider.down = True
        passes = _passes(runner, 3 * ENDS_AFTER)
        still = _active(alertmanager, key)
        print(f"\nafter {passes} passes of a failing decider over {3 * ENDS_AFTER:g} s: {len(still)} active"
              f" for {key}")
        assert len(still) == 1, "the open alert ended in Alertmanager while its episode was still open"
        assert still[0]["startsAt"] == first[0]["startsAt"]
        assert still[0]["annotations"]["suggested_action"] == first[0]["annotations"]["suggested_action"]
        decider.down = False
        source.missing = set()
        _passes(runner, 1.0)
        assert _active(alertmanager, key) == []


def test_a_snoozed_alert_is_not_posted_to_alertmanager_until_its_snooze_ends(
        config_files: tuple[Path, Path], smtp_server: SmtpServer, alertmanager: str, tmp_path: Path) -> None:
    """alpha/worker's metrics are missing while alpha snoozes the `metrics` cause: no mail is sent, but the
    alert was in the active set re-posted to Alertmanager every pass, so Alertmanager paged for exactly
    what the snooze silences. Once the snooze ends, it fires once, to both."""
    catalog, policies = config_files
    set_interval(policies, 0.5)
    data = yaml.safe_load(catalog.read_text())
    until = datetime.now(UTC) + timedelta(seconds=4)
    data["tenants"][0]["overrides"] = {"alerts": {"routes": ["email", "alertmanager"], "snooze": [
        {"cause": "metrics", "until": until.isoformat().replace("+00:00", "Z"), "reason": "migration"}]}}
    catalog.write_text(yaml.safe_dump(data, sort_keys=False))
    settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, state=str(tmp_path / "state.db"),
                        mail_from="tenantops@example.com", ops_email=OPS, alertmanager_url=alertmanager)
    source = SteadySource()
    source.missing = {("alpha", "worker")}
    key = "metrics:alpha/worker"
    with StateStore(settings.state) as store:
        metrics = ControllerMetrics()
        reconciler = Reconciler(source, store, [AutoscalingDecider()], register_actuators(), metrics=metrics,
                                mail=plan_mail(settings))
        runner = Runner(reconciler, load_config(catalog, policies), catalog=catalog, policies=policies,
                        metrics=metrics, clock=Now())
        runner.on_pass.extend(post_pass_hooks(settings, lambda: runner.config, metrics, dry_run=False, store=store))
        passes = _passes(runner, 2.0)
        snoozed = _active(alertmanager, key)
        print(f"\n{passes} passes while snoozed: {len(snoozed)} active in Alertmanager for {key}")
        assert snoozed == [], "a snoozed alert reached Alertmanager"
        while datetime.now(UTC) < until:
            _passes(runner, 0.5)
        for _ in range(20):
            if _active(alertmanager, key):
                break
            _passes(runner, 0.5)
        assert len(_active(alertmanager, key)) == 1  # the snooze is over: it fires
