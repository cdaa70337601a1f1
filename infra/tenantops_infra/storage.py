"""The tenant's data: its own KMS key and a bucket that is encrypted under it and can never be public."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tenantops.structs.naming import resource_prefix
from tenantops_infra import documents
from tenantops_infra.retention import data_options


@dataclass(frozen=True)
class DataArgs:
    tenant_id: str
    environment: str
    region: str
    account_id: pulumi.Input[str]
    tags: dict[str, str]
    retain: bool
    silo: bool
    role_arn: pulumi.Input[str]  # the tenant's role, the one principal that uses the key (created first)


class TenantData(pulumi.ComponentResource):
    """KMS key (rotation on), an SSE-KMS bucket with versioning, no public access and TLS only, and the
    log group the tenant's role writes to."""

    key: aws.kms.Key
    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: DataArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenantops:tenant:Data", name, None, opts)
        tid, env = args.tenant_id, args.environment

        def scope(account: str, key_arn: str = "") -> documents.TenantScope:
            return documents.TenantScope(tid, env, account, args.region, key_arn)

        # From the role's own ARN output: KMS refuses a key policy whose principal does not exist yet, and
        # the output orders the key after the role.
        key_policy = pulumi.Output.all(args.account_id, args.role_arn).apply(
            lambda values: json.dumps(documents.key_policy(scope(values[0]), silo=args.silo, role_arn=values[1]))
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"tenantops {env} data key of tenant {tid}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30 if args.retain else 7,
            policy=key_policy,
            tags=args.tags,
            opts=data_options(self, retain=args.retain),
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{resource_prefix(env, tid)}",
            target_key_id=self.key.key_id,
            opts=data_options(self, retain=args.retain),
        )
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=documents.bucket_name(env, tid),
            force_destroy=not args.retain,
            tags=args.tags,
            opts=data_options(self, retain=args.retain),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-sse",
            bucket=self.bucket.id,
            rules=[{
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": self.key.arn,
                },
                "bucket_key_enabled": True,
            }],
            opts=data_options(self, retain=args.retain),
        )
        aws.s3.BucketVersioning(
            f"{name}-bucket-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=data_options(self, retain=args.retain),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-bucket-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},  # no ACLs: the policy alone decides access
            opts=data_options(self, retain=args.retain),
        )
        public_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-bucket-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=data_options(self, retain=args.retain),
        )
        bucket_policy = pulumi.Output.all(args.account_id, self.key.arn).apply(
            lambda values: json.dumps(documents.bucket_policy(scope(values[0], values[1])))
        )
        self.policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=self.bucket.id,
            policy=bucket_policy,
            # S3 rejects a policy written while the public access block is still being applied.
            opts=data_options(self, retain=args.retain, depends_on=[public_block]),
        )
        # The role may write to this group and create streams in it, never create groups (which would let
        # it make another tenant's): without the group itself every log call of the tenant's workloads
        # fails with ResourceNotFoundException. Kept for a year on retained tiers, a month otherwise.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=documents.log_group_name(env, tid),
            retention_in_days=365 if args.retain else 30,
            tags=args.tags,
            opts=data_options(self, retain=args.retain),
        )
        self.register_outputs({"key_arn": self.key.arn, "bucket": self.bucket.bucket})
