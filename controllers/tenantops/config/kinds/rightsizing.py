"""Right-sizing policy schema (per tier): how requests are recommended, and whether they are applied."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tenantops.config.kinds.common import (
    Hours,
    NonNegative,
    Positive,
    PositiveHours,
    PositiveSeconds,
    Quantity,
    parse_quantity,
)
from tenantops.config.registry import Spec, policy_kind

MAX_LOOKBACK_DAYS = 366

DEFAULT_CPU_QUERY = (
    'avg by (tenant, workload, container) (sum by (tenant, workload, pod, container) (label_replace(label_replace('
    'rate(container_cpu_usage_seconds_total{namespace=~"tenant-.+", container!="", container!="POD"}[5m]), '
    '"tenant", "$1", "namespace", "tenant-(.+)"), "workload", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+")))'
)
DEFAULT_MEMORY_QUERY = (
    'avg by (tenant, workload, container) (sum by (tenant, workload, pod, container) (label_replace(label_replace('
    'container_memory_working_set_bytes{namespace=~"tenant-.+", container!="", container!="POD"}, '
    '"tenant", "$1", "namespace", "tenant-(.+)"), "workload", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+")))'
)
DEFAULT_OOM_QUERY = (
    'max by (tenant, workload, container) (label_replace(label_replace('
    'increase(kube_pod_container_status_restarts_total{namespace=~"tenant-.+"}[10m]) '
    '* on (namespace, pod, container) group_left() '
    'max by (namespace, pod, container) (kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}), '
    '"tenant", "$1", "namespace", "tenant-(.+)"), "workload", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"))'
)

# The memory each OOM-killed container was killed at, at the steps of its kill: its memory limit (an OOM kill
# means its usage reached it), or its request where it has no limit. Read only for a kill with no memory
# sample at or before it (a pod killed at start-up, before its first scrape).
DEFAULT_MEMORY_AT_OOM_QUERY = (
    'max by (tenant, workload, container) (label_replace(label_replace('
    '(max by (namespace, pod, container) (kube_pod_container_resource_limits{namespace=~"tenant-.+", '
    'resource="memory"}) '
    'or on (namespace, pod, container) '
    'max by (namespace, pod, container) (kube_pod_container_resource_requests{namespace=~"tenant-.+", '
    'resource="memory"})) '
    'and on (namespace, pod, container) '
    '(increase(kube_pod_container_status_restarts_total{namespace=~"tenant-.+"}[10m]) > 0) '
    'and on (namespace, pod, container) '
    'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}, '
    '"tenant", "$1", "namespace", "tenant-(.+)"), "workload", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"))'
)


class RetrySpec(Spec):
    """When a request patch the API did not take (refused, failed, or still failing after the actuator's own
    retries) is proposed again: `initial_seconds` after the first failure, twice as long after each further
    one, at most `max_seconds`; an applied patch ends the streak. Without a wait, a patch that keeps failing
    (a Deployment gone, a forbidden or invalid patch) was sent, audited and recorded as a Kubernetes Event
    on every pass, about 2,800 times a day per workload."""

    initial_seconds: PositiveSeconds = 300
    max_seconds: PositiveSeconds = 21600

    @model_validator(mode="after")
    def _ordered(self) -> RetrySpec:
        if self.max_seconds < self.initial_seconds:
            raise ValueError(f"max_seconds ({self.max_seconds:g}) is below initial_seconds ({self.initial_seconds:g})")
        return self

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1 for the first) before trying again."""
        if failures < 1:
            return 0.0
        return min(self.max_seconds, self.initial_seconds * 2.0 ** min(failures - 1, 64))


