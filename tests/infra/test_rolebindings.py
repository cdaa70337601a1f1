"""The pool component grants the controller its ClusterRoles in each pooled tenant's namespace, and only there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tenantops.config import load_config
from tenantops.structs.naming import CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, POOLED_TENANT_ROLES
from tenantops_infra.mocked import MockRun

ROOT = Path(__file__).resolve().parents[2]
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


def built(overlay: str) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(ROOT / "deploy" / "overlays" / overlay)],
                         capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_pooled_tenant_namespace_binds_the_controllers_roles(stack: str, dev_run: MockRun,
                                                                  prod_run: MockRun) -> None:
    run = dev_run if stack == "dev" else prod_run
    config = load_config(ROOT / "stacks" / f"{stack}.catalog.yaml", ROOT / "policies")
    pooled = {t.id for t in config.tenants if t.isolation == "pool"}
    assert pooled and pooled != {t.id for t in config.tenants}
    for tenant in config.tenants:
        bindings = [r for r in run.tenant_resources(tenant.id) if r.type == ROLE_BINDING]
        if tenant.id not in pooled:
            assert bindings == [], tenant.id
            continue
        assert sorted(b.inputs["roleRef"]["name"] for b in bindings) == sorted(POOLED_TENANT_ROLES)
        for binding in bindings:
            assert binding.inputs["metadata"]["namespace"] == f"tenant-{tenant.id}"
            assert binding.inputs["roleRef"]["kind"] == "ClusterRole"
            assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": CONTROLLER_SERVICE_ACCOUNT,
                                                   "namespace": CONTROLLER_NAMESPACE}]
            assert binding.inputs["metadata"]["labels"]["tenant"] == tenant.id
    assert not [r for r in run.resources if r.type.endswith(":ClusterRoleBinding")]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_bound_roles_and_subject_are_the_ones_deploy_creates(stack: str, dev_run: MockRun,
                                                                 prod_run: MockRun) -> None:
    run = dev_run if stack == "dev" else prod_run
    docs = built(stack)
    cluster_roles = {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"}
    accounts = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs if d["kind"] == "ServiceAccount"}
    bindings = run.of_type(ROLE_BINDING)
    assert bindings
    for binding in bindings:
        assert binding.inputs["roleRef"]["name"] in cluster_roles
        [subject] = binding.inputs["subjects"]
        assert (subject["namespace"], subject["name"]) in accounts
