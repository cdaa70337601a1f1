"""The tenant's identity: one IAM role its workloads run as, reaching only the tenant's own resources."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tenantops_infra import documents


@dataclass(frozen=True)
class IdentityArgs:
    tenant_id: str
    environment: str
    region: str
    isolation: str
    account_id: pulumi.Input[str]
    tags: dict[str, str]
    eks_cluster: str | None = None
    cluster_region: str | None = None  # where the EKS cluster is; unset: the tenant's region


class TenantIdentity(pulumi.ComponentResource):
    """Role + inline policy from `documents.workload_role_policy`; silo tenants also get an instance profile.

    The role carries the `tenant` tag too, so sessions of it hold `aws:PrincipalTag/tenant` for ABAC.
    The order is role, then the tenant's key (whose policy names the role, which must exist), then the
    role's policy (which names the key): the policy comes from `grant`, once the key is there.
    """

    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    instance_profile: aws.iam.InstanceProfile | None

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenantops:tenant:Identity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster, cluster_region = args.eks_cluster, args.cluster_region or args.region

        def trust(account: str) -> str:
            arn = documents.cluster_arn(cluster, cluster_region, account) if cluster else None
            return json.dumps(documents.workload_trust_policy(args.isolation, args.tenant_id, arn,
                                                              account_id=account, region=args.region))

        self.role = aws.iam.Role(
            f"{name}-role",
            name=documents.role_name(args.environment, args.tenant_id),
            description=f"Workloads of tenant {args.tenant_id} ({args.environment})",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(trust),
            max_session_duration=3600,
            tags=args.tags,
            opts=child,
        )
        self._name, self._args = name, args
        self.instance_profile = None
        if args.isolation == "silo":
            self.instance_profile = aws.iam.InstanceProfile(
                f"{name}-instance-profile", role=self.role.name, tags=args.tags, opts=child
            )
        self.register_outputs({"role_arn": self.role.arn})

    def grant(self, key_arn: pulumi.Input[str]) -> aws.iam.RolePolicy:
        """The role's inline policy: its own bucket, `key_arn` (the tenant's key), parameters, logs, secrets."""
        args = self._args
        policy = pulumi.Output.all(args.account_id, key_arn).apply(
            lambda values: json.dumps(
                documents.workload_role_policy(
                    documents.TenantScope(args.tenant_id, args.environment, values[0], args.region, values[1])
                )
            )
        )
        self.policy = aws.iam.RolePolicy(f"{self._name}-role-policy", role=self.role.id, policy=policy,
                                         opts=pulumi.ResourceOptions(parent=self))
        return self.policy
