"""Alembic's entry point: migrate on the connection (and inside the transaction) the caller opened.

`tenantops.record.database.migrate` holds the transaction, and on PostgreSQL an advisory lock, so that
two replicas starting together cannot both run a migration.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
