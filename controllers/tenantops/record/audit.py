"""The append-only audit log: every decision with its inputs, old → new, the rule that fired and why.

Rows are written by `StateStore.commit` in the same transaction as the decider state they explain, so
the log can never claim a decision whose state was lost, nor the other way round. Triggers refuse
UPDATE and DELETE: the log is evidence, and evidence is not edited.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tenantops.structs.plan import Decision

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    tenant TEXT,
    workload TEXT,
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    old TEXT,
    new TEXT,
    inputs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE INDEX IF NOT EXISTS audit_tenant_at ON audit (tenant, at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_INSERT = (
    "INSERT INTO audit (at, tenant, workload, kind, rule, reason, old, new, inputs) VALUES (?,?,?,?,?,?,?,?,?)"
)


# One encoder for every row: `json.dumps` with options builds a new encoder per call, which showed up as
# a third of the record stage at 30,000 audit rows a pass.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)


def to_json(value: Any) -> str:
    """Compact, key-sorted JSON; values JSON cannot hold (datetimes, enums) are written as text."""
    return _ENCODER.encode(value)


def _row(decision: Decision) -> tuple[Any, ...]:
    return (
        decision.at.timestamp(),
        decision.tenant,
        decision.workload,
        decision.kind,
        decision.rule,
        decision.reason,
        None if decision.old is None else to_json(decision.old),
        None if decision.new is None else to_json(decision.new),
        to_json(dict(decision.inputs)),
    )


def append(conn: sqlite3.Connection, decisions: Iterable[Decision]) -> int:
    """Insert decisions (inside the caller's transaction). Returns the number of rows written."""
    cursor = conn.executemany(_INSERT, (_row(d) for d in decisions))
    return max(cursor.rowcount, 0)


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


def query(
    conn: sqlite3.Connection,
    *,
    tenant: str | None = None,
    since: datetime | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> Iterator[AuditEntry]:
    """Entries oldest first, filtered; all values bound as parameters, never formatted into the SQL."""
    clauses: list[str] = []
    params: list[Any] = []
    if tenant is not None:
        clauses.append("tenant = ?")
        params.append(tenant)
    if since is not None:
        clauses.append("at >= ?")
        params.append(since.timestamp())
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT id, at, tenant, workload, kind, rule, reason, old, new, inputs FROM audit{where} ORDER BY at, id"
    if limit is not None:
        # The newest `limit` rows, still printed oldest first.
        sql = f"SELECT * FROM ({sql.replace('ORDER BY at, id', 'ORDER BY at DESC, id DESC')} LIMIT ?) ORDER BY at, id"
        params.append(limit)
    for row in conn.execute(sql, params):
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
