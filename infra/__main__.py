"""The tenantops Pulumi program: read the stack's catalogue and policies, compose one component per tenant.

Onboarding a customer is a catalogue entry plus `pulumi up`; everything per tenant lives in the
components of `tenantops_infra`. The stack output `tenants` is what the controller reads back.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402

from tenantops_infra.controller import ControllerArgs, ControllerIdentity  # noqa: E402
from tenantops_infra.shared import CostAllocation  # noqa: E402
from tenantops_infra.stackconfig import load_tenants, stack_settings  # noqa: E402
from tenantops_infra.tenant import TenantArgs, TenantFootprint  # noqa: E402

settings = stack_settings(HERE.parent, pulumi.Config("tenantops"), os.environ)
config = load_tenants(settings)
account_id = aws.get_caller_identity_output().account_id
# The stack's region: the controller's identity and the EKS cluster the pooled tenants run in.
stack_region = pulumi.Config("aws").get("region") or "us-east-1"

CostAllocation("cost-allocation")
controller = ControllerIdentity(
    "controller",
    ControllerArgs(
        environment=config.catalog.environment,
        account_id=account_id,
        region=stack_region,
        silo_regions=sorted({t.region for t in config.tenants if t.isolation == "silo"}),
        mail_from=settings.mail_from,
        eks_cluster=settings.eks_cluster,
        oidc_provider_arn=settings.controller_oidc_provider,
    ),
)
tenants = {}
for tenant in config.tenants:
    footprint = TenantFootprint(
        tenant.id,
        TenantArgs(
            tenant=tenant,
            policies=config.for_tenant(tenant),
            environment=config.catalog.environment,
            account_id=account_id,
            workload_image=settings.workload_image,
            silo_image=settings.silo_image,
            eks_cluster=settings.eks_cluster,
            cluster_region=stack_region,
        ),
    )
    tenants[tenant.id] = footprint.outputs

pulumi.export("environment", config.catalog.environment)
pulumi.export("tenants", tenants)
pulumi.export("controller_role_arn", controller.role.arn)
