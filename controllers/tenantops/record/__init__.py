"""Record: durable decider state and the append-only audit log (SQLite), and the controller's own metrics."""
