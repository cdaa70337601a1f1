"""Cross-tenant isolation, proved against moto's S3 with IAM enforcement on (and on the documents for KMS)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tenantops_infra import documents, guards
from tenantops_infra.isolation import IsolationReport, grants_from_run, prove_on_moto_server, widen
from tenantops_infra.mocked import ACCOUNT_ID, MockRun
from tenantops_lab.sandbox.moto_server import FAKE_CREDENTIALS, MotoServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run_against(server: MotoServer, grants: list[Any]) -> IsolationReport:
    return prove_on_moto_server(grants, server.endpoint_url, FAKE_CREDENTIALS, server.region)


def test_every_cross_tenant_s3_attempt_is_denied_and_own_access_works(
    dev_run: MockRun, moto_server: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    grants = grants_from_run(dev_run)
    report = _run_against(moto_server, grants)
    n = len(grants)
    assert report.cross_attempts == n * (n - 1) * 4
    assert report.leaks == []
    assert report.cross_denied == report.cross_attempts
    assert report.own_failures == []
    assert report.own_allowed == report.own_attempts == n * 4
    with capsys.disabled():
        print(f"\ncross-tenant S3 attempts denied: {report.cross_denied}/{report.cross_attempts} "
              f"({report.denied_percent:.0f}%); own-bucket attempts allowed: "
              f"{report.own_allowed}/{report.own_attempts}")


def test_a_widened_policy_is_caught(dev_run: MockRun, moto_server: MotoServer) -> None:
    """The enforcement is real: a role policy with a prefix wildcard leaks, and the proof reports it."""
    grants = grants_from_run(dev_run)[:3]
    leaky = [widen(grants[0], "arn:aws:s3:::tenantops-dev-*"), *grants[1:]]
    report = _run_against(moto_server, leaky)
    assert report.cross_denied < report.cross_attempts
    assert all(leak.startswith(f"{grants[0].tenant_id} ") for leak in report.leaks)
    assert len(report.leaks) == 2 * 4


def _scopes(run: MockRun) -> dict[str, documents.TenantScope]:
    out = {}
    for tenant, values in run.outputs["tenants"].items():
        out[tenant] = documents.TenantScope(tenant, "dev", ACCOUNT_ID, values["region"], values["key_arn"])
    return out


def test_no_generated_statement_reaches_another_tenant(dev_run: MockRun) -> None:
    """For services moto does not enforce (KMS, SSM, logs, Secrets Manager): check the documents."""
    scopes = _scopes(dev_run)
    checked = 0
    for tenant, scope in scopes.items():
        resources = {r.type: r for r in dev_run.tenant_resources(tenant)}
        role_policy = json.loads(resources["aws:iam/rolePolicy:RolePolicy"].inputs["policy"])
        key_policy = json.loads(resources["aws:kms/key:Key"].inputs["policy"])
        bucket_policy = json.loads(resources["aws:s3/bucketPolicy:BucketPolicy"].inputs["policy"])
        pairs = ((role_policy, None), (key_policy, scope.key_arn), (bucket_policy, scope.bucket_arn))
        for document, attached in pairs:
            assert guards.cross_tenant_reach(document, scope, scopes.values(), attached_to=attached) == []
            checked += len(document["Statement"])
        kms = next(s for s in role_policy["Statement"] if s["Sid"] == "OwnKey")
        assert kms["Resource"] == [scope.key_arn]
        users = next(s for s in key_policy["Statement"] if s["Sid"] == "TenantRoleUses")
        assert users["Principal"] == {"AWS": scope.role_arn}
    assert checked > 0


def test_reach_check_flags_a_statement_on_another_tenants_key(dev_run: MockRun) -> None:
    scopes = _scopes(dev_run)
    own, other = scopes["acme"], scopes["globex"]
    document = documents.workload_role_policy(own)
    document["Statement"].append({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": other.key_arn})
    assert any("globex" in v for v in guards.cross_tenant_reach(document, own, scopes.values()))
    # A key policy's "*" is its own key, not every key.
    key_doc = documents.key_policy(own, silo=True)
    assert guards.cross_tenant_reach(key_doc, own, scopes.values(), attached_to=own.key_arn) == []
    assert guards.cross_tenant_reach(key_doc, own, scopes.values())  # read as an identity policy, "*" is all


def test_each_pooled_tenants_role_trusts_only_the_pods_its_association_names(prod_run: MockRun) -> None:
    """Any Pod Identity association in the account may name any role. Without conditions in the trust
    policy, an association made for another tenant's namespace (by mistake, or by whoever may create them
    on any cluster of the account) handed that tenant's pods this tenant's bucket, key and secrets."""
    roles = {r.inputs["name"]: r for r in prod_run.of_type("aws:iam/role:Role")}
    associations = prod_run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    by_arn = {r.state["arn"]: r for r in roles.values()}
    pooled = [a for a in associations if a.inputs["namespace"].startswith("tenant-")]
    assert len(pooled) >= 2
    trusted_namespaces = []
    for association in pooled:
        role = by_arn[association.inputs["roleArn"]]
        [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        tags = statement["Condition"]["StringEquals"]
        assert tags == {"aws:RequestTag/kubernetes-namespace": association.inputs["namespace"],
                        "aws:RequestTag/kubernetes-service-account": association.inputs["serviceAccount"],
                        "aws:RequestTag/eks-cluster-arn": documents.cluster_arn(
                            association.inputs["clusterName"], association.inputs["region"], ACCOUNT_ID)}
        assert role.inputs["name"] == documents.role_name("prod", association.inputs["namespace"][len("tenant-"):])
        trusted_namespaces.append(tags["aws:RequestTag/kubernetes-namespace"])
    assert len(set(trusted_namespaces)) == len(pooled)  # no two tenants' roles trust the same pods
