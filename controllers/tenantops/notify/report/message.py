"""Composing the report mail: multipart/mixed > multipart/related > multipart/alternative.

    multipart/mixed
    ├── multipart/related (type="multipart/alternative")
    │   ├── multipart/alternative
    │   │   ├── text/plain      (read by clients that show no HTML, and by filters)
    │   │   └── text/html       (<img src="cid:...">)
    │   ├── image/png  Content-ID <spend-trend.…@tenantops>   (inline)
    │   ├── image/png  Content-ID <top-tenants.…@tenantops>
    │   └── image/png  Content-ID <budget-burn.…@tenantops>
    └── text/csv  (attachment: the table)

Images are referenced by Content-ID rather than linked, so the report renders with remote content blocked
and nothing is fetched when it is opened. The same pieces are written to a directory by `write_files`
(with the images as sibling files) so a person can open the HTML in a browser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from tenantops.notify.outbox import WIRE_POLICY
from tenantops.notify.report.charts import render_charts
from tenantops.notify.report.model import ReportData
from tenantops.notify.report.render import render_csv, render_html, render_text, subject


@dataclass(frozen=True)
class RenderedReport:
    """Every rendering of one `ReportData`, ready to mail or to write to disk."""

    data: ReportData
    subject: str
    text: str
    csv: str
    charts: Mapping[str, bytes]
    cids: Mapping[str, str]  # chart name -> Content-ID without angle brackets

    @property
    def stem(self) -> str:
        return f"cost-report-{self.data.period_start.isoformat()}-{self.data.period_end.isoformat()}"

    def html(self, for_mail: bool = True) -> str:
        if for_mail:
            images = {name: f"cid:{cid}" for name, cid in self.cids.items()}
        else:
            images = {name: f"{self.stem}-{name}.png" for name in self.charts}
        return render_html(self.data, images, self.subject)


def render_report(data: ReportData, *, subject_prefix: str = "Cost report", charts: bool = True) -> RenderedReport:
    pngs = render_charts(data) if charts else {}
    # Content-IDs unique to this report and stable for it, so a resent copy is byte-for-byte the same mail.
    tag = hashlib.sha256(f"{data.period_start}/{data.period_end}/{subject_prefix}".encode()).hexdigest()[:12]
    cids = {name: f"{name}.{tag}@tenantops" for name in pngs}
    title = subject(data, subject_prefix)
    return RenderedReport(data, title, render_text(data, title), render_csv(data), pngs, cids)


def compose(
    report: RenderedReport,
    *,
    sender: str,
    recipients: Sequence[str],
    sender_name: str = "tenantops",
) -> EmailMessage:
    """The MIME message (no Message-ID: the outbox sets one from its dedup key)."""
    alternative = EmailMessage()
    alternative.set_content(report.text, subtype="plain", charset="utf-8")
    alternative.add_alternative(report.html(for_mail=True), subtype="html", charset="utf-8")

    related = EmailMessage()
    related.make_related()
    related.set_param("type", "multipart/alternative")
    related.attach(alternative)
    for name, png in report.charts.items():
        image = EmailMessage()
        image.set_content(png, maintype="image", subtype="png", disposition="inline",
                          filename=f"{name}.png", cid=f"<{report.cids[name]}>")
        related.attach(image)

    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender))
    message["To"] = ", ".join(recipients)
    message["Subject"] = report.subject
    message["Date"] = format_datetime(report.data.generated_at)
    message["MIME-Version"] = "1.0"
    message["X-Tenantops-Report"] = f"{report.data.period_start.isoformat()}/{report.data.period_end.isoformat()}"
    message.make_mixed()
    message.attach(related)
    table = EmailMessage()
    table.set_content(report.csv, subtype="csv", charset="utf-8", disposition="attachment",
                      filename=f"{report.stem}.csv")
    message.attach(table)
    return message


def write_files(report: RenderedReport, directory: str | Path, message: EmailMessage | None = None) -> list[Path]:
    """Write the report as a person would want it on disk: .html (+ .png beside it), .txt, .csv and .eml."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, content: str | bytes) -> None:
        path = out / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        written.append(path)

    put(f"{report.stem}.html", report.html(for_mail=False))
    for name, png in report.charts.items():
        put(f"{report.stem}-{name}.png", png)
    put(f"{report.stem}.txt", report.text)
    put(f"{report.stem}.csv", report.csv)
    if message is not None:
        put(f"{report.stem}.eml", message.as_bytes(policy=WIRE_POLICY))
    return written
