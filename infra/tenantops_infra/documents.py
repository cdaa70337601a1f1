"""Policy documents of a tenant: what its identity may reach, who may use its key, how its bucket is guarded.

Pure functions of names and ARNs, so the isolation argument ("a tenant's role reaches its own resources
and nothing else") can be checked on the documents themselves, in unit tests and in moto, without Pulumi.

Every statement is either scoped to ARNs that contain the tenant's own resource prefix (S3, SSM, logs,
KMS key) or, where the service supports attribute-based access control, to `*` with a condition on the
resource's `tenant` tag equal to this tenant (ABAC). No statement uses a wildcard that could match the
prefix of another tenant's name: a bucket ARN ends at the exact bucket name, a parameter path ARN at the
exact path, and wildcards come only after a `/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenantops.structs.naming import WORKLOAD_SERVICE_ACCOUNT, fit, namespace, resource_prefix

Document = dict[str, Any]

_S3_NAME_LIMIT = 63
_IAM_ROLE_NAME_LIMIT = 64
_BUDGET_NAME_LIMIT = 100




def bucket_name(environment: str, tenant_id: str) -> str:
    """The tenant's data bucket: a fixed name, so its ARN is known before it exists."""
    return fit(f"{resource_prefix(environment, tenant_id)}-data", _S3_NAME_LIMIT)


def role_name(environment: str, tenant_id: str) -> str:
    """The IAM role the tenant's workloads run as."""
    return fit(f"{resource_prefix(environment, tenant_id)}-workload", _IAM_ROLE_NAME_LIMIT)


def budget_name(environment: str, tenant_id: str) -> str:
    """The tenant's monthly AWS Budget (Budgets allows 100 characters)."""
    return fit(f"{resource_prefix(environment, tenant_id)}-monthly", _BUDGET_NAME_LIMIT)


def parameter_path(environment: str, tenant_id: str) -> str:
    """SSM Parameter Store path under which the tenant's configuration lives (ends in `/`)."""
    return f"/tenantops/{environment}/{tenant_id}/"


def log_group_name(environment: str, tenant_id: str) -> str:
    return f"/tenantops/{environment}/{tenant_id}"


@dataclass(frozen=True)
class TenantScope:
    """Everything a tenant's documents are scoped to. `key_arn` is only known once the key exists."""

    tenant_id: str
    environment: str
    account_id: str
    region: str
    key_arn: str
    partition: str = "aws"

    @property
    def bucket(self) -> str:
        return bucket_name(self.environment, self.tenant_id)

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    @property
    def role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{role_name(self.environment, self.tenant_id)}"

    @property
    def parameter_path_arn(self) -> str:
        """The ARN of the tenant's path itself: what `GetParametersByPath` is authorised against."""
        path = parameter_path(self.environment, self.tenant_id).rstrip("/")
        return f"arn:{self.partition}:ssm:{self.region}:{self.account_id}:parameter{path}"

    @property
    def parameters_arn(self) -> str:
        """Every parameter under the tenant's path (and the path written with its trailing `/`)."""
        return f"{self.parameter_path_arn}/*"

    @property
    def log_group_arn(self) -> str:
        name = log_group_name(self.environment, self.tenant_id)
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:{name}:*"

    def owned_arns(self) -> list[str]:
        """Concrete ARNs of resources this tenant owns: what other tenants' documents must never match."""
        return [
            self.bucket_arn,
            f"{self.bucket_arn}/reports/2026/01.csv",
            self.key_arn,
            self.parameter_path_arn,
            self.parameters_arn.replace("*", "db-password"),
            self.log_group_arn.replace(":*", ":log-stream:api-1"),
            f"arn:{self.partition}:secretsmanager:{self.region}:{self.account_id}:secret:"
            f"{resource_prefix(self.environment, self.tenant_id)}-db-AbCdEf",
        ]


S3_BUCKET_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation"]
S3_OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]
KMS_USE_ACTIONS = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
]
ABAC_TAG_CONDITION_KEY = "aws:ResourceTag/tenant"
# Stacks may share an account, and a customer keeps its id in every stack: the tenant tag alone names the
# tenant's secrets of every environment, so ABAC also pins the environment (both are cost tags already).
ABAC_ENVIRONMENT_CONDITION_KEY = "aws:ResourceTag/environment"


