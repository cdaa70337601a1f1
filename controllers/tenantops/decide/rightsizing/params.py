"""Turn a tier's RightsizingPolicy into the recommender's numeric parameters, per resource."""

from __future__ import annotations

from tenantops.config.kinds.common import parse_quantity
from tenantops.config.kinds.rightsizing import RightsizingSpec
from tenantops.decide.rightsizing.recommender import ResourceParams
from tenantops.structs.usage import Resource


def resource_params(spec: RightsizingSpec, resource: Resource, *, daily_schedule: bool | None = None) -> ResourceParams:
    """The parameters for `resource` (`cpu` in cores, `memory` in bytes) under `spec`."""
    schedule = spec.daily_schedule if daily_schedule is None else daily_schedule
    if resource == "cpu":
        return ResourceParams(
            resource="cpu",
            percentile=spec.cpu_percentile,
            margin=spec.effective_cpu_margin,
            half_life_hours=spec.half_life_hours,
            minimum=parse_quantity(spec.min_cpu),
            maximum=parse_quantity(spec.max_cpu) if spec.max_cpu else None,
            lookback_days=spec.lookback_days,
            daily_schedule=schedule,
            schedule_min_saving=spec.schedule_min_saving,
        )
    return ResourceParams(
        resource="memory",
        percentile=spec.memory_percentile,
        margin=spec.effective_memory_margin,
        half_life_hours=spec.half_life_hours,
        minimum=parse_quantity(spec.min_memory),
        maximum=parse_quantity(spec.max_memory) if spec.max_memory else None,
        lookback_days=spec.lookback_days,
        daily_schedule=schedule,
        schedule_min_saving=spec.schedule_min_saving,
        oom_bump_ratio=spec.oom_bump_ratio,
        oom_bump_min=parse_quantity(spec.oom_bump_min),
    )
