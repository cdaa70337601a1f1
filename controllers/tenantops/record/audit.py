"""The append-only audit log: every decision with its inputs, old → new, the rule that fired and why.

Rows are written by `StateStore.commit` in the same transaction as the decider state they explain, so
the log can never claim a decision whose state was lost, nor the other way round. Triggers refuse
UPDATE (and, in PostgreSQL, TRUNCATE) always, and DELETE of a row younger than
`MIN_AUDIT_RETENTION_DAYS` by the database's clock: the log is evidence, and evidence is not edited. Rows
older than the ControllerPolicy's `audit_retention_days` are deleted a batch after each pass (`prune`), so
the table holds that long a history, not every pass ever. The table and its triggers are in `schema` and
the migrations; the same queries serve SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tenantops.config.kinds.controller import MIN_AUDIT_RETENTION_DAYS
from tenantops.record.schema import audit as table
from tenantops.structs.plan import Decision

# One encoder for every row: `json.dumps` with options builds a new encoder per call, which showed up as
# a third of the record stage at 30,000 audit rows a pass.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)


def to_json(value: Any) -> str:
    """Compact, key-sorted JSON; values JSON cannot hold (datetimes, enums) are written as text."""
    return _ENCODER.encode(value)


def _row(decision: Decision) -> dict[str, Any]:
    return {
        "at": decision.at.timestamp(),
        "tenant": decision.tenant,
        "workload": decision.workload,
        "kind": decision.kind,
        "rule": decision.rule,
        "reason": decision.reason,
        "old": None if decision.old is None else to_json(decision.old),
        "new": None if decision.new is None else to_json(decision.new),
        "inputs": to_json(dict(decision.inputs)),
    }




_COLUMNS = ("at", "tenant", "workload", "kind", "rule", "reason", "old", "new", "inputs")
_SQLITE_INSERT = f"INSERT INTO audit ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"


def append(conn: Connection, decisions: Iterable[Decision]) -> int:
    """Insert decisions (inside the caller's transaction). Returns the number of rows written.

    PostgreSQL gets them by COPY: one stream instead of a statement per row, which is what keeps a
    pass over 10,000 tenants (tens of thousands of rows) within 2x of SQLite's local file writes.
    """
    rows = [_row(d) for d in decisions]
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        copy_rows(conn, f"COPY audit ({', '.join(_COLUMNS)}) FROM STDIN", ([r[c] for c in _COLUMNS] for r in rows))
    else:
        # The driver's own executemany with plain tuples: SQLAlchemy's per-row parameter processing was
        # most of the record stage at 30,000 rows a pass.
        conn.exec_driver_sql(_SQLITE_INSERT, [tuple(r[c] for c in _COLUMNS) for r in rows])
    return len(rows)


PRUNE_BATCH = 50_000
"""Audit rows `prune` deletes per call (one call after each pass): more than the 30,000 a pass writes at
10,000 tenants (docs/benchmarks.md §3), so rows leaving the retention never pile up faster than they go."""


def prune(conn: Connection, now: datetime, retention: timedelta, limit: int = PRUNE_BATCH) -> int:
    """Delete (inside the caller's transaction) the oldest audit rows written longer than `retention` before
    `now`, at most `limit`; returns how many. A row younger than `MIN_AUDIT_RETENTION_DAYS` by the
    database's clock is never chosen, whatever `retention` or `now` say (a clock ahead, a retention set
    below the least), so the delete never meets the trigger that refuses it."""
    floor = MIN_AUDIT_RETENTION_DAYS * 86400
    if conn.dialect.name == "postgresql":
        db_now: sa.ColumnElement[Any] = sa.extract("epoch", sa.func.now())
    else:
        db_now = sa.cast(sa.func.strftime("%s", "now"), sa.Float)
    oldest = (sa.select(table.c.id).where(table.c.at < (now - retention).timestamp(), table.c.at <= db_now - floor)
              .order_by(table.c.at).limit(limit))
    ids = [int(i) for i in conn.execute(oldest).scalars()]
    if ids:
        conn.execute(sa.delete(table).where(table.c.id.in_(ids)))
    return len(ids)


def copy_rows(conn: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL COPY ... FROM STDIN on the transaction's own driver connection (psycopg 3)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy wraps every other driver error
        raise sa.exc.DBAPIError(sql, None, exc) from exc


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    tenant: str | None
    workload: str | None
    kind: str
    rule: str
    reason: str
    old: Any
    new: Any
    inputs: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at.isoformat(), "tenant": self.tenant, "workload": self.workload,
            "kind": self.kind, "rule": self.rule, "reason": self.reason, "old": self.old, "new": self.new,
            "inputs": self.inputs,
        }


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime) -> datetime:
    """`2h`, `30m`, `7d` (before `now`) or an ISO-8601 time (UTC when no offset is given)."""
    match = _RELATIVE.match(text)
    if match:
        try:
            return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
        except OverflowError:  # e.g. 10**22 days: before year 1
            raise ValueError(f"{text!r} reaches back before year 1") from None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration like 2h / 30m / 7d nor an ISO-8601 time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class _HasEngine(Protocol):
    @property
    def engine(self) -> Engine: ...


def _rows(source: Connection | Engine | _HasEngine, stmt: sa.Select[Any]) -> list[Any]:
    if not isinstance(source, (Connection, Engine)):
        source = source.engine
    if isinstance(source, Engine):
        with source.connect().execution_options(tenantops_read_only=True) as conn:
            return list(conn.execute(stmt).all())
    return list(source.execute(stmt).all())


def kinds(source: Connection | Engine | _HasEngine) -> list[str]:
    """The kinds the log holds, sorted: what `tenantops audit --kind` can be told when it matched nothing."""
    return [row[0] for row in _rows(source, sa.select(table.c.kind).distinct().order_by(table.c.kind))]


def query(
    source: Connection | Engine | _HasEngine,
    *,
    tenant: str | None = None,
    since: datetime | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> Iterator[AuditEntry]:
    """Entries oldest first, filtered; all values bound as parameters, never formatted into the SQL."""
    stmt = sa.select(table.c.id, table.c.at, table.c.tenant, table.c.workload, table.c.kind, table.c.rule,
                     table.c.reason, table.c.old, table.c.new, table.c.inputs)
    if tenant is not None:
        stmt = stmt.where(table.c.tenant == tenant)
    if since is not None:
        stmt = stmt.where(table.c.at >= since.timestamp())
    if kind is not None:
        stmt = stmt.where(table.c.kind == kind)
    if limit is not None:
        # The newest `limit` rows, still printed oldest first.
        newest = stmt.order_by(table.c.at.desc(), table.c.id.desc()).limit(limit).subquery()
        stmt = sa.select(newest).order_by(newest.c.at, newest.c.id)
    else:
        stmt = stmt.order_by(table.c.at, table.c.id)
    for row in _rows(source, stmt):
        yield AuditEntry(
            id=row[0],
            at=datetime.fromtimestamp(row[1], UTC),
            tenant=row[2],
            workload=row[3],
            kind=row[4],
            rule=row[5],
            reason=row[6],
            old=None if row[7] is None else json.loads(row[7]),
            new=None if row[8] is None else json.loads(row[8]),
            inputs=json.loads(row[9]),
        )
