"""Actuators: the edge that applies a plan to Kubernetes and AWS."""
