"""The alert lifecycle is one guard stage over every decider's alerts: a condition that holds for many
passes is one episode, mailed once, escalated once if policy says so, and resolved once, whichever
decider raised it. Mail goes through the real outbox to a real SMTP server."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tenantops.config import Config, load_config
from tenantops.config.catalog import Tenant
from tenantops.config.settings import Settings
from tenantops.decide import alerts as lifecycle
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.cost import CostDecider
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.runner import Runner
from tenantops.engine.wiring import plan_mail, post_pass_hooks
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import StateStore
from tenantops.structs.snapshot import Quality, Reading, Snapshot, WorkloadMetrics
from tenantops_lab.sandbox.smtp import SmtpServer

from .conftest import CATALOG

pytestmark = pytest.mark.integration

OPS = "ops@example.com"
START = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=1)


class SteadySource:
    """Every workload reports steady, healthy metrics, except those listed in `missing` (no series at all)."""

    def __init__(self) -> None:
        self.missing: set[tuple[str, str]] = set()

    def observe(self, config: Config, now: datetime, tenants: Sequence[Tenant] | None = None) -> Snapshot:
        out = {}
        for t in config.tenants if tenants is None else tenants:
            for w in t.workloads:
                values = {} if (t.id, w.name) in self.missing else {
                    "replicas": 2.0, "ready_replicas": 2.0, "requests": 60.0, "cpu": 0.8, "cpu_request": 1.0,
                    "memory": 2.0**29, "memory_request": 2.0**30,
                }
                out[(t.id, w.name)] = WorkloadMetrics(
                    t.id, w.name, {k: Reading(v, Quality.OK, now) for k, v in values.items()})
        return Snapshot(now, out)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def escalating_config(config_files: tuple[Path, Path]) -> tuple[Path, Path]:
    """alpha escalates an alert still active after 3 minutes (the policy's `escalate_after_hours`)."""
    catalog, policies = config_files
    data = yaml.safe_load(catalog.read_text())
    data["tenants"][0]["overrides"] = {"alerts": {"escalate_after_hours": 0.05, "routes": ["email"]}}
    catalog.write_text(yaml.safe_dump(data, sort_keys=False))
    return catalog, policies


def _metrics_mails(smtp: SmtpServer) -> list[tuple[str, str]]:
    out = []
    for m in smtp.received:
        body = m.message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        if "alpha/worker" in text and str(m.message["Subject"]).endswith("alpha: metrics"):
            out.append((str(m.message["Subject"]), text.splitlines()[0]))
    return out


def test_ten_passes_of_missing_metrics_are_one_mail_one_escalation_one_resolve(
    escalating_config: tuple[Path, Path], smtp_server: SmtpServer, tmp_path: Path
) -> None:
    catalog, policies = escalating_config
    assert CATALOG["tenants"][0]["id"] == "alpha"
    settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, state=str(tmp_path / "state.db"),
                        mail_from="tenantops@example.com", ops_email=OPS)
    config = load_config(catalog, policies)
    store = StateStore(settings.state)
    metrics = ControllerMetrics()
    source = SteadySource()
    reconciler = Reconciler(source, store, [AutoscalingDecider(), CostDecider()], register_actuators(), metrics=metrics,
                            mail=plan_mail(settings))
    clock = Clock(START)
    runner = Runner(reconciler, config, catalog=catalog, policies=policies, metrics=metrics, clock=clock)
    runner.on_pass.extend(post_pass_hooks(settings, lambda: runner.config, metrics, dry_run=False, store=store))

    source.missing = {("alpha", "worker")}
    raised = 0
    for _ in range(10):
        result = runner.tick()
        assert result is not None
        raised += sum(1 for a in result.active_alerts if a.key == "metrics:alpha/worker")
        clock.now += STEP
    assert raised >= 7  # the decider raised it every pass once the policy's failed passes were reached
    source.missing = set()
    for _ in range(3):
        runner.tick()
        clock.now += STEP

    mails = _metrics_mails(smtp_server)
    subjects = [s for s, _ in mails]
    assert len(mails) == 3, mails
    # The inbox tells a firing mail from its resolve by the subject alone, as Alertmanager's do.
    assert subjects == ["[tenantops] [FIRING] WARNING alpha: metrics", "[tenantops] [FIRING] CRITICAL alpha: metrics",
                        "[tenantops] [RESOLVED] CRITICAL alpha: metrics"], subjects
    assert mails[1][1].startswith("Escalated") and mails[2][1].startswith("Resolved")
    # The audit says what was sent and why, one row per transition, each naming its episode.
    rows = store.connection.execute(
        "SELECT reason, inputs FROM audit WHERE kind = 'alert' AND tenant = 'alpha' AND workload = 'worker' "
        "ORDER BY id").fetchall()
    assert [r[0].split(":")[0] for r in rows] == ["fire", "escalate", "resolve"]
    assert len({yaml.safe_load(r[1])["episode"] for r in rows}) == 1
    store.close()


