"""Names shared by the Pulumi program (which creates things) and the controller (which finds them again).

Both sides derive a tenant's resource names from here, so a rename can never leave the controller
scaling something the program no longer manages.
"""

from __future__ import annotations

import hashlib

LAUNCH_TEMPLATE_NAME_LIMIT = 128
"""EC2's limit on a launch template name."""


def fit(name: str, limit: int) -> str:
    """Shorten a name over an AWS length limit, keeping it unique with a hash of the full name."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def namespace(tenant_id: str) -> str:
    """Kubernetes namespace of a pooled tenant."""
    return f"tenant-{tenant_id}"


def asg_name(environment: str, tenant_id: str, workload: str) -> str:
    """Auto Scaling group of a silo tenant's workload."""
    return f"tenantops-{environment}-{tenant_id}-{workload}"


def launch_template_name(environment: str, tenant_id: str, workload: str) -> str:
    """Launch template of a silo tenant's workload: its Auto Scaling group's name, cut to EC2's limit (at the
    catalogue's longest names the group's name is 158 characters; a group's may be 255, a template's 128)."""
    return fit(asg_name(environment, tenant_id, workload), LAUNCH_TEMPLATE_NAME_LIMIT)


def resource_prefix(environment: str, tenant_id: str) -> str:
    """Prefix of a tenant's cloud resource names (buckets, keys, roles)."""
    return f"tenantops-{environment}-{tenant_id}"


COST_TAG_KEYS = ("tenant", "tier", "environment", "managed-by")
"""Cost allocation tags every taggable resource carries; `tenant` is the one budgets and Cost Explorer use."""


CONTROLLER_NAMESPACE = "tenantops"
"""Namespace of the controller's Deployment, ServiceAccount and Leases (deploy/base)."""

CONTROLLER_SERVICE_ACCOUNT = "tenantops-controller"
"""The controller's ServiceAccount: the subject of its RoleBindings and of its cloud identity."""

WORKLOAD_SERVICE_ACCOUNT = "workload"
"""The ServiceAccount a pooled tenant's pods run as in its namespace: the only one its IAM role trusts."""

POOLED_TENANT_ROLES = ("tenantops-scaler", "tenantops-rightsizer", "tenantops-replica-reader", "tenantops-events")
"""ClusterRoles (deploy/base/rbac.yaml) the controller is granted in each pooled tenant's namespace, and
only there: scaling through `deployments/scale`, right-sizing's request patches of `deployments`, the
live-count reader's `list` of the namespace's Deployments, and `create` of the Events of its writes.
The Pulumi pool component creates one RoleBinding per role with the tenant's namespace."""


def controller_role_name(environment: str) -> str:
    """The controller's IAM role (Auto Scaling of the tenant groups, Cost Explorer, SES)."""
    return f"tenantops-{environment}-controller"