def workload_role_policy(scope: TenantScope) -> Document:
    """The tenant role's inline policy: its own bucket, key, parameters and logs; tagged secrets by ABAC
    (tagged `tenant=<id>` and `environment=<environment>`: a dev role must not read prod's secrets).

    S3 statements carry no conditions on purpose: the isolation must hold from the resource ARN alone,
    which is also what moto's IAM enforcement evaluates. `GetParametersByPath` is authorised against the
    requested path rather than the parameters it returns, so the path's own ARN is granted next to
    `path/*`; it is an exact ARN, because `parameter/.../acme*` would also match `acme-evil`'s path.
    """
    secrets = f"arn:{scope.partition}:secretsmanager:{scope.region}:{scope.account_id}:secret:*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "OwnBucket", "Effect": "Allow", "Action": S3_BUCKET_ACTIONS, "Resource": [scope.bucket_arn]},
            {
                "Sid": "OwnObjects",
                "Effect": "Allow",
                "Action": S3_OBJECT_ACTIONS,
                "Resource": [f"{scope.bucket_arn}/*"],
            },
            {"Sid": "OwnKey", "Effect": "Allow", "Action": KMS_USE_ACTIONS, "Resource": [scope.key_arn]},
            {
                "Sid": "OwnParameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
                "Resource": [scope.parameter_path_arn, scope.parameters_arn],
            },
            {
                "Sid": "OwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [scope.log_group_arn],
            },
            {
                "Sid": "TaggedSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": [secrets],
                "Condition": {"StringEquals": {ABAC_TAG_CONDITION_KEY: scope.tenant_id,
                                               ABAC_ENVIRONMENT_CONDITION_KEY: scope.environment}},
            },
        ],
    }


def cluster_arn(cluster: str, region: str, account_id: str, partition: str = "aws") -> str:
    """The EKS cluster's ARN: what its Pod Identity sessions are tagged with as `eks-cluster-arn`."""
    return f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster}"


def pod_identity_trust_policy(namespace_name: str, service_account: str, cluster: str | None) -> Document:
    """EKS Pod Identity for the pods of one ServiceAccount in one namespace (and cluster, when known).

    The Pod Identity agent assumes the role for whatever association names it, and any association in
    the account may name any role: without conditions, an association made for another namespace (by
    mistake, or by whoever may create associations on any cluster of the account) hands that namespace's
    pods this role. The agent tags each session with the pod's cluster, namespace and ServiceAccount, so
    the trust policy holds the role to the ones it is for (AWS's documented form). `cluster` is the
    cluster's ARN (`cluster_arn`), not its name: a name is unique only within one account and region, so
    a cluster of the same name in another region or account would match `eks-cluster-name`.
    """
    tags = {"aws:RequestTag/kubernetes-namespace": namespace_name,
            "aws:RequestTag/kubernetes-service-account": service_account}
    if cluster:
        tags["aws:RequestTag/eks-cluster-arn"] = cluster
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "EksPodIdentity", "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"], "Condition": {"StringEquals": tags},
    }]}


