"""The mail outbox joins the state store's schema (before, the outbox created its table on first use),
and the fencing tokens of `leadership`: which replica may write, one generation per Lease.

A version 1 file may already hold the outbox, created by the outbox itself: it is then left as it is.

Revision ID: 0002_outbox_leadership
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenantops.record import schema

revision = "0002_outbox_leadership"
down_revision = "0001_v1"
branch_labels = None
depends_on = None


# The tables as this revision created them: frozen copies, so that a new database and an upgraded one
# pass through the same steps.
# The outbox (0003 adds `tenant`).
_frozen = sa.MetaData()
outbox = sa.Table(
    "outbox", _frozen,
    sa.Column("id", schema.RowId, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("dedup_key", sa.Text, nullable=False, unique=True),
    sa.Column("sender", sa.Text, nullable=False),
    sa.Column("recipients", sa.Text, nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", schema.Seconds, nullable=False),
    sa.Column("next_attempt_at", schema.Seconds, nullable=False),
    sa.Column("lease_until", schema.Seconds),
    sa.Column("sent_at", schema.Seconds),
    sa.Column("last_error", sa.Text),
    sa.Column("alerted", sa.Integer, nullable=False, server_default="0"),
    sa.Index("outbox_due", "status", "next_attempt_at"),
    sqlite_autoincrement=True,
)

# The leadership table as this revision created it (0004 adds `namespace`).
leadership = sa.Table(
    "leadership", _frozen,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", schema.Seconds, nullable=False),
)


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("outbox"):
        outbox.create(bind)  # with its index
    leadership.create(bind)


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back")
