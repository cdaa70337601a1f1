"""The state store on both backends: durability, one transaction per pass, the append-only audit,
schema migrations (earlier SQLite files migrate, never reset), fencing of a replaced writer, and
outbox claims that two senders never share. Every test runs against a SQLite file and a real
PostgreSQL (the `state_url` fixture)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.state.racing import open_at_once

from tenantops.notify.outbox import Outbox, Status, prepare
from tenantops.record import audit, schema
from tenantops.record.database import SchemaTooNew, StateUnavailable, open_database
from tenantops.record.store import Fenced, StateStore, WriterToken
from tenantops.structs.plan import Decision

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def _decision(tenant: str, at: datetime = NOW, kind: str = "scale", reason: str = "because") -> Decision:
    return Decision(at, tenant, "api", kind, "r", reason, 1, 2, {"x": 1})


def _count(store: StateStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _mail(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ops@example.com", "team@example.com", f"report {n}"
    msg.set_content("body")
    return msg


def test_state_survives_a_restart_and_only_changed_keys_are_written(state_url: str) -> None:
    with StateStore(state_url) as store:
        first = store.commit({"a": {"k1": {"v": 1}, "k2": [1, 2]}, "b": {"k": "x"}})
        assert (first.keys_written, first.keys_deleted) == (3, 0)
        again = store.commit({"a": {"k1": {"v": 1}, "k2": [1, 2, 3]}})
        assert again.keys_written == 1  # k1 unchanged: not rewritten
        gone = store.commit({"a": {"k1": None, "missing": None}})
        assert (gone.keys_written, gone.keys_deleted) == (0, 1)
    with StateStore(state_url) as reopened:
        assert dict(reopened.state("a")) == {"k2": [1, 2, 3]}
        assert dict(reopened.state("b")) == {"k": "x"}
        assert dict(reopened.state("nobody")) == {}
        with pytest.raises(TypeError):
            reopened.state("a")["k2"] = 0  # type: ignore[index]  # read-only: deciders return changes


def test_state_audit_and_mail_are_one_transaction(state_url: str) -> None:
    with StateStore(state_url) as store:
        broken = Decision("not a datetime", "t", "w", "scale", "r", "why")  # type: ignore[arg-type]
        mail = prepare("report", "report:1", _mail(1), now=NOW)
        with pytest.raises(AttributeError):
            store.commit({"a": {"k": 1}}, [_decision("t"), broken], messages=[mail])
        assert dict(store.state("a")) == {}  # memory untouched
        assert (_count(store, "state"), _count(store, "audit"), _count(store, "outbox")) == (0, 0, 0)
        stats = store.commit({"a": {"k": 1}}, [_decision("t")], messages=[mail, mail])
        assert (stats.keys_written, stats.audit_rows, stats.messages_queued) == (1, 1, 1)
        assert Outbox(state_url).get("report:1") is not None


def test_audit_log_is_append_only_in_the_database(state_url: str) -> None:
    """No row is edited, and none younger than the least retention is deleted (older ones are pruned,
    below)."""
    with StateStore(state_url) as store:
        store.commit({}, [_decision("t", datetime.now(UTC))])
        statements = ["UPDATE audit SET reason = 'edited'", "DELETE FROM audit"]
        if store.db.is_postgresql:
            statements.append("TRUNCATE audit")
        for sql in statements:
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(sa.text(sql))
        assert [e.reason for e in audit.query(store.connection)] == ["because"]


def test_audit_rows_past_the_retention_are_pruned_and_the_database_keeps_refusing_younger_deletes(
        state_url: str) -> None:
    """The audit grows by every pass: rows older than the retention go, a bounded batch at a time, and
    nothing younger than the least retention a policy may set (`audit.MIN_RETENTION_DAYS`), whatever the
    retention asked: the database's own trigger refuses those, by its own clock, as it refuses any UPDATE.
    Before, the audit could never be pruned at all."""
    now = datetime.now(UTC)
    with StateStore(state_url) as store:
        store.commit({}, [_decision(f"old{n}", now - timedelta(days=500 + n)) for n in range(3)]
                     + [_decision("quarter", now - timedelta(days=100)), _decision("new", now)])
        with store.engine.begin() as conn:
            assert audit.prune(conn, now, timedelta(days=400), limit=2) == 2
        with store.engine.begin() as conn:
            assert audit.prune(conn, now, timedelta(days=400), limit=2) == 1
        assert [e.tenant for e in audit.query(store.connection)] == ["quarter", "new"]
        with store.engine.begin() as conn:  # a retention shorter than the least is held to the least
            assert audit.prune(conn, now + timedelta(days=30), timedelta(days=1)) == 1
        assert [e.tenant for e in audit.query(store.connection)] == ["new"]
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit WHERE tenant = 'new'"))
        assert [e.tenant for e in audit.query(store.connection)] == ["new"]


def test_audit_query_filters_and_limit(state_url: str) -> None:
    with StateStore(state_url) as store:
        store.commit({}, [_decision("old", NOW - timedelta(days=3)), _decision("acme", NOW, reason="up"),
                          _decision("acme", NOW, kind="skip", reason="stale"), _decision("other", NOW)])
        assert [e.reason for e in audit.query(store.connection, tenant="acme")] == ["up", "stale"]
        assert [e.tenant for e in audit.query(store.connection, since=NOW - timedelta(hours=1), kind="scale")] == \
            ["acme", "other"]
        assert [e.tenant for e in audit.query(store.connection, limit=2)] == ["acme", "other"]
        # Plain SQL with ? parameters, as version 1's SQLite connection took it, on either backend.
        rows = store.connection.execute("SELECT tenant FROM audit WHERE kind = ? ORDER BY id", ("scale",)).fetchall()
        assert rows == [("old",), ("acme",), ("other",)]


def test_migrated_database_has_exactly_the_schema_module_tables(state_url: str) -> None:
    with StateStore(state_url) as store:
        inspector = sa.inspect(store.engine)
        for table in schema.metadata.sorted_tables:
            assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys()), table.name
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == schema.HEAD


def test_newer_revision_is_refused(state_url: str) -> None:
    StateStore(state_url).close()
    engine = sa.create_engine(open_database(state_url).url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(SchemaTooNew, match="9999_future"):
        StateStore(state_url)


def test_unreachable_database_names_the_url_without_its_password() -> None:
    with pytest.raises(StateUnavailable) as caught:
        StateStore("postgresql://ops:hunter2@127.0.0.1:1/tenantops")
    text = str(caught.value)
    assert "postgresql://ops:***@127.0.0.1:1/tenantops" in text and "hunter2" not in text


# -- earlier versions ---------------------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE state (decider TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                    PRIMARY KEY (decider, key)) WITHOUT ROWID;
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, tenant TEXT, workload TEXT,
                    kind TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT NOT NULL, old TEXT, new TEXT,
                    inputs TEXT NOT NULL);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_tenant_at ON audit (tenant, at);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, dedup_key TEXT NOT NULL UNIQUE,
                     sender TEXT NOT NULL, recipients TEXT NOT NULL, message BLOB NOT NULL,
                     status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                     created_at REAL NOT NULL, next_attempt_at REAL NOT NULL, lease_until REAL, sent_at REAL,
                     last_error TEXT, alerted INTEGER NOT NULL DEFAULT 0);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
PRAGMA user_version = 1;
"""


