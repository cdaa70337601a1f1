"""The report end to end: requested when due, rendered into mail, delivered to a real SMTP server, exactly
once, nothing lost."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tenantops.cli.main import main
from tenantops.config import Config, load_config
from tenantops.config.settings import Settings
from tenantops.decide.cost.ledger import Ledger
from tenantops.decide.reports.decider import due_request
from tenantops.notify import deliver_pending
from tenantops.notify.outbox import Outbox, Status
from tenantops.notify.report.build import build_report_data
from tenantops.notify.service import render_request
from tenantops.record.store import StateStore
from tenantops_lab.sandbox.smtp import SmtpServer

from .conftest import DAILY, NOW, REPO, day, make_state, write_catalog

pytestmark = pytest.mark.integration


def settings_for(server: SmtpServer, state: Path) -> Settings:
    return Settings(smtp_host=server.host, smtp_port=server.port, state=str(state),
                    mail_from="tenantops@example.com")


def queue_due(config: Config, settings: Settings, now: datetime, ledger: Ledger) -> list[str]:
    """The mail of the report moment due at `now` (nothing requested before), as the delivery run renders
    its request: the keys newly queued, the ops report's first."""
    request = due_request(config.policies.reports, None, now)
    assert request is not None
    return render_request(config, settings, request, ledger=ledger)


def parts_tree(msg: EmailMessage) -> Any:
    if msg.is_multipart():
        return (msg.get_content_type(), [parts_tree(p) for p in msg.iter_parts()])  # type: ignore[arg-type]
    return msg.get_content_type()


def ops_mail(server: SmtpServer) -> EmailMessage:
    found = [m for m in server.received if "ops@example.com" in m.rcpt_tos]
    assert len(found) == 1, [m.message["Subject"] for m in server.received]
    return found[0].message


