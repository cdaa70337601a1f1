"""One tenant's whole footprint, composed from the data, identity, budget and pool-or-silo components.

Every AWS resource of the tenant goes through a provider of its own region whose default tags are the
tenant's cost allocation tags; components pass the same tags explicitly as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from tenantops.config.catalog import Tenant
from tenantops.config.loader import TenantPolicies
from tenantops.structs.naming import namespace as namespace_name
from tenantops.structs.plan import TargetKind
from tenantops_infra.budget import BudgetArgs, TenantBudget
from tenantops_infra.iam import IdentityArgs, TenantIdentity
from tenantops_infra.pool import PoolArgs, PoolFootprint
from tenantops_infra.silo import SiloArgs, SiloFootprint
from tenantops_infra.storage import DataArgs, TenantData
from tenantops_infra.tags import cost_tags


@dataclass(frozen=True)
class TenantArgs:
    """What the component needs: the catalogue entry, its resolved policies and stack-wide settings."""

    tenant: Tenant
    policies: TenantPolicies
    environment: str
    account_id: pulumi.Input[str]
    workload_image: str
    silo_image: str
    eks_cluster: str | None = None
    extra_budget_recipients: tuple[str, ...] = ()
    cluster_region: str | None = None  # where the EKS cluster is (the stack's region); unset: the tenant's


class TenantFootprint(pulumi.ComponentResource):
    """Everything one customer has: key, bucket, role, budget, and its namespace or its own VPC and ASGs.

    `outputs` is what the stack exports for the controller: scale targets, bucket, key and role ARNs.
    """

    outputs: dict[str, Any]

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenantops:tenant:Tenant", name, None, opts)
        tenant, tier = args.tenant, args.policies.tier
        tags = cost_tags(args.environment, tenant.id, args.policies.tier_name)
        retain = tier.data_retention == "retain"
        silo = tenant.isolation == "silo"
        provider = aws.Provider(
            f"{name}-aws",
            region=tenant.region,
            default_tags={"tags": tags},
            opts=pulumi.ResourceOptions(parent=self),
        )
        scoped = pulumi.ResourceOptions(parent=self, providers={"aws": provider})

        # Role first, then the key whose policy names it, then the role's policy naming the key.
        identity = TenantIdentity(
            name,
            IdentityArgs(tenant.id, args.environment, tenant.region, tenant.isolation, args.account_id,
                         tags, args.eks_cluster, args.cluster_region),
            scoped,
        )
        data = TenantData(
            name,
            DataArgs(tenant.id, args.environment, tenant.region, args.account_id, tags, retain, silo,
                     identity.role.arn),
            scoped,
        )
        identity.grant(data.key.arn)
        budget = TenantBudget(
            name,
            BudgetArgs(
                tenant_id=tenant.id,
                environment=args.environment,
                amount_usd=tenant.budget_usd_month,
                actual_thresholds=args.policies.budget.actual_thresholds,
                forecast_thresholds=args.policies.budget.forecast_thresholds,
                recipients=[*tenant.contacts, *args.policies.alerts.extra_recipients, *args.extra_budget_recipients],
                account_id=args.account_id,
                tags=tags,
            ),
            scoped,
        )
        targets: list[dict[str, Any]] = []
        if silo:
            assert identity.instance_profile is not None  # created for every silo tenant
            compute = SiloFootprint(
                name,
                SiloArgs(tenant.id, args.environment, tenant.region, tenant.workloads, tags, data.key.arn,
                         identity.instance_profile.arn, args.account_id, image=args.silo_image),
                scoped,
            )
            for workload in tenant.workloads:
                group = compute.groups[workload.name]
                targets.append({"workload": workload.name, "kind": TargetKind.ASG.value, "name": group.name,
                                "namespace": None, "min_replicas": group.min_size, "max_replicas": group.max_size})
            network: dict[str, Any] = {"vpc_id": compute.vpc.id, "subnet_ids": [s.id for s in compute.subnets]}
        else:
            pool = PoolFootprint(
                name,
                PoolArgs(tenant.id, tier.quota, tier.limits, tenant.workloads, args.workload_image, tags,
                         identity.role.arn, args.eks_cluster, args.cluster_region or tenant.region),
                scoped,
            )
            for workload in tenant.workloads:
                deployment = pool.deployments[workload.name]
                targets.append({"workload": workload.name, "kind": TargetKind.KUBERNETES.value,
                                "name": deployment.metadata.name, "namespace": namespace_name(tenant.id),
                                "min_replicas": workload.min_replicas, "max_replicas": workload.max_replicas})
            network = {"namespace": namespace_name(tenant.id)}

        self.outputs = {
            "tenant": tenant.id,
            "tier": args.policies.tier_name,
            "isolation": tenant.isolation,
            "region": tenant.region,
            "data_retention": tier.data_retention,
            "bucket": data.bucket.bucket,
            "bucket_arn": data.bucket.arn,
            "key_arn": data.key.arn,
            "role_arn": identity.role.arn,
            "budget": budget.budget.name,
            "alerts_topic_arn": budget.topic.arn,
            "scale_targets": targets,
            **network,
        }
        self.register_outputs(self.outputs)
