"""`tenantops audit`: read the decision log: what was decided for whom, from which inputs, and why."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from tenantops.cli.options import STATE_HELP, echo_json, json_option, require_state, settings_from
from tenantops.record import audit
from tenantops.record.database import database_url
from tenantops.record.store import StateStore


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


_MAX_LIMIT = 2**62


@click.command("audit")
@click.option("--tenant", default=None, help="Only this tenant's entries.")
@click.option("--since", default=None, help="Only entries at or after this time: a duration (2h, 30m, 7d) or ISO-8601.")
@click.option("--kind", default=None,
              help="Only this kind (scale, skip, act, error, breaker, alert, ...); matching none, the kinds the log "
                   "holds are named.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many (the newest); any larger number than there are entries means all.")
@click.option("--state", default=None, help=f"SQLite state file. {STATE_HELP}")
@json_option
@click.pass_context
def command(ctx: click.Context, tenant: str | None, since: str | None, kind: str | None, limit: int | None,
            state: str | None, as_json: bool) -> None:
    """Print audit entries oldest first: time, subject, kind, rule, old -> new and the reason."""
    settings = settings_from(ctx, state=state)
    try:
        since_at = audit.parse_since(since, datetime.now(UTC)) if since is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    require_state(settings)
    with StateStore(database_url(settings), read_only=True) as store:
        # SQLite's LIMIT is a 64-bit integer: a larger --limit than any table could hold means all of them.
        entries = list(audit.query(store.connection, tenant=tenant, since=since_at, kind=kind,
                                   limit=None if limit is None else min(limit, _MAX_LIMIT)))
        known = audit.kinds(store.connection) if kind is not None and not entries else None
    if as_json:
        echo_json([e.as_dict() for e in entries])
        return
    if not entries:
        if known is not None and kind not in known:
            # A kind the log has never held is most often a typo: say which kinds there are.
            click.echo(f"no audit entries of kind {kind!r}; the log holds "
                       + (f"the kinds {', '.join(known)}" if known else "no entries at all"))
            return
        click.echo("no audit entries match")
        return
    for e in entries:
        subject = f"{e.tenant or '*'}/{e.workload}" if e.workload else (e.tenant or "*")
        click.echo(f"{e.at.isoformat(timespec='seconds')}  {subject:<24} {e.kind:<8} {e.rule:<22} "
                   f"{_fmt(e.old)} -> {_fmt(e.new)}  {e.reason}")
