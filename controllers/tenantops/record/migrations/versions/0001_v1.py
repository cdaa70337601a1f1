"""Schema version 1: decider state and the append-only audit (the former hand-written SQLite schema).

Files written by version 1 already hold these tables; `database.migrate` stamps them at this revision
instead of running it.

Revision ID: 0001_v1
"""

from __future__ import annotations

from alembic import op

from tenantops.record import schema

revision = "0001_v1"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    schema.state.create(bind)
    schema.audit.create(bind)  # with its indexes
    # Evidence is not edited: the database itself refuses UPDATE, DELETE (and TRUNCATE) on the audit.
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
        op.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit "
                   "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
        op.execute("CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")
    else:
        op.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                   "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
        op.execute("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                   "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")


def downgrade() -> None:
    raise NotImplementedError("the audit is append-only; restore a backup to go back")
