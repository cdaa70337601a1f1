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


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("outbox"):
        schema.outbox.create(bind)  # with its index
    schema.leadership.create(bind)


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back")
