"""Durable decider state, the audit and the outbox in one database, loaded into memory at start.

Stabilisation windows, alert episodes, the cost ledger and similar memory must survive a restart and a
failover, or every deploy would reset them (and, for example, scale everything down at once). State is
read at start (and again when this replica becomes the writer); each pass writes only the keys that
changed, together with that pass's audit rows and queued mail, in one transaction.

The database is the embedded SQLite file by default, or PostgreSQL when replicas share one state
(`tenantops.record.database`); the code here is the same for both (SQLAlchemy Core).

Only the writer commits. A replica that becomes leader calls `acquire_writer`, which increments the
Lease's generation in the database (its fencing token) and reloads the committed state; every commit
checks, in its own transaction, that the stored generation is still ours and that the Lease has not
expired by our clock (`lease_check`). A leader that lost its Lease mid-pass therefore cannot commit
that pass: `Fenced` is raised and nothing of it is written. Sharded replicas follow the same rule per
shard Lease (`hold_shards`): a replica commits under a token for every shard it owns, so one that lost a
shard (paused, partitioned) while another took it over commits nothing of the pass it had begun.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from tenantops.record import audit, schema
from tenantops.record.database import Database, describe, open_database
from tenantops.record.errors import Fenced, StateUnavailable
from tenantops.structs.plan import Decision

SCHEMA_VERSION = schema.SQLITE_USER_VERSION
_CHUNK = 500  # tenants per DELETE ... IN (...): well inside every backend's bound-parameter limit
_KEYS_LISTED = 50  # dedup keys named in one audit row of dropped mail; the rest are counted
SHARD_TOKEN = 0  # `leadership.shards` of a shard Lease's own row: its owner's fencing token, not a group


@dataclass(frozen=True, slots=True)
class CommitStats:
    keys_written: int
    keys_deleted: int
    audit_rows: int
    messages_queued: int = 0


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A mail to add to the outbox in the pass's own transaction (see `Outbox.prepare`)."""

    kind: str
    dedup_key: str
    sender: str
    recipients: tuple[str, ...]
    message: bytes
    at: float
    tenant: str | None = None  # the tenant it is about; None for ops-wide mail


@dataclass(frozen=True, slots=True)
class WriterToken:
    """The fencing token of the writer: the Lease it holds, who it is, and the generation it took; and the
    Lease's namespace (None where the record predates it being kept). As read back by `leadership`, a
    record with `shards` is a group of that many shard Leases (`engine.lease.ShardedElector`), not one Lease;
    a shard Lease's own token has `shards` `SHARD_TOKEN`."""

    lease: str
    holder: str
    generation: int
    namespace: str | None = None
    shards: int | None = None


