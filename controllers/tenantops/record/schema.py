"""The state store's tables, once, for both backends (SQLite and PostgreSQL) through SQLAlchemy Core.

The queries of `store`, `audit` and the outbox use these `Table`s, and the migrations in `migrations/`
create them from here. Tables are only ever added to or altered by a new migration: before a table
defined here changes, the migration that created it takes a frozen copy of today's definition, so a new
database and an upgraded one end up alike (`tests/state` checks a migrated database has exactly these
columns).

Column names and types are those of schema version 1 (the hand-written SQLite schema), so files written
by earlier versions are migrated in place rather than copied.
"""

from __future__ import annotations

import sqlalchemy as sa

# The Alembic revision a database must be at for this code; `database.migrate` upgrades older ones.
HEAD = "0006_retention"
# SQLite's PRAGMA user_version after migration: schema version 1 controllers refuse a newer file instead
# of writing into tables whose meaning they do not know.
SQLITE_USER_VERSION = 6

metadata = sa.MetaData()

# REAL in SQLite, DOUBLE PRECISION in PostgreSQL: epoch seconds with sub-millisecond precision.
Seconds: sa.Double[float] = sa.Double()
# INTEGER in SQLite (so `INTEGER PRIMARY KEY` is the rowid), BIGINT in PostgreSQL.
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

state = sa.Table(
    "state", metadata,
    sa.Column("decider", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sqlite_with_rowid=False,
)

audit = sa.Table(
    "audit", metadata,
    sa.Column("id", RowId, sa.Identity(), primary_key=True),
    sa.Column("at", Seconds, nullable=False),
    sa.Column("tenant", sa.Text),
    sa.Column("workload", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("old", sa.Text),
    sa.Column("new", sa.Text),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Index("audit_at", "at"),
    sa.Index("audit_tenant_at", "tenant", "at"),
    sqlite_autoincrement=True,
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", RowId, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("dedup_key", sa.Text, nullable=False, unique=True),
    sa.Column("sender", sa.Text, nullable=False),
    sa.Column("recipients", sa.Text, nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", Seconds, nullable=False),
    sa.Column("next_attempt_at", Seconds, nullable=False),
    sa.Column("lease_until", Seconds),
    sa.Column("sent_at", Seconds),
    sa.Column("last_error", sa.Text),
    sa.Column("alerted", sa.Integer, nullable=False, server_default="0"),
    # The tenant a message is about (its budget report, its alerts); NULL for ops-wide mail, which is
    # never dropped. Pending mail of a tenant removed from the catalogue is dropped, with an audit row.
    sa.Column("tenant", sa.Text),
    sa.Index("outbox_due", "status", "next_attempt_at"),
    sa.Index("outbox_tenant", "status", "tenant"),
    sqlite_autoincrement=True,
)

# The rows the outbox pruned past its retention, counted by kind and status in the transaction that deleted
# them (`Outbox.prune`): the sent and failed counters are read from the table (`OutboxCollector`), and
# without these a pruned row would lower them, which Prometheus reads as a counter reset.
outbox_pruned = sa.Table(
    "outbox_pruned", metadata,
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Who may write: one row per Lease. A replica that becomes leader increments `generation` and keeps the
# value as its fencing token; every commit checks it in the same transaction (see `store.StateStore`).
# `namespace` is the Lease's, so a one-off pass finds the Lease without being told where it is; NULL in
# rows written before revision 0004 (until their Lease is next taken), where the pass falls back to
# `--lease-namespace` or its own POD_NAMESPACE.
# `shards` is NULL for one Lease named `name`, and N for sharded replicas (`run --leader-elect --shards N`):
# the row is then their group, its Leases `<name>-shard-0` .. `<name>-shard-<N-1>`: it fences nothing but
# tells a one-off pass which Leases it must hold to act. Each shard Lease has a row of its own, `shards` 0:
# the fencing token of the replica that owns the shard, checked by its commits as a single leader's is.
leadership = sa.Table(
    "leadership", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", Seconds, nullable=False),
    sa.Column("namespace", sa.Text),
    sa.Column("shards", sa.Integer),
)
