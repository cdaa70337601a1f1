"""A Deployment's conditions, as the Deployment controller writes them (`pkg/controller/deployment`).

`kubectl wait --for=condition=Available`, `kubectl describe deploy` (its Conditions table) and any client
that waits on availability read `status.conditions`, not the counts: without them a wait never ends.
Available is True while the available replicas are at least `replicas - maxUnavailable` (the rolling
update's fence post, rounded down, at least 1 when the surge is 0 too; 0 for Recreate); Progressing is
True, `NewReplicaSetAvailable` once every replica is updated and available, `ReplicaSetUpdated` before.
A condition keeps its `lastTransitionTime` while its status holds.
"""

from __future__ import annotations

from typing import Any

from tenantops_lab.sandbox.kube_pods import scaled, template_hash

JSON = dict[str, Any]


def max_unavailable(spec: JSON) -> int:
    """How many replicas may be unavailable while the Deployment still counts as available."""
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or replicas == 0:
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = scaled(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return min(unavailable, replicas)


def _condition(kind: str, status: bool, reason: str, message: str, previous: list[JSON], now: str) -> JSON:
    value = "True" if status else "False"
    before = next((c for c in previous if isinstance(c, dict) and c.get("type") == kind), None)
    transition = before.get("lastTransitionTime", now) if before and before.get("status") == value else now
    unchanged = before is not None and (before.get("status"), before.get("reason"), before.get("message")) == (
        value, reason, message)
    updated = before.get("lastUpdateTime", now) if unchanged and before else now
    return {"type": kind, "status": value, "lastUpdateTime": updated, "lastTransitionTime": transition,
            "reason": reason, "message": message}


def deployment_conditions(deployment: JSON, replicas: int, available: int, previous: list[JSON],
                          now: str) -> list[JSON]:
    """Available and Progressing for a Deployment whose replicas are all updated, `available` of them
    available."""
    minimum = available >= replicas - max_unavailable(deployment["spec"])
    replica_set = f"{deployment['metadata']['name']}-{template_hash(deployment)}"  # as its pods name it
    done = available >= replicas
    return [
        _condition("Available", minimum,
                   "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
                   f"Deployment {'has' if minimum else 'does not have'} minimum availability.", previous, now),
        _condition("Progressing", True, "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                   f'ReplicaSet "{replica_set}" ' + ("has successfully progressed." if done else "is progressing."),
                   previous, now),
    ]