class StateStore:
    """Decider state (per decider, per key, JSON values), the audit log and the outbox, in one database.

    `location` is a database URL, a SQLite path, or `:memory:` for tests of code that only needs a
    store, not persistence. `init` allows starting over where a SQLite file was emptied or deleted
    (see `database.open_database`). `read_only`, for the commands that only read what the controller
    recorded: no write lock, no migration, and a schema not this build's is refused, naming the database.
    """

    def __init__(self, location: str | Path, *, busy_timeout_ms: int = 5000, init: bool = False,
                 read_only: bool = False) -> None:
        self.path = str(location)
        self.db: Database = open_database(location, init=init, busy_timeout_ms=busy_timeout_ms, read_only=read_only)
        self.name = self.db.name
        # Used from the runner's thread; the lock guards against the HTTP thread reading state sizes.
        self._lock = threading.Lock()
        self._state: dict[str, dict[str, Any]] = {}
        # The fencing tokens this replica commits under: one Lease's (a single leader), or one per shard Lease
        # it owns (sharded replicas); every commit checks each (`_check_fence`). `_terms`: the elector's term
        # of each shard Lease when its token was taken (a Lease held again after a gap is a new token).
        self._writers: dict[str, WriterToken] = {}
        self._terms: dict[str, object] = {}
        self.lease_check: Callable[[], bool] | None = None
        self.reload()

    # -- reading -------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the committed state again (a replica that takes over starts from what was committed)."""
        loaded: dict[str, dict[str, Any]] = {}
        try:
            with self.db.read() as conn:
                for decider, key, value in conn.execute(sa.select(schema.state.c.decider, schema.state.c.key,
                                                                  schema.state.c.value)):
                    loaded.setdefault(decider, {})[key] = json.loads(value)
        except DBAPIError as exc:
            raise StateUnavailable(f"cannot read the state database {self.name}: {describe(exc)}") from None
        with self._lock:
            self._state = loaded

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for queries of other modules (`audit.query`, the outbox)."""
        return self.db.engine

    @property
    def connection(self) -> RawSQL:
        """Plain SQL with `?` parameters against the store, as the SQLite connection of schema version 1
        offered it (`execute(sql, params).fetchall()`); `audit.query` accepts it too."""
        return RawSQL(self.db)

    def state(self, decider: str) -> Mapping[str, Any]:
        """The decider's current state, read-only (deciders return changes instead of mutating it)."""
        return MappingProxyType(self._state.get(decider, {}))

    def key_count(self) -> int:
        return sum(len(v) for v in self._state.values())

    def ping(self) -> None:
        """Prove, before acting, that this pass could be recorded: the database takes a write transaction
        now and this replica is still the writer (raises `StateUnavailable` or `Fenced` if not)."""
        try:
            with self.db.begin() as conn:
                # A row lock is a write as far as the database is concerned: a read-only database
                # (a standby, default_transaction_read_only) refuses it here, before anything acts.
                conn.execute(sa.select(schema.leadership.c.name).with_for_update()).all()
                self._check_fence(conn)
        except DBAPIError as exc:
            raise StateUnavailable(f"cannot write the state database {self.name}: {describe(exc)}") from None

    # -- leadership ----------------------------------------------------------------------------------

    @property
    def writer(self) -> WriterToken | None:
        """The fencing token of a single leader's Lease (or the first of a sharded replica's), None when none."""
        return next(iter(self._writers.values()), None)

    @property
    def writers(self) -> tuple[WriterToken, ...]:
        """Every fencing token this replica commits under, one per Lease (each shard Lease it owns)."""
        return tuple(self._writers.values())

    def acquire_writer(self, holder: str, lease: str = "tenantops-leader", namespace: str | None = None) -> WriterToken:
        """Become the writer for `lease` (in `namespace`): take the next generation and reload the
        committed state.

        Called when this replica acquires the Lease, before its first pass. The row lock (PostgreSQL) or
        the write lock (SQLite) orders this after any commit the previous leader has in flight; any
        commit it attempts later sees the higher generation and is refused. The namespace is recorded
        so a one-off pass finds the Lease (`leadership`); None keeps the one recorded.
        """
        (token,) = self._take_generations([WriterToken(lease, holder, 0, namespace)])
        self._writers, self._terms = {lease: token}, {}
        self.reload()
        return token

    def record_shards(self, holder: str, prefix: str, shards: int, namespace: str | None) -> WriterToken:
        """Record that `holder` acts under shard Leases of group `prefix` (`shards` of them, in `namespace`),
        the next generation of the group's record. The record is not a writer token (each shard Lease has its
        own, `hold_shards`); it tells a one-off pass beside sharded replicas which Leases it must hold
        (`engine.lease.one_pass_shards`)."""
        (group,) = self._take_generations([WriterToken(prefix, holder, 0, namespace, shards)])
        return group

    def hold_shards(self, holder: str, prefix: str, shards: int, namespace: str | None,
                    held: Mapping[str, object]) -> bool:
        """Commit, from now on, as the writer of exactly the shard Leases in `held` (a Lease's name -> the
        elector's term of this replica's hold on it), of group `prefix` (`shards` Leases in `namespace`).

        The rule of a single leader, per shard: a Lease newly held (or held again after a gap: its term
        changed) takes the next generation of its own leadership row, so the replica that held it before
        commits nothing more; every commit checks the generation of every Lease held (`_check_fence`). The
        group's record is written in the same transaction, and the committed state reloaded: the shards'
        tenants are as their last owner left them. Leases no longer held are dropped without a write (whoever
        takes one next takes its generation). True when a Lease was taken (and the state reloaded)."""
        gone = [name for name in self._writers if name not in held]
        for name in gone:
            self._writers.pop(name)
            self._terms.pop(name, None)
        new = {name: term for name, term in held.items()
               if name not in self._writers or self._terms.get(name) != term}
        if not new:
            return False
        for name in new:  # refused until taken again, should taking them fail
            self._writers[name] = WriterToken(name, holder, -1, namespace, SHARD_TOKEN)
        # The group's record last: the most recently taken, as `leadership` lists it, whatever reads it.
        taken = [WriterToken(name, holder, 0, namespace, SHARD_TOKEN) for name in sorted(new)]
        *tokens, _ = self._take_generations([*taken, WriterToken(prefix, holder, 0, namespace, shards)])
        for token in tokens:
            self._writers[token.lease], self._terms[token.lease] = token, new[token.lease]
        self.reload()
        return True

    def _take_generations(self, tokens: Sequence[WriterToken]) -> list[WriterToken]:
        """Write each token's leadership record with the next generation of its name, under the row lock, in
        one transaction, and return them as written (a namespace left None is the one recorded before)."""
        table = schema.leadership
        written: list[WriterToken] = []
        try:
            with self.db.begin() as conn:
                for token in tokens:
                    row = conn.execute(sa.select(table.c.generation, table.c.namespace)
                                       .where(table.c.name == token.lease).with_for_update()).first()
                    token = replace(token, generation=1 if row is None else int(row[0]) + 1,
                                    namespace=token.namespace or (None if row is None else row[1]))
                    values = {"holder": token.holder, "generation": token.generation, "acquired_at": time.time(),
                              "namespace": token.namespace, "shards": token.shards}
                    if row is None:
                        conn.execute(sa.insert(table).values(name=token.lease, **values))
                    else:
                        conn.execute(sa.update(table).where(table.c.name == token.lease).values(**values))
                    written.append(token)
        except DBAPIError as exc:
            raise StateUnavailable(f"cannot write the state database {self.name}: {describe(exc)}") from None
        return written

    def leadership(self) -> list[WriterToken]:
        """The Leases whose holders have written this state, the one taken most recently first (each with its
        last holder, generation and namespace, and for a shard group its shard count); empty where no replica
        ever ran with leader election. A pass started without a Lease must not write such a state beside its
        leader (`engine.lease.one_pass_elector`, `one_pass_shards`)."""
        table = schema.leadership
        try:
            with self.db.read() as conn:
                rows = conn.execute(sa.select(table.c.name, table.c.holder, table.c.generation, table.c.namespace,
                                              table.c.shards).order_by(table.c.acquired_at.desc())).all()
        except DBAPIError as exc:
            raise StateUnavailable(f"cannot read the state database {self.name}: {describe(exc)}") from None
        records = [WriterToken(str(name), str(holder), int(generation), None if namespace is None else str(namespace),
                               None if shards is None else int(shards))
                   for name, holder, generation, namespace, shards in rows]
        # A shard Lease's own row (its fencing token, `shards` 0) is its group's: the group's record names it.
        return [r for r in records if r.shards != SHARD_TOKEN]

    def release_writer(self) -> None:
        """Stop committing as the writer (the Lease, or every shard Lease, was lost or released); the next
        commit is refused."""
        self._writers = {name: replace(token, generation=-1) for name, token in self._writers.items()}
        self._terms = {}

    def _check_fence(self, conn: Connection) -> None:
        """Refuse the transaction unless this replica still holds every Lease it commits under: the stored
        generation of each is the one it took, and by its own clock none has expired (`lease_check`)."""
        if not self._writers:
            return
        table = schema.leadership
        for token in self._writers.values():
            if token.generation < 0:
                raise Fenced(f"{token.holder} no longer holds Lease {token.lease}; this pass is not committed")
        stored = {str(name): (holder, generation) for name, holder, generation in conn.execute(
            sa.select(table.c.name, table.c.holder, table.c.generation)
            .where(table.c.name.in_(sorted(self._writers))).order_by(table.c.name).with_for_update())}
        for token in self._writers.values():
            row = stored.get(token.lease)
            if row is None or int(row[1]) != token.generation:
                holder, generation = (row[0], row[1]) if row is not None else ("nobody", "none")
                raise Fenced(f"{token.holder} was the writer of generation {token.generation} of Lease "
                             f"{token.lease}, but {holder} took over (generation {generation}); this pass is not "
                             "committed")
        if self.lease_check is not None and not self.lease_check():
            names = ", ".join(self._writers)
            raise Fenced(f"Lease {names} of {self.writer.holder if self.writer else '?'} expired during the pass; "
                         "this pass is not committed")

    # -- writing -------------------------------------------------------------------------------------

    def commit(
        self, changes: Mapping[str, Mapping[str, Any]], decisions: Iterable[Decision] = (),
        *, messages: Sequence[QueuedMessage] = (),
    ) -> CommitStats:
        """Persist changed keys (None deletes), append decisions and queue `messages`, atomically.

        A key whose new value equals the stored one is not written: most keys do not change in most
        passes, and skipping them keeps a pass's write cost proportional to what actually happened.
        Raises `Fenced` (nothing written) when this replica is no longer the writer, and
        `StateUnavailable` naming the database when it cannot be written.
        """
        upserts: list[dict[str, str]] = []
        deletes: list[dict[str, str]] = []
        staged: list[tuple[str, str, Any]] = []
        for decider, keys in changes.items():
            current = self._state.get(decider, {})
            for key, value in keys.items():
                if value is None:
                    if key in current:
                        deletes.append({"d": decider, "k": key})
                        staged.append((decider, key, None))
                elif key not in current or current[key] != value:
                    # Round-trip through JSON so memory holds exactly what a restart would load.
                    text = audit.to_json(value)
                    upserts.append({"decider": decider, "key": key, "value": text})
                    staged.append((decider, key, json.loads(text)))
        try:
            with self.db.begin() as conn:
                self._check_fence(conn)
                if upserts:
                    self._upsert(conn, upserts)
                if deletes:
                    table = schema.state
                    conn.execute(
                        sa.delete(table).where(table.c.decider == sa.bindparam("d"), table.c.key == sa.bindparam("k")),
                        deletes,
                    )
                rows = audit.append(conn, decisions)
                queued = enqueue_messages(conn, messages, postgres=self.db.is_postgresql)
        except DBAPIError as exc:
            raise StateUnavailable(f"cannot commit to the state database {self.name}: {describe(exc)}") from None
        with self._lock:
            for decider, key, value in staged:  # only after the commit succeeded
                bucket = self._state.setdefault(decider, {})
                if value is None:
                    bucket.pop(key, None)
                else:
                    bucket[key] = value
        return CommitStats(len(upserts), len(deletes), rows, queued)

    def drop_mail_of_removed(self, tenants: Collection[str], now: datetime) -> list[Decision]:
        """Drop the pending outbox mail about tenants not in `tenants` (the catalogue in effect), with one
        audit row per tenant saying what was dropped, in one transaction (fenced like `commit`).

        A customer who left the catalogue is not mailed afterwards (a burst of alerts for thousands of
        removed tenants would otherwise be delivered for hours). Ops-wide mail (no tenant) is never
        dropped, nor mail being sent, sent, failed or in doubt: that is history. Cheap when nothing is
        due to go: one indexed read of the distinct tenants of pending mail.
        """
        table = schema.outbox
        pending = table.c.status == "pending"
        keep = set(tenants)
        decisions: list[Decision] = []
        try:
            with self.db.begin() as conn:
                present = conn.execute(sa.select(table.c.tenant).distinct()
                                       .where(pending, table.c.tenant.is_not(None))).scalars().all()
                gone = sorted(str(t) for t in present if t not in keep)
                if not gone:
                    return []
                self._check_fence(conn)
                dropped: dict[str, list[tuple[str, str]]] = {}
                for start in range(0, len(gone), _CHUNK):
                    rows = conn.execute(sa.delete(table).where(pending, table.c.tenant.in_(gone[start:start + _CHUNK]))
                                        .returning(table.c.tenant, table.c.kind, table.c.dedup_key)).all()
                    for tenant, kind, key in rows:
                        dropped.setdefault(str(tenant), []).append((str(kind), str(key)))
                decisions = [_dropped_mail(now, tenant, mails) for tenant, mails in sorted(dropped.items())]
                audit.append(conn, decisions)
        except DBAPIError as exc:
            raise StateUnavailable(f"cannot drop mail in the state database {self.name}: {describe(exc)}") from None
        return decisions

    def discard(self, decider: str, keys: Collection[str],
                audit_of: Callable[[str, Any], Decision | None]) -> list[Decision]:
        """Delete these keys of `decider`'s state, with the audit row `audit_of(key, value)` of each key this
        call deleted, in one transaction (fenced like `commit`); returns those rows.

        Only the keys still in the database are audited: two replicas discarding the same key (shards
        sharing one state, each with the key in its memory) delete it once and audit it once.
        """
        table = schema.state
        wanted = sorted(set(keys))
        if not wanted:
            return []
        decisions: list[Decision] = []
        try:
            with self.db.begin() as conn:
                self._check_fence(conn)
                for start in range(0, len(wanted), _CHUNK):
                    rows = conn.execute(sa.delete(table).where(table.c.decider == decider,
                                                               table.c.key.in_(wanted[start:start + _CHUNK]))
                                        .returning(table.c.key, table.c.value)).all()
                    for key, value in sorted(rows):
                        row = audit_of(str(key), json.loads(value))
                        if row is not None:
                            decisions.append(row)
                audit.append(conn, decisions)
        except DBAPIError as exc:
            raise StateUnavailable(f"cannot commit to the state database {self.name}: {describe(exc)}") from None
        with self._lock:
            bucket = self._state.get(decider, {})
            for key in wanted:  # deleted now, or by another replica before: gone either way
                bucket.pop(key, None)
        return decisions

    def _upsert(self, conn: Connection, rows: list[dict[str, str]]) -> None:
        """Insert or replace state rows. PostgreSQL: COPY into a session-local staging table, then one
        INSERT ... ON CONFLICT from it (a statement per key would cost a round trip per key)."""
        if self.db.is_postgresql:
            conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS state_stage "
                                 "(decider TEXT, key TEXT, value TEXT) ON COMMIT DELETE ROWS")
            audit.copy_rows(conn, "COPY state_stage (decider, key, value) FROM STDIN",
                            ((r["decider"], r["key"], r["value"]) for r in rows))
            conn.exec_driver_sql("INSERT INTO state (decider, key, value) SELECT decider, key, value FROM state_stage "
                                 "ON CONFLICT (decider, key) DO UPDATE SET value = excluded.value")
            return
        # SQLite: the driver's executemany with plain tuples (SQLAlchemy's per-row processing is the cost).
        conn.exec_driver_sql("INSERT INTO state (decider, key, value) VALUES (?,?,?) "
                             "ON CONFLICT (decider, key) DO UPDATE SET value = excluded.value",
                             [(r["decider"], r["key"], r["value"]) for r in rows])

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class RawSQL:
    """`execute(sql, params)` in its own transaction, returning the rows fetched (any backend)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        text = sql if not self.db.is_postgresql else sql.replace("%", "%%").replace("?", "%s")
        with self.db.begin() as conn:
            result = conn.exec_driver_sql(text, tuple(params))
            rows = [tuple(r) for r in result] if result.returns_rows else []
        return _Rows(rows)


class _Rows:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


def _dropped_mail(now: datetime, tenant: str, mails: Sequence[tuple[str, str]]) -> Decision:
    kinds: dict[str, int] = {}
    for kind, _ in mails:
        kinds[kind] = kinds.get(kind, 0) + 1
    keys = [key for _, key in mails]
    return Decision(
        now, tenant, None, "outbox", "dropped:tenant-removed",
        f"{len(mails)} pending mail(s) dropped from the outbox, undelivered: tenant {tenant} is no longer in the "
        f"catalogue ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})",
        new=len(mails),
        inputs={"kinds": kinds, "dedup_keys": keys[:_KEYS_LISTED], "more": max(0, len(keys) - _KEYS_LISTED)},
    )


def dialect_insert(table: sa.Table, *, postgres: bool) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` in the dialect's own construct, which carries `on_conflict_do_*`."""
    return postgresql.insert(table) if postgres else sqlite.insert(table)


def enqueue_messages(conn: Connection, messages: Sequence[QueuedMessage], *, postgres: bool) -> int:
    """Insert messages into the outbox unless their dedup key is there already; returns how many were new."""
    if not messages:
        return 0
    table = schema.outbox
    rows = [{"kind": m.kind, "dedup_key": m.dedup_key, "sender": m.sender, "recipients": json.dumps(list(m.recipients)),
             "message": m.message, "created_at": m.at, "next_attempt_at": m.at, "tenant": m.tenant}
            for m in messages]
    stmt = dialect_insert(table, postgres=postgres).on_conflict_do_nothing(
        index_elements=[table.c.dedup_key]).returning(table.c.id)
    # One statement per message: RETURNING says which were new (rowcount of an INSERT is not portable).
    return sum(len(conn.execute(stmt, row).all()) for row in rows)
