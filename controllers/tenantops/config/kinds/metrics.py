"""Which PromQL the controller runs: the queries are policy, overridable per tier."""

from __future__ import annotations

from pydantic import Field

from tenantops.config.registry import Spec, policy_kind


@policy_kind("MetricsPolicy", scope="tier", tier_field="metrics")
class MetricsSpec(Spec):
    """Named batched queries, each returning series labelled `tenant` and `workload`.

    Example:
        kind: MetricsPolicy
        name: default
        spec:
          queries:
            cpu: sum by (tenant, workload) (rate(container_cpu_usage_seconds_total[2m]))
            replicas: sum by (tenant, workload) (kube_deployment_spec_replicas)
          stale_after_seconds: 180
    """

    queries: dict[str, str] = Field(min_length=1)
    stale_after_seconds: int = Field(default=180, gt=0)
