"""Replica counts of dedicated (silo) workloads, from the Auto Scaling API rather than Prometheus.

Silo tenants run on their own Auto Scaling groups, which kube-state-metrics never sees; the ASG
actuator describes all groups in a few batched calls, and its answer replaces the `replicas` /
`ready_replicas` readings of those workloads in the snapshot. Without a reader the Prometheus values
stay (an installation may export ASG sizes there instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tenantops.structs.plan import ScaleTarget
from tenantops.structs.snapshot import MISSING, Reading, Snapshot, WorkloadKey, WorkloadMetrics

REPLICAS, READY = "replicas", "ready_replicas"


@dataclass(frozen=True, slots=True)
class ReplicaCount:
    desired: int
    ready: int


class ReplicaReader(Protocol):
    """Describes many targets at once; targets that do not exist are simply absent from the answer."""

    def describe_many(self, targets: Sequence[ScaleTarget]) -> Mapping[ScaleTarget, ReplicaCount]: ...


def merge_replicas(
    snapshot: Snapshot, targets: Mapping[WorkloadKey, ScaleTarget], counts: Mapping[ScaleTarget, ReplicaCount],
    at: datetime,
) -> Snapshot:
    """A new snapshot in which every workload in `targets` takes its replicas from `counts`.

    A target the reader did not return is marked MISSING (the group does not exist), not left with a
    Prometheus value that would describe something else.
    """
    if not targets:
        return snapshot
    workloads = dict(snapshot.workloads)
    for key, target in targets.items():
        metrics = snapshot.get(*key)
        readings = dict(metrics.readings)
        count = counts.get(target)
        if count is None:
            readings[REPLICAS] = readings[READY] = MISSING
        else:
            readings[REPLICAS] = Reading.classify(float(count.desired), at)
            readings[READY] = Reading.classify(float(count.ready), at)
        workloads[key] = WorkloadMetrics(key[0], key[1], readings)
    return Snapshot(at=snapshot.at, workloads=workloads, errors=snapshot.errors)
