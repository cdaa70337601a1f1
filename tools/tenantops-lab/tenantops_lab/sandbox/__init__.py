"""Real local servers for integration tests and the demo: Prometheus, moto, SMTP, a Kubernetes API stand-in.

Every server here binds a free loopback port, owns its temporary files and stops cleanly, so a test run
or a demo never leaves a process or a port behind. Modules are imported individually (nothing is
re-exported here) so that importing one server does not pull in the others' dependencies.
"""
