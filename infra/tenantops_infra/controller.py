"""The controller's own cloud identity: one IAM role per stack, taken by its pods in the cluster.

Without it the controller in EKS has no credentials for Auto Scaling, Cost Explorer or SES. The role's
policy is `controller_documents.controller_policy` (the four calls the controller makes, on this
environment's tenant groups and its sender only). With `tenantops:eksCluster` set, an EKS Pod Identity
association hands the role to the controller's ServiceAccount (`tenantops/tenantops-controller`); with
`tenantops:controllerOidcProvider` (an IAM OIDC provider ARN) the role trusts that provider instead (IRSA)
and the ServiceAccount needs the annotation `eks.amazonaws.com/role-arn: <controller_role_arn>`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tenantops.structs.naming import CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, controller_role_name
from tenantops_infra import controller_documents as docs
from tenantops_infra import documents
from tenantops_infra.tags import MANAGED_BY


@dataclass(frozen=True)
class ControllerArgs:
    environment: str
    account_id: pulumi.Input[str]
    region: str  # the stack's region: SES and the role's provider
    silo_regions: Sequence[str]
    mail_from: str
    eks_cluster: str | None = None
    oidc_provider_arn: str | None = None


class ControllerIdentity(pulumi.ComponentResource):
    """IAM role + inline policy for the controller; a Pod Identity association when the cluster is EKS."""

    role: aws.iam.Role
    association: aws.eks.PodIdentityAssociation | None

    def __init__(self, name: str, args: ControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenantops:controller:Identity", name, None, opts)
        tags = {"environment": args.environment, "managed-by": MANAGED_BY, "component": "controller"}
        provider = aws.Provider(f"{name}-aws", region=args.region, default_tags={"tags": tags},
                                opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        def trust(account: str) -> str:
            if args.oidc_provider_arn:
                return json.dumps(docs.irsa_trust_policy(args.oidc_provider_arn))
            cluster = documents.cluster_arn(args.eks_cluster, args.region, account) if args.eks_cluster else None
            return json.dumps(docs.pod_identity_trust_policy(cluster))

        self.role = aws.iam.Role(
            f"{name}-role",
            name=controller_role_name(args.environment),
            description=f"tenantops controller ({args.environment}): tenant Auto Scaling groups, Cost Explorer, SES",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(trust),
            max_session_duration=3600,
            tags=tags,
            opts=child,
        )
        policy = pulumi.Output.from_input(args.account_id).apply(lambda account: json.dumps(docs.controller_policy(
            docs.ControllerScope(args.environment, account, tuple(args.silo_regions), args.region, args.mail_from))))
        aws.iam.RolePolicy(f"{name}-policy", role=self.role.id, policy=policy, opts=child)
        self.association = None
        if args.eks_cluster and not args.oidc_provider_arn:
            self.association = aws.eks.PodIdentityAssociation(
                f"{name}-pod-identity",
                cluster_name=args.eks_cluster,
                namespace=CONTROLLER_NAMESPACE,
                service_account=CONTROLLER_SERVICE_ACCOUNT,
                role_arn=self.role.arn,
                tags=tags,
                opts=child,
            )
        self.register_outputs({"role_arn": self.role.arn})
