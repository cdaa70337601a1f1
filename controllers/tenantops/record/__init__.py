"""Record: the state store (decider state, the append-only audit, the outbox; SQLite or PostgreSQL), and the
controller's own metrics."""