@pytest.mark.parametrize("with_outbox", [True, False])
def test_a_version_1_file_migrates_in_place(tmp_path, with_outbox: bool) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    without_outbox = V1_SCHEMA[:V1_SCHEMA.index("CREATE TABLE outbox")] + "PRAGMA user_version = 1;"
    conn.executescript(V1_SCHEMA if with_outbox else without_outbox)
    conn.execute("INSERT INTO state VALUES ('autoscaling', 'acme/api', ?)", (json.dumps({"window": [5, 4]}),))
    conn.execute("INSERT INTO audit (at, tenant, workload, kind, rule, reason, inputs) VALUES "
                 "(1.0, 'acme', 'api', 'scale', 'r', 'kept', '{}')")
    if with_outbox:
        conn.execute("INSERT INTO outbox (kind, dedup_key, sender, recipients, message, created_at, next_attempt_at)"
                     " VALUES ('report', 'report:w1', 'a@b', '[\"c@d\"]', x'00', 1.0, 1.0)")
    conn.commit()
    conn.close()
    with StateStore(path) as store:
        assert dict(store.state("autoscaling")) == {"acme/api": {"window": [5, 4]}}
        assert [e.reason for e in audit.query(store.connection)] == ["kept"]
        store.commit({}, [_decision("t", datetime.now(UTC))])
        assert [e.id for e in audit.query(store.connection)] == [1, 2]
        if with_outbox:
            assert Outbox(path).get("report:w1") is not None
        assert Outbox(path).enqueue("report", "report:w2", _mail(2), now=NOW)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == schema.SQLITE_USER_VERSION
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM audit")
    raw.close()


