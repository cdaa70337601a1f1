"""Checks the program's resources must pass, written as plain functions over registered resources.

The policy pack (`policy_pack`, served from `infra/policy`) enforces them in the engine on every preview
and update; they stay importable on their own, so pytest also calls them on what the Pulumi mocks
recorded. Each returns the list of violations (empty when compliant).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tenantops_infra.documents import ABAC_TAG_CONDITION_KEY, Document, TenantScope
from tenantops_infra.mocked import Recorded

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


@functools.cache
def aws_type_is_taggable(type_token: str) -> bool:
    """Whether the pulumi-aws resource class behind `aws:<module>/<name>:<Class>` accepts `tags`."""
    match = re.fullmatch(r"aws:([a-z0-9]+)/[A-Za-z0-9]+:([A-Za-z0-9]+)", type_token)
    if not match:
        return False
    module = importlib.import_module(f"pulumi_aws.{match.group(1)}")
    cls = getattr(module, match.group(2), None)
    init = getattr(cls, "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters


def _tags_of(res: Recorded) -> Mapping[str, Any] | None:
    if res.type == "aws:autoscaling/group:Group":
        return {t["key"]: t["value"] for t in res.inputs.get("tags", []) if t.get("propagateAtLaunch")}
    if res.type.startswith("kubernetes:"):
        return dict((res.inputs.get("metadata") or {}).get("labels") or {})
    return res.inputs.get("tags")


def missing_tags(resources: Iterable[Recorded], expected: Mapping[str, str]) -> list[str]:
    """Taggable resources (AWS resources accepting tags, Kubernetes objects' labels) lacking a tag value."""
    out = []
    for res in resources:
        kubernetes = res.type.startswith("kubernetes:")
        taggable = kubernetes or (res.type.startswith("aws:") and aws_type_is_taggable(res.type))
        if not res.custom or not taggable:
            continue
        tags = _tags_of(res) or {}
        wrong = {k: v for k, v in expected.items() if tags.get(k) != v}
        if wrong:
            out.append(f"{res.type} {res.name}: missing or wrong tags {sorted(wrong)}")
    return out


def unencrypted_buckets(resources: Sequence[Recorded], key_arn_of_bucket: Mapping[str, str]) -> list[str]:
    """Buckets without an SSE-KMS default encryption under the key their tenant owns."""
    sse_by_bucket: dict[str, list[Recorded]] = {}
    for res in resources:
        if res.type == SSE:
            sse_by_bucket.setdefault(str(res.inputs.get("bucket")), []).append(res)
    out = []
    for res in resources:
        if res.type != BUCKET:
            continue
        name = res.id
        expected = key_arn_of_bucket.get(name)
        rules = [rule for sse in sse_by_bucket.get(name, []) for rule in sse.inputs.get("rules", [])]
        defaults = [rule.get("applyServerSideEncryptionByDefault") or {} for rule in rules]
        if not any(d.get("sseAlgorithm") == "aws:kms" and expected and d.get("kmsMasterKeyId") == expected
                   for d in defaults):
            out.append(f"bucket {name}: no SSE-KMS default encryption under its tenant's key {expected}")
    return out


def public_buckets(resources: Sequence[Recorded]) -> list[str]:
    """Buckets without a public access block that sets all four flags."""
    blocked = {
        str(res.inputs.get("bucket"))
        for res in resources
        if res.type == PUBLIC_ACCESS_BLOCK and all(res.inputs.get(flag) is True for flag in PUBLIC_ACCESS_FLAGS)
    }
    return [f"bucket {res.id}: public access not fully blocked" for res in resources
            if res.type == BUCKET and res.id not in blocked]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def glob_matches(pattern: str, value: str) -> bool:
    """IAM resource matching: `*` is any run of characters (including `/` and `:`), `?` any one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def _pinned_to(statement: Mapping[str, Any], tenant_id: str) -> bool:
    """The statement only applies to resources tagged with this tenant (ABAC)."""
    for operator, conditions in (statement.get("Condition") or {}).items():
        if operator in ("StringEquals", "ForAllValues:StringEquals"):
            value = conditions.get(ABAC_TAG_CONDITION_KEY)
            if value is not None and _as_list(value) == [tenant_id]:
                return True
    return False


def cross_tenant_reach(
    document: Document, own: TenantScope, others: Iterable[TenantScope], *, attached_to: str | None = None
) -> list[str]:
    """Allow statements of `own`'s document whose resource, principal or condition reaches another tenant.

    A resource pattern matching any of another tenant's ARNs counts unless the statement is pinned to
    `own`'s `tenant` tag; a condition or principal naming another tenant's id or ARNs counts always.
    `NotResource`/`NotAction` allows reach everything not listed, so they count too. For a resource
    policy (a key policy), pass `attached_to`: there `"*"` means the resource the policy is attached to.
    """
    out = []
    others = [o for o in others if o.tenant_id != own.tenant_id]
    for index, statement in enumerate(_as_list(document.get("Statement", []))):
        sid = statement.get("Sid", f"#{index}")
        if statement.get("Effect") != "Allow":
            continue
        if "NotResource" in statement or "NotAction" in statement:
            out.append(f"{own.tenant_id}: statement {sid} uses NotResource/NotAction")
            continue
        patterns = [str(p) for p in _as_list(statement.get("Resource", []))]
        if attached_to is not None:
            patterns = [attached_to if p == "*" else p for p in patterns]
        pinned = _pinned_to(statement, own.tenant_id)
        principal_text = str(statement.get("Principal", ""))
        condition_text = str(statement.get("Condition", ""))
        for other in others:
            for arn in other.owned_arns():
                if not pinned and any(glob_matches(p, arn) for p in patterns):
                    out.append(f"{own.tenant_id}: statement {sid} resource reaches {other.tenant_id}'s {arn}")
            for needle in (other.role_arn, other.bucket_arn, other.key_arn):
                if needle and (needle in principal_text or needle in condition_text):
                    out.append(f"{own.tenant_id}: statement {sid} names {other.tenant_id}'s {needle}")
            if re.search(rf"['\"]{re.escape(other.tenant_id)}['\"]", condition_text):
                out.append(f"{own.tenant_id}: statement {sid} condition names tenant {other.tenant_id}")
    return out
