"""Tiers: what a customer's plan buys, expressed as the policies its tenants run under."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tenantops.config.kinds.common import Quantity
from tenantops.config.registry import Spec, policy_kind


class Quota(Spec):
    """Namespace ResourceQuota for pooled tenants: the hard ceiling one noisy customer can take."""

    cpu: Quantity
    memory: Quantity
    pods: int = Field(gt=0)
    storage: Quantity = "50Gi"


class Limits(Spec):
    """Namespace LimitRange: defaults for containers that set no requests, and a per-container maximum."""

    default_cpu: Quantity = "250m"
    default_memory: Quantity = "256Mi"
    max_cpu: Quantity = "4"
    max_memory: Quantity = "8Gi"

    @property
    def container_max(self) -> dict[str, str]:
        """The per-container maximum by resource: the LimitRange `max` the Pulumi pool program writes, and
        the most a request patch may ask of one container (the API server refuses a pod above it)."""
        return {"cpu": self.max_cpu, "memory": self.max_memory}


@policy_kind("Tier", scope="named")
class TierSpec(Spec):
    """A plan. Each field names the policy document of that kind its tenants use.

    Example:
        kind: Tier
        name: pro
        spec:
          scaling: balanced
          rightsizing: standard
          budget: standard
          alerts: standard
          breakers: default
          quota: {cpu: "16", memory: 32Gi, pods: 60}
          limits: {default_cpu: 250m, default_memory: 256Mi, max_cpu: "4", max_memory: 8Gi}
          scale_to_zero: false
          data_retention: retain
    """

    scaling: str
    rightsizing: str
    budget: str
    alerts: str
    breakers: str
    metrics: str = "default"
    quota: Quota
    limits: Limits = Limits()
    scale_to_zero: bool = False
    # What happens to a tenant's data resources (key, bucket) when it leaves the catalogue: `retain` keeps
    # them out of Pulumi's hands instead of deleting them; `delete` lets `pulumi up` remove them.
    data_retention: Literal["retain", "delete"] = "retain"