def test_a_file_of_an_unknown_newer_version_is_refused(tmp_path) -> None:
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA.replace("user_version = 1", "user_version = 99"))
    conn.close()
    with pytest.raises(SchemaTooNew, match="99"):
        StateStore(path)


# -- who may write ------------------------------------------------------------------------------------


def test_a_replaced_writer_cannot_commit_and_the_new_one_reads_what_was_committed(state_url: str) -> None:
    old, new = StateStore(state_url), StateStore(state_url)
    try:
        old.acquire_writer("replica-a")
        old.commit({"autoscaling": {"acme/api": {"window": [7]}}}, [_decision("acme")])
        assert dict(new.state("autoscaling")) == {}  # opened before the commit
        token = new.acquire_writer("replica-b")
        assert token.generation == 2
        assert dict(new.state("autoscaling")) == {"acme/api": {"window": [7]}}  # reloaded on takeover
        with pytest.raises(Fenced, match="replica-b took over"):
            old.commit({"autoscaling": {"acme/api": {"window": [1]}}}, [_decision("late")],
                       messages=[prepare("report", "report:late", _mail(3), now=NOW)])
        assert [e.tenant for e in audit.query(new.connection)] == ["acme"]  # nothing of the fenced pass
        assert Outbox(state_url).get("report:late") is None
        new.commit({"autoscaling": {"acme/api": {"window": [7, 6]}}})
        assert dict(new.state("autoscaling")) == {"acme/api": {"window": [7, 6]}}
    finally:
        old.close()
        new.close()


def test_a_leadership_record_of_0003_is_kept_without_a_namespace_until_its_lease_is_next_taken(
        state_url: str) -> None:
    """Revision 0004 adds the Lease's namespace to the leadership record. A record written before it keeps its
    holder and generation (the fence of the running leader holds across the upgrade) and names no namespace,
    which nothing could tell; the next takeover records it, and one that does not know it keeps it."""
    from alembic import command
    from alembic.config import Config

    from tenantops.record.database import parse

    engine = sa.create_engine(parse(state_url))  # an empty database, migrated only to 0003 below
    config = Config()
    config.set_main_option("script_location", str(schema.__file__).rsplit("/", 1)[0] + "/migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003_outbox_tenant")
        conn.execute(sa.text("INSERT INTO leadership (name, holder, generation, acquired_at) "
                             "VALUES ('tenantops-leader', 'replica-a', 7, 1.0)"))
    engine.dispose()
    with StateStore(state_url) as store:
        assert store.leadership() == [WriterToken("tenantops-leader", "replica-a", 7, None)]
        assert store.acquire_writer("replica-b", "tenantops-leader", "ops-system").generation == 8
        assert store.leadership() == [WriterToken("tenantops-leader", "replica-b", 8, "ops-system")]
        store.acquire_writer("replica-c", "tenantops-leader")
        assert store.leadership() == [WriterToken("tenantops-leader", "replica-c", 9, "ops-system")]


