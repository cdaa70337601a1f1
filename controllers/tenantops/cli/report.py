"""`tenantops report`: the cost report on demand — printed, written to a directory, or queued and mailed.

It reads the cost ledger the controller committed to the state database, so it shows exactly what the
scheduled mail would. `--send` goes through the same durable outbox as the scheduled report: if the mail
server is down the report stays queued and the controller's next delivery run sends it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import click

from tenantops.cli.options import (
    STATE_HELP,
    config_options,
    echo_json,
    json_option,
    load,
    output_folder,
    require_state,
    settings_from,
)
from tenantops.record.database import database_url

_PERIOD = re.compile(r"^([1-9][0-9]{0,2})([dw])$")


def parse_period(value: str) -> int:
    """`7d` or `2w` -> days."""
    match = _PERIOD.match(value.strip())
    if not match:
        raise click.BadParameter(f"{value!r} is not a period such as 7d, 30d or 2w", param_hint="--period")
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


def _parse_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO time such as 2026-11-16T08:00Z", param_hint="--at") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # the report window reaches back whole periods and forward a day: dates near year 1 or 9999 overflow
    if not 1971 <= moment.year <= 9000:
        raise click.BadParameter(f"{value!r} is outside the years 1971..9000", param_hint="--at")
    return moment


@click.command("report")
@config_options
@click.option("--period", default=None, help="Report period, e.g. 7d or 2w. Default: the ReportPolicy's period_days.")
@click.option("--send", is_flag=True, help="Queue the report in the outbox and deliver it now (SMTP or SES).")
@click.option("--output", "output", type=click.Path(file_okay=False), default=None,
              help="Write .html, .png, .txt, .csv and .eml to this directory instead of mailing.")
@click.option("--state", type=click.Path(dir_okay=False), default=None,
              help=f"State database with the cost ledger and the outbox. {STATE_HELP}")
@click.option("--savings", "savings_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Right-sizing findings as JSON (`tenantops rightsize --json`) for the savings section.")
@click.option("--at", "at", default=None, help="Report as of this time (ISO 8601; default now).")
@json_option
@click.pass_context
def command(
    ctx: click.Context,
    catalog: str | None,
    policies: str | None,
    period: str | None,
    send: bool,
    output: str | None,
    state: str | None,
    savings_file: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Build the cost report for the last period: print it, write it (--output DIR), or mail it (--send)."""
    import json
    from pathlib import Path

    from tenantops.notify.outbox import Outbox, Status
    from tenantops.notify.report.build import build_report_data, load_ledger, savings_from_json
    from tenantops.notify.report.message import compose, render_report, write_files
    from tenantops.notify.service import REPORT_KIND, _recipients, deliver_pending

    if send and output:
        raise click.UsageError("--send and --output exclude each other")
    days = parse_period(period) if period else None
    now = _parse_at(at)
    settings = settings_from(ctx, catalog=catalog, policies=policies, state=state)
    # --send too: a mistyped --state would otherwise be created empty and a report of no cost mailed to ops
    require_state(settings)
    config = load(settings)
    findings = None
    if savings_file:
        try:
            findings = json.loads(Path(savings_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"{savings_file}: not JSON: {exc}", param_hint="--savings") from None
    if output:
        output_folder(output)  # after the inputs are known good, before the report is built
    ledger = load_ledger(database_url(settings))
    data = build_report_data(config, ledger, now, period_days=days, savings=savings_from_json(findings))
    result: dict[str, object] = {"report": data.to_json()}

    if output or send:
        report = render_report(data)
        message = compose(report, sender=settings.mail_from, recipients=_recipients(config, settings))
        result["subject"] = report.subject
        if output:
            paths = write_files(report, output, message)
            result["files"] = [str(p) for p in paths]
            if not as_json:
                click.echo(report.subject)
                for path in paths:
                    click.echo(f"  wrote {path}")
        else:
            key = f"{REPORT_KIND}:manual:{data.period_start.isoformat()}:{data.period_end.isoformat()}"
            outbox = Outbox(database_url(settings))
            queued = outbox.enqueue(REPORT_KIND, key, message, now=now)
            delivery = deliver_pending(settings, now)
            entry = outbox.get(key)
            status = entry.status if entry else Status.PENDING
            result.update(key=key, queued=queued, status=str(status), sent=delivery.sent, retried=delivery.retried,
                          failed=delivery.failed, error=entry.last_error if entry else None)
            if not as_json:
                if not queued:
                    click.echo(f"already queued earlier: {key}")
                click.echo(f"{report.subject}: {status}" + (f" ({entry.last_error})" if entry and
                                                             entry.last_error else ""))
            if status is not Status.SENT:
                if as_json:
                    echo_json(result)
                hint = "it stays queued; the controller's next delivery run retries it" \
                    if status is Status.PENDING else "it was given up on"
                why = f"{entry.last_error}; " if entry and entry.last_error else ""  # names the setting
                raise click.ClickException(f"report not delivered ({status}): {why}{hint}")
    elif not as_json:
        click.echo(render_report(data, charts=False).text, nl=False)
    if as_json:
        echo_json(result)
