"""Sharded replicas (`run --leader-elect --shards N`) record their group in the leadership table, so that a
one-off pass (`reconcile --once`) beside them is fenced as one beside a single leader is: before, they
wrote no record at all, and the pass, finding none, acted beside them without any Lease.

`shards` is NULL for the records of single Leases (every row written before this revision is one).

Revision ID: 0005_leadership_shards
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_leadership_shards"
down_revision = "0004_leadership_namespace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leadership", sa.Column("shards", sa.Integer))


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back")