def test_a_leader_whose_lease_ran_out_mid_pass_cannot_commit(state_url: str) -> None:
    with StateStore(state_url) as store:
        store.acquire_writer("replica-a")
        leading = [True]
        store.lease_check = lambda: leading[0]
        store.commit({"d": {"k": 1}})
        leading[0] = False  # the Lease expired while the pass ran
        with pytest.raises(Fenced, match="expired"):
            store.commit({"d": {"k": 2}}, [_decision("t")])
        store.release_writer()
        with pytest.raises(Fenced):
            store.commit({"d": {"k": 3}})
    with StateStore(state_url) as check:
        assert dict(check.state("d")) == {"k": 1}
        assert _count(check, "audit") == 0


def test_two_senders_never_claim_the_same_message(state_url: str) -> None:
    first, second = Outbox(state_url), Outbox(state_url)
    for n in range(30):
        first.enqueue("report", f"report:{n}", _mail(n), now=NOW)
    sent: list[str] = []
    lock = threading.Lock()

    class Recorder:
        name = "recorder"

        def send(self, sender: str, recipients: tuple[str, ...], message: bytes) -> None:
            with lock:
                sent.append(message.decode(errors="replace").split("Subject: ", 1)[1].split("\n", 1)[0].strip())

    def run(outbox: Outbox) -> None:
        for _ in range(10):
            outbox.deliver(Recorder(), NOW, limit=4)

    threads = [threading.Thread(target=run, args=(o,)) for o in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(f"report {n}" for n in range(30))
    assert first.count(Status.SENT) == 30


def test_replicas_starting_at_once_on_a_database_of_0002_migrate_it_once(state_url: str) -> None:
    """Four replicas of the new version start together on a database an older one wrote: one migrates (on
    PostgreSQL under the advisory lock, on SQLite under the write lock), the others find it migrated; had two
    run the migration, the second would have failed adding a column that was there. Every row is kept."""
    from alembic import command
    from alembic.config import Config

    from tenantops.record.database import parse

    engine = sa.create_engine(parse(state_url))
    config = Config()
    config.set_main_option("script_location", str(schema.__file__).rsplit("/", 1)[0] + "/migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002_outbox_leadership")
        conn.execute(sa.text("INSERT INTO state VALUES ('cost', 'ledger', :v)"), {"v": json.dumps({"acme": 12.5})})
        conn.execute(sa.text("INSERT INTO leadership (name, holder, generation, acquired_at) "
                             "VALUES ('tenantops-leader', 'replica-a', 4, 1.0)"))
    engine.dispose()
    outcomes = open_at_once(state_url, 4, lambda store: (dict(store.state("cost")), store.leadership()))
    assert outcomes == [({"ledger": {"acme": 12.5}}, [WriterToken("tenantops-leader", "replica-a", 4)])] * 4
    with StateStore(state_url) as store, store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [schema.HEAD]


def test_a_rollback_journal_file_opens_while_another_connection_writes(tmp_path: Path) -> None:
    """SQLite refuses the switch to WAL at once, busy timeout or not, while another connection holds a write
    transaction: replicas starting together on a file not yet in WAL (one migrating, the others opening)
    failed with "database is locked" (seen in `test_replicas_starting_at_once_on_a_database_of_0002...`).
    Opening now waits the write out, within the busy timeout."""
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        store.commit({"cost": {"ledger": {"acme": 1.0}}})
    plain = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    plain.execute("PRAGMA journal_mode = DELETE")  # as another tool, or a restored copy, leaves it
    plain.execute("BEGIN IMMEDIATE")
    plain.execute("UPDATE state SET value = value")
    releaser = threading.Timer(0.5, lambda: plain.execute("COMMIT"))
    releaser.start()
    started = time.monotonic()
    try:
        with StateStore(path) as store:
            assert dict(store.state("cost")) == {"ledger": {"acme": 1.0}}
    finally:
        releaser.join()
        plain.close()
    assert time.monotonic() - started >= 0.4  # it waited for the write, as a busy timeout does
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
