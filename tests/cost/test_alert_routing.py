"""Alerts delivered to a real HTTP webhook, an Alertmanager v2 API stand-in and, via the outbox, SMTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.cost.helpers import make_config, tenant

from tenantops.notify.alerting import AlertRouter
from tenantops.notify.alertmanager import AlertmanagerSender
from tenantops.notify.outbox import Outbox
from tenantops.notify.webhook import WebhookSender, slack_payload
from tenantops.structs.plan import Alert, Severity
from tenantops_lab.sandbox.alert_receivers import WebhookReceiver

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


def anomaly(tid: str = "acme") -> Alert:
    return Alert(f"cost:anomaly:daily:{tid}", tid, Severity.WARNING, "cost-anomaly-daily",
                 "<!channel> spend up & away", "Check <https://evil.example|this>", 120.5)


def budget() -> Alert:
    return Alert("cost:budget:actual:acme:2026-11:100", "acme", Severity.CRITICAL, "budget-actual",
                 "Acme over budget", "Raise budget", 4100.0)


def test_slack_payload_escapes_markup() -> None:
    text = json.dumps(slack_payload(anomaly()))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "&amp;" in text and "$120.50" in text


@pytest.mark.integration
def test_routes_follow_the_policy_and_reach_real_servers(tmp_path: Path, webhook_receiver: WebhookReceiver,
                                                          smtp_server: Any) -> None:
    config = make_config(tmp_path, [tenant("acme", tier="pro"), tenant("tiny", tier="free")])
    outbox = Outbox(tmp_path / "state.db")
    router = AlertRouter(config, email=outbox, mail_from="tenantops@ops.example", ops_email="ops@ops.example",
                         webhook=WebhookSender(webhook_receiver.url + "/hook"),
                         alertmanager=AlertmanagerSender(webhook_receiver.url))
    outcomes = router.route([anomaly("acme"), budget(), anomaly("tiny")], NOW)
    # pro tier (standard policy): email, webhook, alertmanager; free tier (quiet policy): email only.
    assert {(o.alert_key, o.route) for o in outcomes if o.ok} == {
        ("cost:anomaly:daily:acme", "email"), ("cost:anomaly:daily:acme", "webhook"),
        ("cost:anomaly:daily:acme", "alertmanager"), ("cost:budget:actual:acme:2026-11:100", "email"),
        ("cost:budget:actual:acme:2026-11:100", "webhook"), ("cost:budget:actual:acme:2026-11:100", "alertmanager"),
        ("cost:anomaly:daily:tiny", "email"),
    }
    hooks = [body for path, body in webhook_receiver.posts if path == "/hook"]
    assert len(hooks) == 2 and "acme" in hooks[0]["text"]
    [batch] = [b for p, b in webhook_receiver.posts if p == "/api/v2/alerts"]
    assert [a["labels"]["key"] for a in batch] == ["cost:anomaly:daily:acme", "cost:budget:actual:acme:2026-11:100"]
    assert batch[0]["labels"]["tenant"] == "acme" and batch[0]["annotations"]["amount_usd"] == "120.50"
    # firing: endsAt ahead of startsAt (re-sent every pass keeps it active; Alertmanager contract)
    assert batch[0]["endsAt"] > batch[0]["startsAt"]
    assert batch[0]["labels"]["alertname"] == "TenantopsCostAnomalyDaily"
    # Email: queued durably, then delivered to the real SMTP server; budget mail also to the tenant's contacts.
    from tenantops.notify.mail import SmtpTransport

    report = outbox.deliver(SmtpTransport(host="127.0.0.1", port=smtp_server.port), NOW)
    assert report is not None
    messages = smtp_server.messages
    subjects = sorted(m["Subject"] for m in messages)
    assert len(messages) == 3
    assert any("CRITICAL acme: budget-actual" in s for s in subjects)
    budget_mail = next(m for m in messages if "budget" in m["Subject"])
    assert "ops@acme.example" in budget_mail["To"] and "Suggested action: Raise budget" in budget_mail.get_content()
    # The customer's mail shows the customer's addresses only; the operators get it as a blind copy.
    [received] = [r for r in smtp_server.received if "budget" in r.message["Subject"]]
    assert "ops@ops.example" not in str(received.message["To"]) and received.message["Bcc"] is None
    assert "ops@ops.example" in received.rcpt_tos and "ops@acme.example" in received.rcpt_tos
    anomaly_mail = next(r for r in smtp_server.received if "anomaly" in r.message["Subject"])
    assert "ops@ops.example" in str(anomaly_mail.message["To"])  # an operators' alert is addressed to them
    # Routing the same pass again queues nothing new.
    router.route([anomaly("acme")], NOW)
    assert len(outbox.entries()) == 3
    # Each mail knows its tenant: if the tenant leaves the catalogue, its pending mail can be dropped.
    assert sorted(str(e.tenant) for e in outbox.entries()) == ["acme", "acme", "tiny"]


@pytest.mark.integration
def test_a_failing_route_does_not_stop_the_others(tmp_path: Path, webhook_receiver: WebhookReceiver) -> None:
    config = make_config(tmp_path, [tenant("acme", tier="pro")])
    webhook_receiver.status = 500
    outbox = Outbox(tmp_path / "state.db")
    router = AlertRouter(config, email=outbox, ops_email="ops@ops.example",
                         webhook=WebhookSender(webhook_receiver.url + "/hook"),
                         alertmanager=AlertmanagerSender(webhook_receiver.url))
    outcomes = {o.route: o for o in router.route([anomaly()], NOW)}
    assert not outcomes["webhook"].ok and "500" in outcomes["webhook"].detail
    assert not outcomes["alertmanager"].ok
    assert outcomes["email"].ok and len(outbox.entries()) == 1


def test_an_address_is_named_once_whatever_its_case(tmp_path: Path) -> None:
    config = make_config(tmp_path, [tenant("acme", tier="pro")])
    router = AlertRouter(config, ops_email="OPS@acme.example")
    shown, blind = router.addressees(budget())
    assert [a.casefold() for a in shown + blind].count("ops@acme.example") == 1


def test_resolved_alerts_close_in_alertmanager() -> None:
    from tenantops.notify.alertmanager import to_alertmanager

    resolved = Alert("k", "acme", Severity.WARNING, "cost-anomaly-daily", "Resolved: x", "none", None,
                     {"resolved": True})
    assert to_alertmanager(resolved, NOW)["endsAt"] == NOW.isoformat()


@pytest.mark.integration
def test_a_refused_webhook_is_named_without_its_token(tmp_path: Path, webhook_receiver: WebhookReceiver,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A chat webhook's URL path is its credential; failures name the host only."""
    config = make_config(tmp_path, [tenant("acme", tier="pro")])
    webhook_receiver.status = 404
    url = webhook_receiver.url + "/services/T0/B0/s3cr3t-token"
    router = AlertRouter(config, webhook=WebhookSender(url))
    [outcome] = [o for o in router.route([anomaly()], NOW) if o.route == "webhook"]
    assert not outcome.ok and outcome.detail == f"{webhook_receiver.url} answered 404"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert webhook_receiver.url in logged
    assert "s3cr3t" not in logged + outcome.detail