def test_due_report_delivered_to_smtp_with_structure_figures_csv_and_images(
    smtp_server: SmtpServer, tmp_path: Path, config: Config, ledger: Ledger
) -> None:
    settings = settings_for(smtp_server, tmp_path / "state.db")
    queued = queue_due(config, settings, NOW, ledger)
    assert queued[0].startswith("cost-report:2026-11-16T08:00:00+01:00")
    # acme (at risk) gets its own budget mail at its contacts; the hostile-named tenant too.
    assert sorted(k.rsplit(":", 1)[-1] for k in queued[1:]) == ["acme", "evil"]
    tenants = {e.dedup_key: e.tenant for e in Outbox(settings.state).entries()}
    assert tenants == {queued[0]: None, **{k: k.rsplit(":", 1)[-1] for k in queued[1:]}}  # the report: ops-wide
    report = deliver_pending(settings, NOW)
    assert sorted(report.sent) == sorted(queued)
    smtp_server.wait_for(len(queued))
    msg = ops_mail(smtp_server)

    assert parts_tree(msg) == ("multipart/mixed", [
        ("multipart/related", [
            ("multipart/alternative", ["text/plain", "text/html"]),
            "image/png", "image/png", "image/png", "image/png",
        ]),
        "text/csv",
    ])
    assert msg["Subject"] == "Cost report 2026-11-09 to 2026-11-15: $1,820.00 (+10.6% vs previous 7 days)"
    assert msg["Message-ID"]

    expected = build_report_data(config, ledger, NOW)
    assert expected.total_usd == pytest.approx(sum(ledger.totals(day(-7), day(0), include_buckets=True).values()))
    related = next(msg.iter_parts())
    alternative = next(related.iter_parts())  # type: ignore[attr-defined]
    text, html = (p.get_content() for p in alternative.iter_parts())
    for row in expected.rows:
        assert f"${row.cost_usd:,.2f}" in html and f"${row.cost_usd:,.2f}" in text
    assert "$1,820.00" in html and "+10.6%" in html

    cids = re.findall(r'src="cid:([^"]+)"', html)
    images = {p["Content-ID"].strip("<>"): p for p in related.iter_parts() if p.get_content_type() == "image/png"}  # type: ignore[attr-defined]
    assert len(cids) == 4 and set(cids) == set(images)  # spend trend, top tenants, budget burn, capacity
    # The ops report says where the fleet is heading: monthly forecast with its interval, unit cost, commitments.
    assert expected.capacity is not None and len(expected.capacity.months) == 6
    assert "Capacity: where the fleet is heading" in html and "CAPACITY (forecast by UTC month" in text
    assert expected.capacity.months[0] in html and "Cost to serve:" in text
    assert all(lo <= p <= hi for p, lo, hi in zip(expected.capacity.point_usd, expected.capacity.low_usd,
                                                   expected.capacity.high_usd, strict=True))
    for part in images.values():
        assert part.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
        assert part.get_content_disposition() == "inline"

    attachment = list(msg.iter_parts())[1]
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "cost-report-2026-11-09-2026-11-16.csv"
    rows = {r["tenant"]: r for r in csv.DictReader(io.StringIO(attachment.get_content()))}
    for row in expected.rows:
        assert float(rows[row.tenant]["cost_usd"]) == pytest.approx(row.cost_usd, abs=0.005)
    assert "<script>" not in html

    tenant_mail = [m for m in smtp_server.received if m.rcpt_tos == ("billing@acme.example.com",)]
    assert len(tenant_mail) == 1
    assert "Acme Corp: budget at risk" in tenant_mail[0].message["Subject"]
    assert "Globex" not in tenant_mail[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "CAPACITY" not in tenant_mail[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # Later passes the same week: not due again (the moment is recorded as requested), nothing sent twice.
    moment = datetime.fromisoformat(queued[0].removeprefix("cost-report:"))
    assert due_request(config.policies.reports, moment, NOW + timedelta(hours=5)) is None
    assert deliver_pending(settings, NOW + timedelta(hours=5)).sent == []
    assert len(smtp_server.received) == len(queued)


def test_server_down_then_up_delivers_once_nothing_lost(tmp_path: Path, config: Config, ledger: Ledger) -> None:
    server = SmtpServer()  # not started: the mail server is down
    settings = settings_for(server, tmp_path / "state.db")
    queued = queue_due(config, settings, NOW, ledger)
    first = deliver_pending(settings, NOW)
    assert first.sent == [] and sorted(first.retried) == sorted(queued)
    outbox = Outbox(settings.state)
    assert outbox.count(Status.PENDING) == len(queued)
    # Still down on the first retry; then it refuses once with 451; then it takes everything.
    second = deliver_pending(settings, NOW + timedelta(minutes=1))
    assert second.sent == [] and sorted(second.retried) == sorted(queued)
    with server:
        server.refuse_next(1)
        now = NOW + timedelta(minutes=1)
        for _ in range(6):
            now += timedelta(hours=1)
            deliver_pending(settings, now)
        server.wait_for(len(queued))
        received = server.received
    assert outbox.count(Status.SENT) == len(queued)
    subjects = [m.message["Subject"] for m in received]
    assert len(subjects) == len(set(subjects)) == len(queued)
    assert [m for m in received if "ops@example.com" in m.rcpt_tos]


def test_permanent_refusal_is_an_alert_and_a_metric(smtp_server: SmtpServer, tmp_path: Path, config: Config,
                                                     ledger: Ledger) -> None:
    settings = settings_for(smtp_server, tmp_path / "state.db")
    queued = queue_due(config, settings, NOW, ledger)
    smtp_server.refuse_next(len(queued), "550 5.1.1 mailbox unavailable")
    report = deliver_pending(settings, NOW)
    assert sorted(report.failed) == sorted(queued)
    assert {a.cause for a in report.alerts} == {"mail-delivery-failed"}
    assert any("550" in a.summary for a in report.alerts)


def test_cli_writes_files_and_json(tmp_path: Path, ledger_state: dict[str, Any],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.db"
    with StateStore(state) as store:
        store.commit({"cost": ledger_state})
    catalog = write_catalog(tmp_path)
    out = tmp_path / "out"
    args = ["report", "--catalog", str(catalog), "--policies", str(REPO / "policies"), "--state", str(state),
            "--at", NOW.isoformat()]
    main([*args, "--output", str(out)])
    names = sorted(p.suffix for p in out.iterdir())
    assert names == [".csv", ".eml", ".html", ".png", ".png", ".png", ".png", ".txt"]  # the fourth: capacity
    html = next(out.glob("*.html")).read_text()
    assert 'src="cost-report-2026-11-09-2026-11-16-spend-trend.png"' in html
    capsys.readouterr()
    main([*args, "--json", "--period", "7d"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["report"]["total_usd"] == pytest.approx(1820.0)
    assert payload["report"]["top_movers"] == ["acme", "globex", "evil"]


def test_a_report_at_a_time_with_an_offset_is_the_report_of_that_moment(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`--at 2026-12-01T00:30+01:00` is 23:30 UTC on 30 November: the budgets are November's, as the
    ledger's months are UTC ones. Read in the offset's own calendar the month was December, so every
    tenant's month to date was $0 (a tenant over its budget showed "ok") and the capacity plan started a
    month late."""
    moment = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    state = tmp_path / "state.db"
    with StateStore(state) as store:
        store.commit({"cost": make_state(DAILY, moment)})
    args = ["report", "--catalog", str(write_catalog(tmp_path)), "--policies", str(REPO / "policies"),
            "--state", str(state), "--json", "--at"]
    reports = []
    for at in ("2026-11-30T23:30:00+00:00", "2026-12-01T00:30:00+01:00", "2026-11-30T18:30:00-05:00"):
        main([*args, at])
        reports.append(json.loads(capsys.readouterr().out)["report"])
    rows = {r["tenant"]: r for r in reports[0]["rows"]}
    assert rows["acme"]["budget"]["month_to_date_usd"] == pytest.approx(7 * 100 + 7 * 130)  # 16-29 Nov
    assert reports[0]["capacity"]["months"][0] == "2026-11"
    assert reports[1] == reports[0] and reports[2] == reports[0]


def test_cli_reads_savings_from_a_rightsize_json_file(tmp_path: Path, ledger_state: dict[str, Any],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`report --savings FILE` takes what `rightsize --json` printed; a row it cannot read is skipped."""
    from tests.report.test_report_data import SAVINGS

    state = tmp_path / "state.db"
    with StateStore(state) as store:
        store.commit({"cost": ledger_state})
    printed = {**SAVINGS.to_json(), "applied": [{"tenant": "acme", "workload": "api", "status": "applied",
                                                 "detail": ""}]}
    printed["recommendations"].append({"tenant": "acme"})
    savings = tmp_path / "rightsize.json"
    savings.write_text(json.dumps(printed, sort_keys=True, indent=2))
    main(["report", "--catalog", str(write_catalog(tmp_path)), "--policies", str(REPO / "policies"), "--state",
          str(state), "--at", NOW.isoformat(), "--json", "--savings", str(savings)])
    report = json.loads(capsys.readouterr().out)["report"]
    assert [(s["tenant"], s["monthly_saving_usd"]) for s in report["savings"]] == [("globex", 70.0), ("acme", 12.5)]
    assert report["total_savings_usd_month"] == pytest.approx(82.5)


def test_cli_send_queues_and_survives_a_down_server(tmp_path: Path, ledger_state: dict[str, Any]) -> None:
    state = tmp_path / "state.db"
    with StateStore(state) as store:
        store.commit({"cost": ledger_state})
    server = SmtpServer()
    args = ["--config", str(tmp_path / "settings.yaml"), "report", "--catalog", str(write_catalog(tmp_path)),
            "--policies", str(REPO / "policies"), "--state", str(state), "--at", NOW.isoformat(), "--send"]
    (tmp_path / "settings.yaml").write_text(f"smtp_host: {server.host}\nsmtp_port: {server.port}\n")
    with pytest.raises(SystemExit) as down:
        main(args)
    assert down.value.code == 1
    assert Outbox(state).count(Status.PENDING) == 1
    with server:
        deliver_pending(Settings(smtp_host=server.host, smtp_port=server.port, state=str(state)),
                        NOW + timedelta(hours=1))
        (mail,) = server.wait_for(1)
    assert mail.message["Subject"].startswith("Cost report 2026-11-09 to 2026-11-15")


def test_cli_bad_period_is_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as bad:
        main(["report", "--period", "seven", "--state", str(tmp_path / "s.db")])
    assert bad.value.code == 2


KILLED_MIDWAY = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from report.conftest import NOW, REPO, make_state
from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.decide.cost.ledger import Ledger
from tenantops.decide.reports.decider import due_request
from tenantops.notify.service import render_request
catalog, state, tenants = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ledger = Ledger(make_state({f"t{i:02d}": [100.0] * 14 for i in range(tenants)}))
config = load_config(catalog, REPO / "policies")
render_request(config, Settings(state=state, mail_from="tenantops@example.com"),
               due_request(config.policies.reports, None, NOW), ledger=ledger)
"""


def test_a_controller_stopped_while_queueing_the_tenants_mails_queues_the_rest_next_time(tmp_path: Path) -> None:
    """The process rendering a report request is killed as soon as the first mail of the moment is in the
    outbox. Rendering the request again (the delivery run after a restart: the request is not done) must
    queue every tenant budget mail still missing and the ops report, each once: the ops report is queued
    last, so a stop halfway never leaves tenants without their mail."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tenantops.decide.cost.ledger import Ledger

    from .conftest import make_state

    n = 12
    tenants = [{"id": f"t{i:02d}", "name": f"Tenant {i}", "tier": "pro", "isolation": "pool",
                "region": "us-east-1", "budget_usd_month": 1000.0, "contacts": [f"billing@t{i:02d}.example.com"],
                "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 4}]} for i in range(n)]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(json.dumps({"tenants": tenants}), encoding="utf-8")
    state = str(tmp_path / "state.db")
    Outbox(state)  # the outbox table exists before the child starts
    child = subprocess.Popen([sys.executable, "-c", KILLED_MIDWAY, str(REPO / "tests"), str(catalog), state, str(n)])
    try:
        deadline = time.monotonic() + 120
        while not Outbox(state).entries():
            assert child.poll() is None, "the child ended before queueing anything"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    first = {e.dedup_key for e in Outbox(state).entries()}
    assert len(first) < n + 1, "the child finished before it was stopped; nothing was tested"

    config = load_config(catalog, REPO / "policies")
    settings = Settings(state=state, mail_from="tenantops@example.com")
    ledger = Ledger(make_state({f"t{i:02d}": [100.0] * 14 for i in range(n)}))
    request = due_request(config.policies.reports, None, NOW + timedelta(minutes=1))
    assert request is not None
    render_request(config, settings, request, ledger=ledger)
    keys = sorted(e.dedup_key for e in Outbox(state).entries())
    report = "cost-report:2026-11-16T08:00:00+01:00"
    assert keys == sorted([report, *(f"{report}:tenant:t{i:02d}" for i in range(n))])


def test_a_report_built_late_covers_the_week_of_its_scheduled_moment(tmp_path: Path, config: Config,
                                                                     ledger: Ledger) -> None:
    """The controller was down over Monday 08:00 and comes back on Wednesday: the report it queues then is
    Monday's, for the seven days before Monday, not for the seven days before Wednesday (which left two
    days out of every report and put two others in two)."""
    settings = Settings(state=str(tmp_path / "state.db"), mail_from="tenantops@example.com")
    wednesday = NOW + timedelta(days=2, hours=3)
    queued = queue_due(config, settings, wednesday, ledger)
    assert queued[0] == "cost-report:2026-11-16T08:00:00+01:00"
    subjects = {e.dedup_key: str(_parsed(e.message)["Subject"]) for e in Outbox(settings.state).entries()}
    assert all(" 2026-11-09 to 2026-11-15" in s for s in subjects.values()), subjects
    on_time = tmp_path / "on-time.db"
    queue_due(config, settings.model_copy(update={"state": str(on_time)}), NOW, ledger)
    assert {e.dedup_key: str(_parsed(e.message)["Subject"]) for e in Outbox(on_time).entries()} == subjects


def _parsed(raw: bytes) -> EmailMessage:
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message
