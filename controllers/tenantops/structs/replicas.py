"""A target's live replica count, as the objects themselves report it (not a metric that lags them).

Read by the observe step (`observe.replicas`) from the Deployments' scale and from the Auto Scaling
groups; the Auto Scaling actuator answers with it too, since its client is what describes the groups.
"""

from __future__ import annotations

from dataclasses import dataclass

REPORTED = "replicas_reported"
"""The reading name the replicas metric's own value moves to when the live count takes `replicas`: the
count of the scrape that also summed the pods' requests and limits (`decide.autoscaling.decider`)."""


@dataclass(frozen=True, slots=True)
class ReplicaCount:
    desired: int
    ready: int