@pytest.mark.integration
def test_a_webhook_and_an_alertmanager_behind_basic_auth_get_the_alerts(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """`https://user:password@host/...` (percent-encoded as URLs write them) is sent as basic auth: urllib
    took `user:password@host` for the host name and every post failed as "unreachable"."""
    config = make_config(tmp_path, [tenant("acme", tier="pro")])
    with WebhookReceiver(basic_auth=("alerts", "p@ss:w/rd")) as receiver:
        secured = receiver.url.replace("http://", "http://alerts:p%40ss%3Aw%2Frd@")
        router = AlertRouter(config, webhook=WebhookSender(secured + "/hook"), alertmanager=AlertmanagerSender(secured))
        outcomes = router.route([anomaly()], NOW)
        assert {o.route: o.ok for o in outcomes if o.route != "email"} == {"webhook": True, "alertmanager": True}
        assert sorted(path for path, _ in receiver.posts) == ["/api/v2/alerts", "/hook"]
        assert receiver.unauthorised == 0
        wrong = receiver.url.replace("http://", "http://alerts:guess@")
        [refused] = [o for o in AlertRouter(config, webhook=WebhookSender(wrong + "/hook")).route([anomaly()], NOW)
                     if o.route == "webhook"]
        assert not refused.ok and refused.detail == f"{receiver.url} answered 401" and receiver.unauthorised == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "p%40ss" not in logged and "guess" not in logged


@pytest.mark.integration
def test_an_unreachable_webhook_or_alertmanager_is_named_by_its_setting(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens where TENANTOPS_WEBHOOK_URL and TENANTOPS_ALERTMANAGER_URL point: the error says which
    setting to fix, as the SMTP transport's does (`TENANTOPS_SMTP_HOST=...: connection refused`), and still
    names the webhook by its origin only. Before, it read `http://127.0.0.1:PORT unreachable: <urlopen error
    [Errno 111] Connection refused>`, leaving the reader to guess which setting that was."""
    from tenantops.config.settings import Settings
    from tenantops.notify.alerting import notice_jobs, router_from_settings
    from tenantops.notify.outbox import WEBHOOK_NOTICE
    from tenantops_lab.sandbox.ports import LOOPBACK, free_port

    closed = f"http://{LOOPBACK}:{free_port()}"
    config = make_config(tmp_path, [tenant("acme", tier="pro")])
    settings = Settings(state=str(tmp_path / "state.db"), webhook_url=closed + "/services/T0/B0/s3cr3t-token",
                        alertmanager_url=closed)
    outcomes = router_from_settings(config, settings).route([anomaly()], NOW)
    [posted] = [o for o in outcomes if o.route == "alertmanager"]
    assert not posted.ok and posted.detail == f"TENANTOPS_ALERTMANAGER_URL={closed}: connection refused"
    outbox = Outbox(settings.state)
    assert outbox.deliver(None, NOW, jobs=notice_jobs(config, settings), channel="webhook").retried
    [row] = [e for e in outbox.entries() if e.kind == WEBHOOK_NOTICE]
    assert f"TENANTOPS_WEBHOOK_URL={closed}: connection refused" in (row.last_error or ""), row.last_error
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "s3cr3t" not in logged + (row.last_error or "")


def test_a_route_no_setting_configures_is_warned_about_once_naming_the_setting(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The pro tier routes to the webhook and Alertmanager; with neither URL set, every alert of every
    pass logged a warning of its own."""
    from tenantops.notify import alerting

    alerting._UNCONFIGURED_WARNED.clear()
    config = make_config(tmp_path, [tenant("acme", tier="pro")])
    router = AlertRouter(config, email=Outbox(tmp_path / "state.db"), ops_email="ops@ops.example")
    with caplog.at_level("WARNING", logger="tenantops.notify.alerting"):
        for _ in range(3):
            outcomes = router.route([anomaly("acme"), budget()], NOW)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert any("TENANTOPS_WEBHOOK_URL is not set" in w for w in warnings)
    assert any("TENANTOPS_ALERTMANAGER_URL is not set" in w for w in warnings)
    failed = {o.route: o.detail for o in outcomes if not o.ok}
    assert set(failed) == {"webhook", "alertmanager"} and "TENANTOPS_WEBHOOK_URL" in failed["webhook"]
