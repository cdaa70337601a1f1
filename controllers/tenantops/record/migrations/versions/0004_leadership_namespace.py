"""The leadership record names the namespace of its Lease, so that a one-off pass (`reconcile --once`) on a
state leader-elected replicas write finds their Lease without `--lease-namespace` or a POD_NAMESPACE
that happens to match.

Rows written before this revision get NULL: which namespace their replicas ran in is not in the database,
and a guess could send the pass to a namespace where the Lease is not (refused) or, worse, where another
installation's Lease of the same name is. The pass then looks where it looked before (`--lease-namespace`,
else POD_NAMESPACE, else `tenantops`); the replica that next takes the Lease fills the column.

Revision ID: 0004_leadership_namespace
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_leadership_namespace"
down_revision = "0003_outbox_tenant"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leadership", sa.Column("namespace", sa.Text))


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back")
