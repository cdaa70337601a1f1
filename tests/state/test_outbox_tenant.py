"""Mail about a tenant that leaves the catalogue: the outbox knows each message's tenant (revision
0003), and `StateStore.drop_mail_of_removed` drops the pending mail of tenants no longer listed, with one
audit row per tenant, in one transaction; ops-wide mail and mail already on its way are never dropped.
Every test runs against a SQLite file and a real PostgreSQL (the `state_url` fixture)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tenantops.notify.outbox import Outbox, Status, prepare
from tenantops.record import audit, schema
from tenantops.record.database import parse
from tenantops.record.store import Fenced, StateStore

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
MIGRATIONS = str(schema.__file__).rsplit("/", 1)[0] + "/migrations"


def _mail(to: str, subject: str = "alert") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "tenantops@example.com", to, subject
    msg.set_content("body")
    return msg


def _queue(outbox: Outbox) -> None:
    outbox.enqueue("alert", "alert:gamma:1", _mail("ops@gamma.example"), now=NOW, tenant="gamma")
    outbox.enqueue("budget-mail", "report:w1:tenant:gamma", _mail("ops@gamma.example", "budget"), now=NOW,
                   tenant="gamma")
    outbox.enqueue("alert", "alert:delta:1", _mail("ops@delta.example"), now=NOW, tenant="delta")
    outbox.enqueue("alert", "alert:alpha:1", _mail("ops@alpha.example"), now=NOW, tenant="alpha")
    outbox.enqueue("cost-report", "report:w1", _mail("oncall@example.com", "report"), now=NOW)  # ops-wide


def test_the_tenant_of_a_message_is_stored_and_read_back(state_url: str) -> None:
    StateStore(state_url).close()
    outbox = Outbox(state_url)
    _queue(outbox)
    with StateStore(state_url) as store:  # queued in a pass's own commit too
        store.commit({}, messages=[prepare("alert", "alert:beta:1", _mail("ops@beta.example"), now=NOW,
                                           tenant="beta")])
    assert {e.dedup_key: e.tenant for e in outbox.entries()} == {
        "alert:gamma:1": "gamma", "report:w1:tenant:gamma": "gamma", "alert:delta:1": "delta",
        "alert:alpha:1": "alpha", "report:w1": None, "alert:beta:1": "beta"}


def test_pending_mail_of_removed_tenants_is_dropped_with_one_audit_row_per_tenant(state_url: str) -> None:
    with StateStore(state_url) as store:
        outbox = Outbox(state_url)
        _queue(outbox)
        outbox.enqueue("alert", "alert:gamma:sent", _mail("ops@gamma.example"), now=NOW, tenant="gamma")
        with store.engine.begin() as conn:  # already delivered: history, never dropped
            conn.execute(sa.update(schema.outbox).where(schema.outbox.c.dedup_key == "alert:gamma:sent")
                         .values(status=Status.SENT.value))
        rows = store.drop_mail_of_removed(["alpha", "beta"], NOW)
        assert [(r.tenant, r.kind, r.rule, r.new) for r in rows] == [
            ("delta", "outbox", "dropped:tenant-removed", 1), ("gamma", "outbox", "dropped:tenant-removed", 2)]
        assert sorted(rows[1].inputs["dedup_keys"]) == ["alert:gamma:1", "report:w1:tenant:gamma"]
        assert rows[1].inputs["kinds"] == {"alert": 1, "budget-mail": 1}
        assert "no longer in the catalogue" in rows[1].reason
        left = {e.dedup_key: e.status for e in outbox.entries()}
        assert left == {"alert:alpha:1": Status.PENDING, "report:w1": Status.PENDING,
                        "alert:gamma:sent": Status.SENT}
        audited = [(e.tenant, e.kind, e.new) for e in audit.query(store.connection)]
        assert audited == [("delta", "outbox", 1), ("gamma", "outbox", 2)]  # committed with the deletion
        assert store.drop_mail_of_removed(["alpha", "beta"], NOW) == []  # nothing left to drop: no row
        assert store.drop_mail_of_removed([], NOW)[0].tenant == "alpha"  # ops-wide mail stays, always
        assert [e.dedup_key for e in outbox.entries(Status.PENDING)] == ["report:w1"]


def test_a_replica_that_is_no_longer_the_writer_drops_nothing(state_url: str) -> None:
    old, new = StateStore(state_url), StateStore(state_url)
    try:
        old.acquire_writer("replica-a")
        _queue(Outbox(state_url))
        new.acquire_writer("replica-b")
        with pytest.raises(Fenced):
            old.drop_mail_of_removed(["alpha"], NOW)
        assert len(Outbox(state_url).entries(Status.PENDING)) == 5
        assert list(audit.query(new.connection)) == []
        assert {r.tenant for r in new.drop_mail_of_removed(["alpha"], NOW)} == {"gamma", "delta"}
    finally:
        old.close()
        new.close()


def test_a_database_at_0002_gains_the_column_and_budget_mail_its_tenant(state_url: str) -> None:
    """Upgraded in place: mail queued before the column existed is kept; a tenant budget mail, whose key
    names its tenant, gets it; other old rows stay NULL (ops-wide: never dropped)."""
    engine = sa.create_engine(parse(state_url))  # an empty database, migrated only to 0002 below
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002_outbox_leadership")
        for kind, key in [("budget-mail", "report:w1:tenant:gamma"), ("alert", "alert:metrics:gamma/api:warning"),
                          ("cost-report", "report:w1")]:
            conn.execute(sa.text("INSERT INTO outbox (kind, dedup_key, sender, recipients, message, created_at,"
                                 " next_attempt_at) VALUES (:k, :d, 'a@b', '[\"c@d\"]', :m, 1.0, 1.0)"),
                         {"k": kind, "d": key, "m": b"x"})
    engine.dispose()
    with StateStore(state_url) as store:
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == schema.HEAD
        tenants = {e.dedup_key: e.tenant for e in Outbox(state_url).entries()}
        assert tenants == {"report:w1:tenant:gamma": "gamma", "alert:metrics:gamma/api:warning": None,
                           "report:w1": None}
        assert [r.new for r in store.drop_mail_of_removed(["alpha"], NOW)] == [1]


def test_a_version_1_file_with_budget_mail_migrates_with_its_tenant(tmp_path) -> None:
    from tests.state.test_store import V1_SCHEMA

    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO outbox (kind, dedup_key, sender, recipients, message, created_at, next_attempt_at)"
                 " VALUES ('budget-mail', 'report:w1:tenant:acme', 'a@b', '[\"c@d\"]', x'00', 1.0, 1.0)")
    conn.commit()
    conn.close()
    with StateStore(path):
        assert Outbox(path).get("report:w1:tenant:acme").tenant == "acme"  # type: ignore[union-attr]
