"""What the demo leaves behind: the cost report (mailed and on disk) and the audit log in readable form.

The report goes the production way: figures from the controller's cost ledger (`notify.report`), one
MIME message, queued in the durable outbox and delivered by the SMTP transport, here to the local server.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tenantops.config import Config
from tenantops.config.settings import Settings
from tenantops.notify.report.model import ReportData
from tenantops.record.audit import query
from tenantops.record.database import open_database
from tenantops.structs.rightsizing_findings import RightsizingFindings
from tenantops_lab.sandbox.smtp import SmtpServer


def send_report(config: Config, settings: Settings, directory: Path, smtp: SmtpServer, now: datetime, *,
                period_days: int, rightsizing: RightsizingFindings | None = None) -> tuple[dict[str, str], ReportData]:
    """Build, mail and write the cost report as of trace time `now`; returns the files written and its data.

    The period is the `period_days` whole UTC days before `now`'s day, against the same number before
    them; savings are the right-sizing recommendations of the controller's last pass (`rightsizing`).
    """
    from tenantops.notify.mail import transport_from_settings
    from tenantops.notify.outbox import Outbox
    from tenantops.notify.report.build import build_report_data, load_ledger, savings_from_findings
    from tenantops.notify.report.message import compose, render_report, write_files

    ledger = load_ledger(settings.state)
    data = build_report_data(config, ledger, now, period_days=period_days, savings=savings_from_findings(rightsizing))
    rendered = render_report(data, subject_prefix="Cost report (tenantops demo)")
    recipients = [settings.ops_email or "ops@example.com"]
    message = compose(rendered, sender=settings.mail_from, recipients=recipients)
    outbox = Outbox(Path(settings.state).with_name("outbox.db"))
    outbox.enqueue("report", f"demo-report:{now.isoformat()}", message, now=now)
    delivery = outbox.deliver(transport_from_settings(settings), now)
    if not delivery.sent:
        raise RuntimeError(f"report not delivered to {smtp.host}:{smtp.port}: retried={delivery.retried} "
                           f"failed={delivery.failed}")
    written = write_files(rendered, directory, message)
    files = {f"report_{p.suffix.lstrip('.')}": str(p) for p in written if p.suffix in (".html", ".txt", ".csv", ".eml")}
    files["report_dir"] = str(directory)
    return files, data


def export_audit(state_path: str, out: Path) -> dict[str, str]:
    """The audit log as JSON lines (every field) and as text (one line per decision, reason included)."""
    db = open_database(state_path, pooled=False)
    try:
        entries = list(query(db.engine))
    finally:
        db.dispose()
    jsonl = out / "audit.jsonl"
    text = out / "audit.txt"
    with jsonl.open("w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry.as_dict(), sort_keys=True, default=str) + "\n")
    with text.open("w", encoding="utf-8") as handle:
        for entry in entries:
            if entry.kind in ("scale", "act", "skip", "breaker", "error", "alert"):
                handle.write(_line(entry.as_dict()) + "\n")
    return {"audit_jsonl": str(jsonl), "audit_txt": str(text)}


def _line(entry: dict[str, Any]) -> str:
    subject = "/".join(x for x in (entry.get("tenant"), entry.get("workload")) if x) or "-"
    change = f" {entry['old']}->{entry['new']}" if entry.get("old") is not None or entry.get("new") is not None else ""
    return f"{entry['at']} {entry['kind']:<6} {subject:<22} {entry['rule']}{change}: {entry['reason']}"
