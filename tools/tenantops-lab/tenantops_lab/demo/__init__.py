"""`tenantops demo`: the whole control loop on one machine, against real local servers.

Prometheus scrapes a simulator replaying recorded traces as the example catalogue's tenants; the
controller reads Prometheus and scales pooled tenants through the Kubernetes API stand-in and silo tenants
through Auto Scaling groups in moto's server; the cost report goes to a local SMTP server. Time is
compressed: policy durations are divided by the same factor as the traces, so a five-minute stabilisation
window takes five seconds when one trace minute plays in one second.
"""
