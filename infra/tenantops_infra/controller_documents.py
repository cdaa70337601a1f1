"""The controller's IAM documents: exactly the AWS calls it makes, on the resources it makes them on.

The controller (not a tenant) calls four AWS APIs: `autoscaling:DescribeAutoScalingGroups` and
`autoscaling:SetDesiredCapacity` for silo tenants (`act/asg.py`), `ce:GetCostAndUsage` for the cost
ledger (`observe/cost_explorer.py`) and `ses:SendRawEmail` for reports and alerts (`notify/mail.py`).

- Scaling is allowed only on this environment's tenant groups: by name (`tenantops-<env>-*`, in the
  regions the catalogue's silo tenants live in) and by tag (`managed-by=tenantops`,
  `environment=<env>`), so a group someone else created with a similar name stays out of reach.
- Describe and Cost Explorer's GetCostAndUsage take no resource-level permissions in IAM (AWS documents
  `*` as their only resource); both are read-only.
- Mail may be sent only as the configured sender (`ses:FromAddress`), from its address or domain identity.

The trust policy lets the controller's pods take the role: EKS Pod Identity (`pods.eks.amazonaws.com`,
with `sts:TagSession` as it requires, held by its session tags to the controller's namespace, ServiceAccount
and cluster ARN), or IRSA when the cluster's OIDC provider is given, limited to the controller's ServiceAccount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tenantops.structs.naming import CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, asg_name
from tenantops_infra import documents
from tenantops_infra.documents import Document
from tenantops_infra.tags import MANAGED_BY

ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:SetDesiredCapacity",
    "ce:GetCostAndUsage",
    "ses:SendRawEmail",
)


@dataclass(frozen=True)
class ControllerScope:
    """What the controller's policy is scoped to."""

    environment: str
    account_id: str
    silo_regions: Sequence[str]
    mail_region: str
    mail_from: str
    partition: str = "aws"

    def group_arns(self) -> list[str]:
        """Every Auto Scaling group of this environment's tenants, by the names the program gives them."""
        names = asg_name(self.environment, "*", "*")
        return [f"arn:{self.partition}:autoscaling:{region}:{self.account_id}:autoScalingGroup:*:"
                f"autoScalingGroupName/{names}" for region in sorted(set(self.silo_regions))]

    def sender_identities(self) -> list[str]:
        domain = self.mail_from.rsplit("@", 1)[-1]
        base = f"arn:{self.partition}:ses:{self.mail_region}:{self.account_id}:identity"
        return [f"{base}/{self.mail_from}", f"{base}/{domain}"]


def controller_policy(scope: ControllerScope) -> Document:
    """The controller role's inline policy (see the module docstring for why each statement is as it is)."""
    statements: list[Document] = [
        {"Sid": "DescribeGroups", "Effect": "Allow", "Action": ["autoscaling:DescribeAutoScalingGroups"],
         "Resource": "*"},
        {"Sid": "ReadCosts", "Effect": "Allow", "Action": ["ce:GetCostAndUsage"], "Resource": "*"},
        {"Sid": "SendReports", "Effect": "Allow", "Action": ["ses:SendRawEmail"],
         "Resource": scope.sender_identities(),
         "Condition": {"StringEquals": {"ses:FromAddress": scope.mail_from}}},
    ]
    groups = scope.group_arns()
    if groups:
        statements.insert(1, {
            "Sid": "ScaleTenantGroups", "Effect": "Allow", "Action": ["autoscaling:SetDesiredCapacity"],
            "Resource": groups,
            "Condition": {"StringEquals": {"aws:ResourceTag/managed-by": MANAGED_BY,
                                           "aws:ResourceTag/environment": scope.environment}},
        })
    return {"Version": "2012-10-17", "Statement": statements}


def pod_identity_trust_policy(cluster: str | None) -> Document:
    """EKS Pod Identity for the controller's ServiceAccount only, on the cluster of ARN `cluster` when it is
    known (`documents.pod_identity_trust_policy`)."""
    return documents.pod_identity_trust_policy(CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, cluster)


def irsa_trust_policy(oidc_provider_arn: str) -> Document:
    """IRSA: web identity tokens of the controller's ServiceAccount only, issued by the cluster's OIDC provider."""
    issuer = oidc_provider_arn.split(":oidc-provider/", 1)[-1]
    subject = f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{CONTROLLER_SERVICE_ACCOUNT}"
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "ControllerServiceAccount", "Effect": "Allow", "Principal": {"Federated": oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}},
    }]}
