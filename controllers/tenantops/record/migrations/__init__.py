"""Alembic migrations of the state store (run by `tenantops.record.database.migrate`, never by hand)."""
