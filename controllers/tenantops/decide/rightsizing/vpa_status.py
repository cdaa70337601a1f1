"""Recommendations in the shape users of the Kubernetes VPA (and Goldilocks, which reads it) know.

`status.recommendation.containerRecommendations[]` with `containerName`, `target`, `lowerBound`,
`upperBound` and `uncappedTarget` as Kubernetes quantities, plus the `RecommendationProvided`
condition, exactly as `kubectl get vpa -o yaml` shows them. `target` is what should be requested now:
where a daily schedule is recommended, the current UTC hour's request (the schedule itself is listed
beside the status, since the VPA has no such field).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tenantops.decide.rightsizing.recommender import Recommendation
from tenantops.quantities import quantity
from tenantops.structs.usage import Resource


def container_recommendation(container: str, recs: Mapping[Resource, Recommendation | None],
                             hour: int) -> dict[str, Any]:
    fields: dict[str, dict[str, str]] = {"target": {}, "lowerBound": {}, "upperBound": {}, "uncappedTarget": {}}
    for resource, rec in recs.items():
        if rec is None:
            continue
        fields["target"][resource] = quantity(resource, rec.request_at(hour))
        fields["lowerBound"][resource] = quantity(resource, min(rec.lower, rec.request_at(hour)))
        fields["upperBound"][resource] = quantity(resource, rec.upper)
        fields["uncappedTarget"][resource] = quantity(
            resource, rec.uncapped if rec.uncapped is not None else rec.target)
    return {"containerName": container, **fields}


def status(containers: Mapping[str, Mapping[Resource, Recommendation | None]], at: datetime) -> dict[str, Any]:
    """A VerticalPodAutoscaler `status` for one workload: one recommendation per container of its pods."""
    provided = any(rec is not None for recs in containers.values() for rec in recs.values())
    condition = {"type": "RecommendationProvided", "status": "True" if provided else "False",
                 "lastTransitionTime": at.isoformat()}
    if not provided:
        condition.update(reason="NoUsageSamples", message="no usage samples in the lookback")
    recommendation = {"containerRecommendations": [
        container_recommendation(name, recs, at.hour) for name, recs in containers.items()
        if any(rec is not None for rec in recs.values())]}
    return {"recommendation": recommendation if provided else None, "conditions": [condition]}
