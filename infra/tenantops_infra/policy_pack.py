"""The tenantops CrossGuard policy pack: the guard functions of `guards`, enforced by the Pulumi engine.

`infra/policy/` is the pack the CLI loads (`pulumi preview --policy-pack infra/policy`, and
`tenantops provision`, which passes it on every preview and update); its entry point only builds a
`PolicyPack` from `POLICIES` below. The policies themselves stay importable without the engine
(constructing a `PolicyPack` starts the analyzer's gRPC server and never returns), so pytest calls the
same validation functions on what the Pulumi mocks recorded, wrapped as the SDK wraps a stack.

Each policy is a stack validation: a guard needs the tenant around a resource (its component, its
key, its provider's default tags), which a single resource does not carry. A resource is a tenant's
when a `tenantops:tenant:Tenant` component is among its ancestors; the component's name is the tenant
id. During a first preview some outputs (a new key's ARN) are unknown; the SDK then reports that the
policy could not run yet instead of a violation, and the update runs it on known values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from tenantops.structs.naming import COST_TAG_KEYS
from tenantops_infra import guards
from tenantops_infra.documents import Document, TenantScope
from tenantops_infra.mocked import Recorded

PACK_NAME = "tenantops"
TENANT = "tenantops:tenant:Tenant"
KEY = "aws:kms/key:Key"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
AWS_PROVIDER = "pulumi:providers:aws"


def _recorded(resource: PolicyResource) -> Recorded:
    """The guards' view of a resource: its type, name and properties (the engine's camelCase names)."""
    props = dict(resource.props)
    custom = resource.resource_type.startswith(("aws:", "kubernetes:"))
    rid = str(props.get("id") or props.get("bucket") or resource.name) if custom else ""
    parent = resource.parent.urn if resource.parent is not None else ""
    return Recorded(resource.resource_type, resource.name, resource.urn, props, state=props, id=rid, custom=custom,
                    parent=parent)


def _tenant_of(resource: PolicyResource) -> str | None:
    node = resource.parent
    while node is not None:
        if node.resource_type == TENANT:
            return node.name
        node = node.parent
    return None


@dataclass
class _Tenant:
    """What the stack holds for one tenant, gathered once per validation."""

    tenant_id: str
    resources: list[PolicyResource] = field(default_factory=list)

    def of_type(self, typ: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type == typ]

    def default_tags(self) -> dict[str, str]:
        """The tenant's AWS provider's default tags: the cost tags every resource of it must carry."""
        for provider in self.of_type(AWS_PROVIDER):
            raw = provider.props.get("defaultTags")
            tags = (json.loads(raw) if isinstance(raw, str) else raw or {}).get("tags") or {}
            if tags:
                return {str(k): str(v) for k, v in tags.items()}
        return {}

    def key_arn(self) -> str:
        keys = self.of_type(KEY)
        return str(keys[0].props.get("arn") or "") if keys else ""

    def scope(self) -> TenantScope | None:
        """The tenant's document scope, from its key's ARN (region, account) and its environment tag."""
        arn = self.key_arn()
        parts = arn.split(":")
        if len(parts) < 6:
            return None
        return TenantScope(self.tenant_id, self.default_tags().get("environment", ""), parts[4], parts[3], arn,
                           partition=parts[1])


def _tenants(resources: Iterable[PolicyResource]) -> dict[str, _Tenant]:
    out: dict[str, _Tenant] = {}
    for resource in resources:
        tenant = _tenant_of(resource)
        if tenant is not None:
            out.setdefault(tenant, _Tenant(tenant)).resources.append(resource)
    return out


def _report(report_violation: ReportViolation, messages: Iterable[str], urn: str | None = None) -> None:
    for message in messages:
        report_violation(message, urn)


def validate_bucket_encryption(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every tenant bucket is encrypted by default with SSE-KMS under its own tenant's key."""
    for tenant in _tenants(args.resources).values():
        recorded = [_recorded(r) for r in tenant.resources]
        keys = {r.id: tenant.key_arn() for r in recorded if r.type == guards.BUCKET}
        _report(report_violation, guards.unencrypted_buckets(recorded, keys))


def validate_buckets_not_public(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every tenant bucket has a public access block with all four flags set."""
    for tenant in _tenants(args.resources).values():
        _report(report_violation, guards.public_buckets([_recorded(r) for r in tenant.resources]))


def validate_cost_tags(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every taggable resource of a tenant carries the four cost allocation tags, `tenant` its own id."""
    for tenant in _tenants(args.resources).values():
        expected = tenant.default_tags()
        if expected.get("tenant") != tenant.tenant_id or set(expected) < set(COST_TAG_KEYS):
            report_violation(f"tenant {tenant.tenant_id}: its AWS provider's default tags {expected} are not the "
                             f"cost tags {list(COST_TAG_KEYS)} with tenant={tenant.tenant_id}", None)
            expected = {**expected, "tenant": tenant.tenant_id}
        wanted = {k: v for k, v in expected.items() if k in COST_TAG_KEYS}
        _report(report_violation, guards.missing_tags([_recorded(r) for r in tenant.resources], wanted))


def _document(resource: PolicyResource) -> Document | None:
    raw = resource.props.get("policy")
    if isinstance(raw, str):
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else None
    return raw if isinstance(raw, Mapping) else None  # type: ignore[return-value]


def validate_no_cross_tenant_reach(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """No role, key, bucket or VPC endpoint policy of a tenant reaches another tenant's resources."""
    tenants = _tenants(args.resources)
    scopes = {tid: scope for tid, t in tenants.items() if (scope := t.scope()) is not None}
    for tid, tenant in tenants.items():
        own = scopes.get(tid)
        if own is None:
            report_violation(f"tenant {tid}: no KMS key, so its documents cannot be checked", None)
            continue
        # An endpoint policy's "*" is every resource the endpoint leads to, as in an identity policy.
        attached = {ROLE_POLICY: None, KEY: own.key_arn, BUCKET_POLICY: own.bucket_arn, VPC_ENDPOINT: None}
        for resource in tenant.resources:
            if resource.resource_type not in attached:
                continue
            document = _document(resource)
            if document is None:
                continue
            reach = guards.cross_tenant_reach(document, own, scopes.values(),
                                              attached_to=attached[resource.resource_type])
            _report(report_violation, reach, resource.urn)


def _policy(name: str, validate: Any) -> StackValidationPolicy:
    return StackValidationPolicy(name=name, description=(validate.__doc__ or name).strip(), validate=validate,
                                 enforcement_level=EnforcementLevel.MANDATORY)


POLICIES: list[Policy] = [
    _policy("tenant-bucket-encrypted-with-tenant-key", validate_bucket_encryption),
    _policy("tenant-bucket-not-public", validate_buckets_not_public),
    _policy("tenant-resources-cost-tagged", validate_cost_tags),
    _policy("no-cross-tenant-reach", validate_no_cross_tenant_reach),
]
