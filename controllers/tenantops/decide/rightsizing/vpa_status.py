"""Recommendations in the shape users of the Kubernetes VPA (and Goldilocks, which reads it) know.

`status.recommendation.containerRecommendations[]` with `containerName`, `target`, `lowerBound`,
`upperBound` and `uncappedTarget` as Kubernetes quantities, plus the `RecommendationProvided`
condition, exactly as `kubectl get vpa -o yaml` shows them (typed here, `structs.rightsizing_findings.VpaStatus`,
written out by its codec). `target` is what should be requested now:
where a daily schedule is recommended, the current UTC hour's request (the schedule itself is listed
beside the status, since the VPA has no such field).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tenantops.decide.rightsizing.recommender import Recommendation
from tenantops.quantities import quantity
from tenantops.structs.rightsizing_findings import ContainerRecommendation, VpaStatus
from tenantops.structs.usage import Resource


def container_recommendation(container: str, recs: Mapping[Resource, Recommendation | None],
                             hour: int) -> ContainerRecommendation:
    target: dict[str, str] = {}
    lower: dict[str, str] = {}
    upper: dict[str, str] = {}
    uncapped: dict[str, str] = {}
    for resource, rec in recs.items():
        if rec is None:
            continue
        target[resource] = quantity(resource, rec.request_at(hour))
        lower[resource] = quantity(resource, min(rec.lower, rec.request_at(hour)))
        upper[resource] = quantity(resource, rec.upper)
        uncapped[resource] = quantity(resource, rec.uncapped if rec.uncapped is not None else rec.target)
    return ContainerRecommendation(container, target, lower, upper, uncapped)


def status(containers: Mapping[str, Mapping[Resource, Recommendation | None]], at: datetime) -> VpaStatus:
    """A VerticalPodAutoscaler `status` for one workload: one recommendation per container of its pods
    that has usage samples (none at all: the condition says so)."""
    return VpaStatus(at, tuple(container_recommendation(name, recs, at.hour) for name, recs in containers.items()
                               if any(rec is not None for rec in recs.values())))
