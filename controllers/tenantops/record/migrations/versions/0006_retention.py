"""Retention for the audit and for every settled outbox row.

The audit's triggers refused every DELETE, so the table grew by every pass for ever. Now a DELETE is
refused only for a row younger than 90 days by the database's own clock (UPDATE and, in PostgreSQL,
TRUNCATE are still refused always): the ControllerPolicy's `audit_retention_days` may not be set below
that (`config.kinds.controller.MIN_AUDIT_RETENTION_DAYS`), and `audit.prune` deletes past it. The 90 days
are frozen here as this revision writes them; a shorter floor would be a revision of its own.

`outbox_pruned` counts the outbox rows pruned, by kind and status, so the counters read from the table
(`OutboxCollector`) never go down when rows are pruned.

Revision ID: 0006_retention
"""

from __future__ import annotations

from alembic import op

from tenantops.record import schema

revision = "0006_retention"
down_revision = "0005_leadership_shards"
branch_labels = None
depends_on = None

_FLOOR_SECONDS = 90 * 86400
_REFUSED = "the audit log is append-only: a row younger than 90 days is not deleted"


def upgrade() -> None:
    bind = op.get_bind()
    schema.outbox_pruned.create(bind)  # a frozen copy goes here before the table next changes
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_no_update ON audit")
        op.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                   "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
        op.execute(
            "CREATE FUNCTION audit_keep_young() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF OLD.at > extract(epoch FROM now()) - {_FLOOR_SECONDS} THEN RAISE EXCEPTION '{_REFUSED}'; END IF; "
            "RETURN OLD; END $$"
        )
        op.execute("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                   "FOR EACH ROW EXECUTE FUNCTION audit_keep_young()")
    else:
        op.execute("DROP TRIGGER audit_no_delete")
        op.execute(f"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                   f"WHEN OLD.at > CAST(strftime('%s', 'now') AS REAL) - {_FLOOR_SECONDS} "
                   f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END")


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back")
