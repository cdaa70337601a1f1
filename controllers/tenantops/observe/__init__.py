"""Observe: turn Prometheus (and the actuators' own view of replicas) into one immutable `Snapshot` per pass."""