def test_a_pass_stopped_before_its_hooks_neither_loses_nor_repeats_the_alert_mail(
    escalating_config: tuple[Path, Path], smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """The pass that fires an episode commits its mail with the episode. A controller stopped right after
    that pass, before any post-pass hook (here: the pass run on its own, which is what a kill at that
    point leaves behind), has the mail in the outbox already; the restarted controller mails it once and
    the episode's later passes mail nothing more. (Before, the mail was queued by a post-pass hook: the
    episode was recorded as notified and the mail was lost.)"""
    catalog, policies = escalating_config
    settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, state=str(tmp_path / "state.db"),
                        mail_from="tenantops@example.com", ops_email=OPS)
    config = load_config(catalog, policies)
    source = SteadySource()
    source.missing = {("alpha", "worker")}
    clock = Clock(START)
    with StateStore(settings.state) as store:
        stopped = Reconciler(source, store, [AutoscalingDecider()], register_actuators(), mail=plan_mail(settings))
        fired = None
        while fired is None:  # the passes until the policy's failed passes are reached and the episode fires
            result = stopped.run_pass(config, clock.now)
            fired = next((a for a in result.alerts if a.key == "metrics:alpha/worker"), None)
            clock.now += STEP
        assert fired.transition == "fire"
        queued = store.connection.execute("SELECT dedup_key, status FROM outbox WHERE kind = 'alert'").fetchall()
        assert queued == [(f"alert:{fired.notice_key}", "pending")]
    assert smtp_server.received == []

    with StateStore(settings.state) as store:  # the restart
        metrics = ControllerMetrics()
        reconciler = Reconciler(source, store, [AutoscalingDecider()], register_actuators(), metrics=metrics,
                                mail=plan_mail(settings))
        runner = Runner(reconciler, config, catalog=catalog, policies=policies, metrics=metrics, clock=clock)
        runner.on_pass.extend(post_pass_hooks(settings, lambda: runner.config, metrics, dry_run=False, store=store))
        for _ in range(2):  # still missing, not yet escalated: nothing new to say
            assert runner.tick() is not None
            clock.now += STEP
    mails = _metrics_mails(smtp_server)
    assert [s for s, _ in mails] == ["[tenantops] [FIRING] WARNING alpha: metrics"]


def test_a_decider_that_fails_keeps_its_open_alerts(config: Config) -> None:
    """A decider absent from the pass (it raised) has not evaluated its conditions: nothing resolves."""
    now = START
    alert = lifecycle.Alert("metrics:alpha/api", "alpha", lifecycle.Severity.WARNING, "metrics", "s", "a")
    first = lifecycle.advance({}, [lifecycle.Raised("autoscaling", [alert])], config, now, {"alpha"})
    assert [a.transition for a in first.notifications] == ["fire"]
    state = dict(first.changes)
    quiet = lifecycle.advance(state, [], config, now + STEP, {"alpha"})
    assert quiet.notifications == () and not quiet.changes
    gone = lifecycle.advance(state, [lifecycle.Raised("autoscaling", [])], config, now + STEP, {"alpha"})
    assert [a.transition for a in gone.notifications] == ["resolve"]
    other_shard = lifecycle.advance(state, [lifecycle.Raised("autoscaling", [])], config, now + STEP, {"beta"})
    assert other_shard.notifications == ()


def test_records_kept_by_an_older_cost_state_are_taken_over_not_mailed_again(config: Config) -> None:
    now = START
    alert = lifecycle.Alert("budget:alpha", "alpha", lifecycle.Severity.WARNING, "budget-actual", "s", "a")
    old = lifecycle.advance({}, [lifecycle.Raised("cost", [alert])], config, now, {"alpha"})
    legacy = {k: v for k, v in old.changes.items()}
    for raw in legacy.values():
        raw.pop("src")
    again = lifecycle.advance({}, [lifecycle.Raised("cost", [alert], ())], config, now + STEP, {"alpha"},
                              legacy=legacy)
    assert again.notifications == ()
    assert again.changes["budget:alpha"]["src"] == "cost"
