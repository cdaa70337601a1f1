"""The cost allocation tags every taggable resource of a tenant carries.

Provider default tags put them on everything the AWS provider creates, and components pass them again
explicitly: explicit tags survive a provider swap, and they are what tests (and auditors reading a
resource on its own) can see.
"""

from __future__ import annotations

from tenantops.structs.naming import COST_TAG_KEYS

MANAGED_BY = "tenantops"


def cost_tags(environment: str, tenant_id: str, tier: str) -> dict[str, str]:
    """The four cost allocation tags, in `COST_TAG_KEYS` order; `tenant` drives budgets and Cost Explorer."""
    values = {"tenant": tenant_id, "tier": tier, "environment": environment, "managed-by": MANAGED_BY}
    return {key: values[key] for key in COST_TAG_KEYS}


def with_name(tags: dict[str, str], name: str) -> dict[str, str]:
    """Tags plus `Name`, which the EC2 console shows for VPCs, subnets and instances."""
    return {**tags, "Name": name}


def asg_tags(tags: dict[str, str]) -> list[dict[str, object]]:
    """Auto Scaling groups take tags as a list and must propagate them to the instances they launch."""
    return [{"key": k, "value": v, "propagate_at_launch": True} for k, v in tags.items()]


def k8s_labels(tags: dict[str, str]) -> dict[str, str]:
    """Kubernetes labels carrying the same cost tags, plus the standard managed-by label."""
    return {**tags, "app.kubernetes.io/managed-by": MANAGED_BY}
