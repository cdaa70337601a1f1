"""Durable decider state in an embedded SQLite database, loaded into memory at start.

Stabilisation windows, alert deduplication and similar memory must survive a restart, or every deploy
would reset them (and, for example, scale everything down at once). State is read once at start; each
pass writes only the keys that changed, together with that pass's audit rows, in one transaction.
WAL mode lets `tenantops audit` read while the controller writes; the busy timeout makes a concurrent
writer wait instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

from tenantops.record import audit
from tenantops.structs.plan import Decision

SCHEMA_VERSION = 1

_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    decider TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (decider, key)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class CommitStats:
    keys_written: int
    keys_deleted: int
    audit_rows: int


class StateStore:
    """Decider state (per decider, per key, JSON values) and the audit log, in one SQLite file.

    `path` may be `:memory:` for tests of code that only needs a store, not persistence.
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Used from the runner's thread only; the lock guards against the HTTP thread reading state sizes.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate()
        self._state: dict[str, dict[str, Any]] = {}
        for decider, key, value in self._conn.execute("SELECT decider, key, value FROM state"):
            self._state.setdefault(decider, {})[key] = json.loads(value)

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"state database {self.path} has schema version {version}, newer than this controller's "
                f"{SCHEMA_VERSION}; refusing to touch it"
            )
        with self._lock:
            # One script, one transaction: a half-created schema is never left behind.
            self._conn.executescript(
                f"BEGIN IMMEDIATE;{_STATE_SCHEMA}{audit.SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn, self._lock)

    @property
    def connection(self) -> sqlite3.Connection:
        """For read-only queries (the audit command)."""
        return self._conn

    def state(self, decider: str) -> Mapping[str, Any]:
        """The decider's current state, read-only (deciders return changes instead of mutating it)."""
        return MappingProxyType(self._state.get(decider, {}))

    def key_count(self) -> int:
        return sum(len(v) for v in self._state.values())

    def commit(
        self, changes: Mapping[str, Mapping[str, Any]], decisions: Iterable[Decision] = ()
    ) -> CommitStats:
        """Persist changed keys (None deletes) and append decisions, atomically.

        A key whose new value equals the stored one is not written: most keys do not change in most
        passes, and skipping them keeps a pass's write cost proportional to what actually happened.
        """
        upserts: list[tuple[str, str, str]] = []
        deletes: list[tuple[str, str]] = []
        staged: list[tuple[str, str, Any]] = []
        for decider, keys in changes.items():
            current = self._state.get(decider, {})
            for key, value in keys.items():
                if value is None:
                    if key in current:
                        deletes.append((decider, key))
                        staged.append((decider, key, None))
                elif key not in current or current[key] != value:
                    # Round-trip through JSON so memory holds exactly what a restart would load.
                    text = audit.to_json(value)
                    upserts.append((decider, key, text))
                    staged.append((decider, key, json.loads(text)))
        with self._transaction():
            if upserts:
                self._conn.executemany(
                    "INSERT INTO state (decider, key, value) VALUES (?,?,?) "
                    "ON CONFLICT (decider, key) DO UPDATE SET value = excluded.value",
                    upserts,
                )
            if deletes:
                self._conn.executemany("DELETE FROM state WHERE decider = ? AND key = ?", deletes)
            rows = audit.append(self._conn, decisions)
        for decider, key, value in staged:  # only after the commit succeeded
            bucket = self._state.setdefault(decider, {})
            if value is None:
                bucket.pop(key, None)
            else:
                bucket[key] = value
        return CommitStats(len(upserts), len(deletes), rows)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error (the connection runs in autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self._lock.release()
