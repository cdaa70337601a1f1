"""Benchmarks that print figures (never timed assertions): each is a `tenantops bench <name>` subcommand."""
