"""The outbox knows which tenant a message is about, so the mail of a tenant removed from the catalogue
can be dropped (with an audit row) instead of being delivered to a customer who is gone.

Rows queued before this revision get NULL, the value of ops-wide mail: they are never dropped, except
the tenant budget reports, whose dedup key names the tenant (`<report key>:tenant:<id>`), which are
filled from it.

Revision ID: 0003_outbox_tenant
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_outbox_tenant"
down_revision = "0002_outbox_leadership"
branch_labels = None
depends_on = None

_MARK = ":tenant:"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("tenant", sa.Text))
    op.create_index("outbox_tenant", "outbox", ["status", "tenant"])
    bind = op.get_bind()
    outbox = sa.table("outbox", sa.column("id", sa.BigInteger), sa.column("kind", sa.Text),
                      sa.column("dedup_key", sa.Text), sa.column("tenant", sa.Text))
    rows = bind.execute(sa.select(outbox.c.id, outbox.c.dedup_key)
                        .where(outbox.c.kind == "budget-mail", outbox.c.dedup_key.contains(_MARK))).all()
    for row_id, key in rows:
        bind.execute(sa.update(outbox).where(outbox.c.id == row_id).values(tenant=key.rsplit(_MARK, 1)[1]))


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back")
