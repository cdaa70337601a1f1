"""Getting alerts and reports to people: a durable outbox, mail transports and the cost report."""
