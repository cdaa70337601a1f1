"""The controller's IAM role: exactly its four AWS calls, scaling only this environment's tagged tenant
groups, mail only as its sender, taken by its pods through EKS Pod Identity (or IRSA)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tenantops.structs.naming import CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT
from tenantops_infra import controller_documents as docs
from tenantops_infra.guards import glob_matches
from tenantops_infra.mocked import ACCOUNT_ID, MockRun, run_program

ROOT = Path(__file__).resolve().parents[2]
ROLE, POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
GROUP = "aws:autoscaling/group:Group"


def controller_resources(run: MockRun) -> list:
    [root] = [r for r in run.resources if r.type == "tenantops:controller:Identity"]
    return [r for r in run.resources if r.parent == root.urn]


def the(run: MockRun, typ: str):
    [found] = [r for r in controller_resources(run) if r.type == typ]
    return found


def statements(run: MockRun) -> dict[str, dict]:
    policy = json.loads(the(run, POLICY).inputs["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def group_arn(group, region: str) -> str:
    return (f"arn:aws:autoscaling:{region}:{ACCOUNT_ID}:autoScalingGroup:0a1b2c3d-uuid:"
            f"autoScalingGroupName/{group.inputs['name']}")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_one_role_with_exactly_the_calls_the_controller_makes(stack: str, dev_run: MockRun, prod_run: MockRun) -> None:
    run = dev_run if stack == "dev" else prod_run
    role = the(run, ROLE)
    assert role.inputs["name"] == f"tenantops-{stack}-controller"
    assert run.outputs["controller_role_arn"] == role.state["arn"]
    found = statements(run)
    actions = sorted(a for s in found.values() for a in s["Action"])
    assert actions == sorted(docs.ACTIONS)
    assert all(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s for s in found.values())
    assert all("*" not in a for a in actions)
    # only the two read-only calls IAM cannot scope by resource have Resource "*"
    assert {sid for sid, s in found.items() if s["Resource"] == "*"} == {"DescribeGroups", "ReadCosts"}
    assert found["SendReports"]["Condition"] == {"StringEquals": {"ses:FromAddress": "tenantops@ops.example"}}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_scaling_reaches_every_tenant_group_of_the_stack_and_nothing_else(stack: str, dev_run: MockRun,
                                                                          prod_run: MockRun) -> None:
    run = dev_run if stack == "dev" else prod_run
    scale = statements(run)["ScaleTenantGroups"]
    assert scale["Action"] == ["autoscaling:SetDesiredCapacity"]
    assert scale["Condition"] == {"StringEquals": {"aws:ResourceTag/managed-by": "tenantops",
                                                   "aws:ResourceTag/environment": stack}}
    groups = run.of_type(GROUP)
    assert groups
    regions = {}
    for tenant in {r.name for r in run.resources if r.type == "tenantops:tenant:Tenant"}:
        for group in (r for r in run.tenant_resources(tenant) if r.type == GROUP):
            [provider] = [p for p in run.resources if f"{p.urn}::{p.id}" == group.provider]
            regions[group.inputs["name"]] = provider.inputs["region"]
    assert len(regions) == len(groups)
    for group in groups:
        arn = group_arn(group, regions[group.inputs["name"]])
        assert any(glob_matches(p, arn) for p in scale["Resource"]), arn
        tags = {t["key"]: t["value"] for t in group.inputs["tags"]}
        assert tags["managed-by"] == "tenantops" and tags["environment"] == stack  # the condition holds
    other_env = "prod" if stack == "dev" else "dev"
    strangers = [f"arn:aws:autoscaling:us-east-1:{ACCOUNT_ID}:autoScalingGroup:x:autoScalingGroupName/payments-api",
                 f"arn:aws:autoscaling:us-east-1:{ACCOUNT_ID}:autoScalingGroup:x:autoScalingGroupName/"
                 f"tenantops-{other_env}-acme-api",
                 f"arn:aws:autoscaling:ap-south-1:{ACCOUNT_ID}:autoScalingGroup:x:autoScalingGroupName/"
                 f"tenantops-{stack}-acme-api",
                 f"arn:aws:autoscaling:us-east-1:999999999999:autoScalingGroup:x:autoScalingGroupName/"
                 f"tenantops-{stack}-acme-api"]
    for arn in strangers:
        assert not any(glob_matches(p, arn) for p in scale["Resource"]), arn


def test_prod_pods_take_the_role_through_eks_pod_identity(prod_run: MockRun, dev_run: MockRun) -> None:
    trust = json.loads(the(prod_run, ROLE).inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    # Only the controller's own pods: the session tags the Pod Identity agent sets must name them.
    assert statement["Condition"] == {"StringEquals": {
        "aws:RequestTag/kubernetes-namespace": CONTROLLER_NAMESPACE,
        "aws:RequestTag/kubernetes-service-account": CONTROLLER_SERVICE_ACCOUNT,
        "aws:RequestTag/eks-cluster-arn": f"arn:aws:eks:us-east-1:{ACCOUNT_ID}:cluster/tenantops-prod"}}
    association = the(prod_run, ASSOCIATION)
    assert association.inputs["clusterName"] == "tenantops-prod"
    assert association.inputs["roleArn"] == the(prod_run, ROLE).state["arn"]
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT)
    assert not [r for r in controller_resources(dev_run) if r.type == ASSOCIATION]  # dev has no EKS cluster
    out = subprocess.run(["kubectl", "kustomize", str(ROOT / "deploy" / "overlays" / "prod")], capture_output=True,
                         text=True, check=True).stdout
    accounts = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "ServiceAccount"]
    assert [(a["metadata"]["namespace"], a["metadata"]["name"]) for a in accounts] == [
        (CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT)]


def test_irsa_trusts_only_the_controllers_service_account() -> None:
    provider = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"
    run = run_program({"tenantops:catalog": "stacks/dev.catalog.yaml", "tenantops:controllerOidcProvider": provider,
                       "tenantops:eksCluster": "tenantops-dev"})
    [statement] = json.loads(the(run, ROLE).inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": provider}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{CONTROLLER_SERVICE_ACCOUNT}",
        f"{issuer}:aud": "sts.amazonaws.com"}
    assert not [r for r in controller_resources(run) if r.type == ASSOCIATION]  # IRSA needs no association


def test_the_sender_is_the_stacks_mail_from() -> None:
    scope = docs.ControllerScope("dev", ACCOUNT_ID, ["eu-west-1"], "eu-west-1", "reports@billing.example")
    [send] = [s for s in docs.controller_policy(scope)["Statement"] if s["Sid"] == "SendReports"]
    assert send["Resource"] == [f"arn:aws:ses:eu-west-1:{ACCOUNT_ID}:identity/reports@billing.example",
                                f"arn:aws:ses:eu-west-1:{ACCOUNT_ID}:identity/billing.example"]
    no_silo = docs.ControllerScope("dev", ACCOUNT_ID, [], "us-east-1", "a@b.example")
    assert "ScaleTenantGroups" not in {s["Sid"] for s in docs.controller_policy(no_silo)["Statement"]}
