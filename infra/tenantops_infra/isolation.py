"""Proof that tenants cannot reach each other's data, against AWS APIs that enforce IAM (moto's server).

Takes the buckets, roles and role policies the program generated (as recorded under Pulumi mocks),
creates them in an S3/IAM endpoint, assumes every tenant's role, and tries a read, a write, a list and
a delete on every tenant's bucket. Own-bucket attempts must all succeed and cross-tenant attempts must
all be denied. Bucket policies are not installed: their conditions (`aws:SecureTransport`) are outside
what moto evaluates, and they only add denials; the role policies alone must isolate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenantops_infra.mocked import MockRun

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET = "aws:s3/bucket:Bucket"
OPERATIONS = ("read", "write", "list", "delete")
PROBE_KEY = "probe.txt"

ClientFactory = Callable[..., Any]  # (service, **credentials) -> boto3 client


@dataclass(frozen=True)
class TenantGrant:
    """A tenant's bucket and role as generated: what gets created in the enforcing endpoint."""

    tenant_id: str
    bucket: str
    role_name: str
    trust_policy: str
    role_policy: str


@dataclass
class IsolationReport:
    own_attempts: int = 0
    own_allowed: int = 0
    cross_attempts: int = 0
    cross_denied: int = 0
    leaks: list[str] = field(default_factory=list)
    own_failures: list[str] = field(default_factory=list)

    @property
    def denied_percent(self) -> float:
        return 100.0 * self.cross_denied / self.cross_attempts if self.cross_attempts else 0.0


def grants_from_run(run: MockRun) -> list[TenantGrant]:
    """Each tenant's generated bucket name, role, trust policy and inline role policy."""
    out = []
    for tenant in run.outputs["tenants"]:
        resources = run.tenant_resources(tenant)
        bucket = next(r for r in resources if r.type == BUCKET)
        role = next(r for r in resources if r.type == ROLE)
        policy = next(r for r in resources if r.type == ROLE_POLICY)
        out.append(TenantGrant(tenant, bucket.id, role.id, str(role.inputs["assumeRolePolicy"]),
                               str(policy.inputs["policy"])))
    return out


def _denied(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("AccessDenied", "403", "Forbidden")


def _attempt(s3: Any, operation: str, bucket: str, actor: str) -> None:
    if operation == "read":
        s3.get_object(Bucket=bucket, Key=PROBE_KEY)["Body"].read()
    elif operation == "write":
        s3.put_object(Bucket=bucket, Key=f"written-by-{actor}.txt", Body=b"x")
    elif operation == "list":
        s3.list_objects_v2(Bucket=bucket)
    elif operation == "delete":
        s3.delete_object(Bucket=bucket, Key=f"written-by-{actor}.txt")


def prove_isolation(
    grants: list[TenantGrant],
    client: ClientFactory,
    set_enforcement: Callable[[bool], None],
) -> IsolationReport:
    """Create the grants with admin credentials, then attempt every operation with every tenant's role.

    `client(service, **credentials)` makes a boto3 client for the endpoint (admin when no credentials);
    `set_enforcement(True)` switches IAM enforcement on for S3 (moto: `/moto-api/reset-auth` to 0).
    Enforcement is switched off again before returning.
    """
    iam, sts, admin_s3 = client("iam"), client("sts"), client("s3")
    sessions: dict[str, Mapping[str, str]] = {}
    for grant in grants:
        admin_s3.create_bucket(Bucket=grant.bucket)
        admin_s3.put_object(Bucket=grant.bucket, Key=PROBE_KEY, Body=grant.tenant_id.encode())
        role = iam.create_role(RoleName=grant.role_name, AssumeRolePolicyDocument=grant.trust_policy)
        iam.put_role_policy(RoleName=grant.role_name, PolicyName="workload", PolicyDocument=grant.role_policy)
        creds = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName=f"isolation-{grant.tenant_id}")
        sessions[grant.tenant_id] = {
            "aws_access_key_id": creds["Credentials"]["AccessKeyId"],
            "aws_secret_access_key": creds["Credentials"]["SecretAccessKey"],
            "aws_session_token": creds["Credentials"]["SessionToken"],
        }
    report = IsolationReport()
    set_enforcement(True)
    try:
        for actor in grants:
            s3 = client("s3", **sessions[actor.tenant_id])
            for target in grants:
                own = target.tenant_id == actor.tenant_id
                for operation in OPERATIONS:
                    what = f"{actor.tenant_id} {operation} {target.bucket}"
                    try:
                        _attempt(s3, operation, target.bucket, actor.tenant_id)
                        allowed = True
                    except Exception as exc:
                        if not _denied(exc):
                            raise
                        allowed = False
                    if own:
                        report.own_attempts += 1
                        report.own_allowed += allowed
                        if not allowed:
                            report.own_failures.append(what)
                    else:
                        report.cross_attempts += 1
                        report.cross_denied += not allowed
                        if allowed:
                            report.leaks.append(what)
    finally:
        set_enforcement(False)
    return report


def widen(grant: TenantGrant, resource: str) -> TenantGrant:
    """The same grant with an extra S3 statement on `resource`: a deliberate leak, to show the check bites."""
    policy = json.loads(grant.role_policy)
    policy["Statement"].append({"Sid": "Leak", "Effect": "Allow", "Action": "s3:*", "Resource": resource})
    return TenantGrant(grant.tenant_id, grant.bucket, grant.role_name, grant.trust_policy, json.dumps(policy))


def prove_on_moto_server(grants: list[TenantGrant], endpoint_url: str, credentials: Mapping[str, str],
                         region: str = "us-east-1") -> IsolationReport:
    """`prove_isolation` against a running moto server (e.g. the lab's `MotoServer`), as the account whose
    `credentials` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) are given."""
    import urllib.request

    import boto3

    admin = {
        "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": credentials["AWS_SESSION_TOKEN"],
    }

    def client(service: str, **credentials: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint_url, **(credentials or admin))

    def enforce(on: bool) -> None:
        # moto's switch: authenticate every request after the first N; "inf" switches enforcement off.
        request = urllib.request.Request(  # noqa: S310 (the local moto server)
            f"{endpoint_url}/moto-api/reset-auth", data=b"0" if on else b"inf", method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    return prove_isolation(grants, client, enforce)