@policy_kind("RightsizingPolicy", scope="tier", tier_field="rightsizing")
class RightsizingSpec(Spec):
    """Per-pod CPU and memory requests that follow measured usage, and instance types for silo tenants.

    The request is a decayed percentile of usage (flat or per UTC hour) scaled so that, replayed on the
    workload's own last days, it would have been exceeded by at most `1 - *_percentile` of the samples
    (or VPA's default's own rate there, if higher), times a safety factor; `*_margin` is the headroom
    over the newest day's need that the request never goes below. With `daily_schedule`, a spike that
    recurs at one UTC hour on most days (a scheduled job) is covered in that hour only. Never below
    `min_*`, never above `max_*`. In `apply` mode each change is capped at `max_change_percent` of the
    current request and made at most every `min_interval_hours`; a daily schedule is followed hour by
    hour, changed on the first pass of each UTC hour, each hour's request capped against what was
    applied at that hour the day before, so a new schedule ramps in over days and then holds its shape.
    After an OOM kill, memory is raised at once to at least the kill's bump (`oom_bump_ratio`,
    `oom_bump_min`) from the memory in use before it, or from the limit (or request) it was killed at where
    no sample came before it (`memory_at_oom_query`: a pod killed at start-up, before its first scrape).
    A patch the API did not take is audited with its reason and the time of the next try, and the
    workload gets no patch until then (`retry`: `initial_seconds`, doubling after each failure in a row
    up to `max_seconds`; an applied patch resets it).

    Example:
        kind: RightsizingPolicy
        name: standard
        spec:
          mode: recommend
          cpu_percentile: 0.95
          cpu_margin: 0.0
          memory_percentile: 0.99
          memory_margin: 0.15
          half_life_hours: 16
          lookback_days: 14
          min_cpu: 25m
          min_memory: 250Mi
          max_change_percent: 50
          min_interval_hours: 24
          daily_schedule: true
          schedule_min_saving: 0.05
          instance_headroom: 0.2
          retry: {initial_seconds: 300, max_seconds: 21600}
    """

    mode: Literal["recommend", "apply"] = "recommend"
    cpu_percentile: float = Field(default=0.95, gt=0, le=1)
    memory_percentile: float = Field(default=0.99, gt=0, le=1)
    margin: NonNegative = 0.15  # used for a resource whose own margin is not set
    cpu_margin: NonNegative | None = None
    memory_margin: NonNegative | None = None
    half_life_hours: PositiveHours = 16
    # The history every pass fetches, in range queries of at most 11,000 steps: a year of it is already a few
    # hundred queries per resource at the finest step.
    lookback_days: int = Field(default=14, gt=0, le=MAX_LOOKBACK_DAYS)
    # Below this, recommendations are reported but never applied, except memory raised to an OOM kill's bump.
    min_history_hours: Hours = 24
    min_cpu: Quantity = "25m"
    min_memory: Quantity = "250Mi"
    max_cpu: Quantity | None = None
    max_memory: Quantity | None = None
    max_change_percent: Positive = 50
    min_interval_hours: Hours = 24
    min_change_percent: NonNegative = 5  # smaller differences are not worth a rollout
    # A request above its container's limit is refused by the API server: raise the limit by the same
    # factor as the request (true), or leave limits alone and cap the request at the limit (false).
    raise_limits: bool = True
    daily_schedule: bool = False
    schedule_min_saving: float = Field(default=0.05, ge=0, lt=1)
    oom_bump_ratio: float = Field(default=1.2, ge=1)
    oom_bump_min: Quantity = "100Mi"
    instance_headroom: NonNegative = 0.2
    retry: RetrySpec = Field(default_factory=RetrySpec)
    cpu_query: str = DEFAULT_CPU_QUERY
    memory_query: str = DEFAULT_MEMORY_QUERY
    oom_query: str = DEFAULT_OOM_QUERY
    memory_at_oom_query: str = DEFAULT_MEMORY_AT_OOM_QUERY
    step_seconds: int = Field(default=300, ge=15, le=86400)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> RightsizingSpec:
        pairs = ((self.min_cpu, self.max_cpu, "max_cpu"), (self.min_memory, self.max_memory, "max_memory"))
        for low, high, name in pairs:
            if high is not None and parse_quantity(high) < parse_quantity(low):
                raise ValueError(f"{name} ({high}) is below the minimum ({low})")
        return self

    @property
    def effective_cpu_margin(self) -> float:
        return self.margin if self.cpu_margin is None else self.cpu_margin

    @property
    def effective_memory_margin(self) -> float:
        return self.margin if self.memory_margin is None else self.memory_margin
