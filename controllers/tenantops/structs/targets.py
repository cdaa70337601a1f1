"""Which object a workload's replicas live in: the same names the Pulumi program creates.

Pure (names only), so the deciders and the engine build the very same target for a workload.
"""

from __future__ import annotations

from tenantops.config.catalog import Tenant
from tenantops.structs.naming import asg_name, namespace
from tenantops.structs.plan import ScaleTarget, TargetKind


def target_for(environment: str, tenant: Tenant, workload: str) -> ScaleTarget:
    """Pooled tenants: Deployment `<workload>` in `tenant-<id>`; silo tenants: their Auto Scaling group,
    in the tenant's own region."""
    if tenant.isolation == "silo":
        return ScaleTarget(TargetKind.ASG, asg_name(environment, tenant.id, workload), region=tenant.region)
    return ScaleTarget(TargetKind.KUBERNETES, workload, namespace(tenant.id))
