"""The scheduled cost report as a concern of the pass: when a report moment is due (pure)."""
