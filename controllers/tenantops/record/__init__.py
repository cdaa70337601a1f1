"""Record: the state store, and the controller's own metrics.

The store is one database, SQLite or PostgreSQL: decider state (stabilisation windows, alert episodes, the cost
ledger), the append-only audit, the mail outbox and the writer's fencing generation (`leadership`)."""