def ec2_trust_policy(account_id: str, region: str, partition: str = "aws") -> Document:
    """EC2, for instances of this account in this region only (cross-service confused-deputy protection).

    When EC2 assumes the role for an instance, the request's `aws:SourceAccount` is the instance's account
    and `aws:SourceArn` its ARN: a request for another account's instance, another region's, or for
    anything but an instance is refused. Both use the `...IfExists` form: AWS documents no guarantee that
    EC2 supplies them on every instance-profile assumption (scanners that demand them report EC2 roles as
    false positives, prowler-cloud/prowler#2810), and a plain `StringEquals` on an absent key would lock
    every instance of the tenant out; where EC2 names a source, it must be this tenant's. The role can
    reach an instance only through `iam:PassRole`, which never crosses accounts.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Ec2InstancesOfThisAccountAndRegion",
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEqualsIfExists": {"aws:SourceAccount": account_id},
                "ArnLikeIfExists": {"aws:SourceArn": f"arn:{partition}:ec2:{region}:{account_id}:instance/*"},
            },
        }],
    }


def workload_trust_policy(isolation: str, tenant_id: str, cluster: str | None = None, *,
                          account_id: str | None = None, region: str | None = None) -> Document:
    """Who may assume the tenant role: EC2 for silo instances of `account_id` in `region`
    (`ec2_trust_policy`); for pooled workloads, EKS Pod Identity for the tenant's own namespace and
    ServiceAccount only, on the cluster of ARN `cluster` when it is known (`pod_identity_trust_policy`)."""
    if isolation == "silo":
        if not account_id or not region:
            raise ValueError("a silo tenant's trust policy needs the account and region of its instances")
        return ec2_trust_policy(account_id, region)
    return pod_identity_trust_policy(namespace(tenant_id), WORKLOAD_SERVICE_ACCOUNT, cluster)


def key_policy(scope: TenantScope, *, silo: bool, role_arn: str | None = None) -> Document:
    """The tenant key's policy: the account administers it, only the tenant's role uses it.

    Delegating administration to the account root is what keeps a key manageable; use is granted to the
    one role by ARN, so another tenant's role cannot use this key even with a careless identity policy.
    Administration is granted by action families (`kms:Put*`, `kms:Update*`...) except creation, which is
    `kms:CreateAlias` only: `kms:Create*` includes `kms:CreateGrant`, and a grant is use, which any
    principal of the account that its identity policy allows `kms:CreateGrant` could hand itself.
    Silo tenants' instance volumes are encrypted under the key, which the Auto Scaling service-linked role
    must be able to use when it launches them. `scope.key_arn` is not used: the key does not exist yet.
    `role_arn` is the role as created (default: `scope.role_arn`, its name's ARN): KMS refuses a policy
    naming a principal that does not exist, so the program builds this from the role's `arn` output,
    which makes the key wait for the role.
    """
    root = f"arn:{scope.partition}:iam::{scope.account_id}:root"
    policy: Document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": [
                    "kms:CreateAlias", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                ],
                "Resource": "*",
            },
            {
                "Sid": "TenantRoleUses",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn or scope.role_arn},
                "Action": KMS_USE_ACTIONS,
                "Resource": "*",
            },
        ],
    }
    if silo:
        autoscaling = (
            f"arn:{scope.partition}:iam::{scope.account_id}:role/aws-service-role/"
            "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        )
        policy["Statement"] += [{
            "Sid": "AutoScalingLaunchesEncryptedVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": autoscaling},
            "Action": [*KMS_USE_ACTIONS, "kms:ReEncrypt*"],
            "Resource": "*",
        }, {
            # A grant lets its grantee use the key; Auto Scaling needs one only to hand the volume it
            # attaches to EC2, so grants for anything but an AWS resource are refused (AWS's documented form).
            "Sid": "AutoScalingGrantsForVolumesOnly",
            "Effect": "Allow",
            "Principal": {"AWS": autoscaling},
            "Action": ["kms:CreateGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        }]
    return policy


SSE_HEADER = "s3:x-amz-server-side-encryption"
SSE_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"


def bucket_policy(scope: TenantScope) -> Document:
    """Deny any request without TLS, and uploads encrypted other than under the tenant's key.

    An upload that names no encryption is encrypted under the tenant's key by the bucket's default, and
    must be let through: conditions see the request's headers, not the default, and a negated operator
    (`StringNotEquals`, and `...IfExists` alike) is true when its key is absent, so each Deny also needs
    its header present (`Null: false`) or it refuses every upload that does not name the key itself. One
    that names SSE-S3 (`AES256`) names no key at all, so a key-id condition alone lets it through, and
    the object is then readable without the tenant's key: outside its key policy and beyond the reach of
    disabling the key. Only KMS encryption (under the tenant's key, by the next statement) is admitted.
    """
    resources = [scope.bucket_arn, f"{scope.bucket_arn}/*"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOtherEncryption",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": [f"{scope.bucket_arn}/*"],
                "Condition": {
                    "Null": {SSE_HEADER: "false"},
                    "StringNotEquals": {SSE_HEADER: ["aws:kms", "aws:kms:dsse"]},
                },
            },
            {
                "Sid": "DenyForeignKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": [f"{scope.bucket_arn}/*"],
                "Condition": {
                    "Null": {SSE_KEY_HEADER: "false"},
                    "StringNotEquals": {SSE_KEY_HEADER: scope.key_arn},
                },
            },
        ],
    }


def s3_endpoint_policy(scope: TenantScope) -> Document:
    """The silo VPC's S3 gateway endpoint: requests through it may reach the tenant's own bucket only.

    Without a policy an endpoint allows any request to any bucket of any account, so code on a tenant's
    instance could copy its data out to a bucket of anyone's, with anyone's credentials. The actions are
    those the tenant's role has on its bucket; `aws:ResourceAccount` keeps a bucket of the same name in
    another account (the name taken after the tenant's was deleted) out. The role's policy still decides
    what the instances may do: the endpoint only narrows where the network path leads.
    """
    condition = {"StringEquals": {"aws:ResourceAccount": scope.account_id}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "OwnBucket", "Effect": "Allow", "Principal": "*", "Action": S3_BUCKET_ACTIONS,
             "Resource": [scope.bucket_arn], "Condition": condition},
            {"Sid": "OwnObjects", "Effect": "Allow", "Principal": "*", "Action": S3_OBJECT_ACTIONS,
             "Resource": [f"{scope.bucket_arn}/*"], "Condition": condition},
        ],
    }


def budget_topic_policy(topic_arn: str, account_id: str) -> Document:
    """Let AWS Budgets publish to the tenant's alert topic, and only for a budget of this account.

    Cross-service confused-deputy protection as AWS documents it for budget notifications: the publish must
    come from this account (`aws:SourceAccount`) and from one of its budgets (`aws:SourceArn`, ArnLike
    `arn:<partition>:budgets::<account>:*`, the partition the topic's own). Budgets supplies both keys on
    its publishes, so plain operators, not `...IfExists`: a publish naming no source is refused."""
    partition = topic_arn.split(":")[1] if topic_arn.startswith("arn:") else "aws"
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "BudgetsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "budgets.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                          "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account_id}:*"}},
        }],
    }
