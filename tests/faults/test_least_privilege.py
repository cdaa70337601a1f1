"""Least privilege, as the fault table counts it: the controller's RBAC and every tenant's IAM documents.

The controller may only read and patch `deployments/scale` (replicas) and `deployments` (right-sized requests),
list `deployments` (live replica counts) and create the Events of its writes in tenant namespaces, and manage
its own Leases;
each tenant's role, key and bucket policies reach only that tenant's resources.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tenantops.config import load_config
from tenantops_infra import documents, guards

from .conftest import FaultLedger

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    ("apps", "deployments/scale"): {"get", "patch"},
    # right-sizing: one strategic-merge patch of container requests; the live count: one list per namespace
    ("apps", "deployments"): {"get", "patch", "list"},
    ("coordination.k8s.io", "leases"): {"get", "list", "create", "update", "patch"},
    ("", "events"): {"create"},  # one Event per write made or refused (tenantops.act.kube_events)
}


def _rbac_rules() -> list[tuple[str, dict[str, object]]]:
    out = []
    for path in sorted((ROOT / "deploy").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") in ("Role", "ClusterRole"):
                for rule in doc.get("rules", []):
                    out.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", rule))
            if isinstance(doc, dict) and doc.get("kind") == "ClusterRoleBinding":
                # A cluster-wide binding would grant its role in every namespace: count it as a wildcard.
                wildcard = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
                out.append((f"{path.name}:ClusterRoleBinding", wildcard))
    return out


def test_controller_rbac_grants_nothing_beyond_scale_events_and_leases(fault_ledger: FaultLedger) -> None:
    rules = _rbac_rules()
    assert rules, "no RBAC found under deploy/"
    bad = []
    for where, rule in rules:
        for group in rule.get("apiGroups", []):  # type: ignore[union-attr]
            for resource in rule.get("resources", []):  # type: ignore[union-attr]
                allowed = ALLOWED.get((str(group), str(resource)), set())
                verbs = set(rule.get("verbs", []))  # type: ignore[arg-type]
                held = verbs <= allowed and "*" not in verbs and "secrets" not in str(resource)
                fault_ledger.case("least-privilege RBAC", held, f"{where}: {group}/{resource} {sorted(verbs)}")
                if not held:
                    bad.append((where, group, resource, sorted(verbs)))
    assert not bad, bad


def test_no_tenant_iam_document_reaches_another_tenant(fault_ledger: FaultLedger) -> None:
    config = load_config(ROOT / "stacks" / "dev.catalog.yaml", ROOT / "policies")
    scopes = [
        documents.TenantScope(t.id, "dev", "123456789012", t.region,
                              f"arn:aws:kms:{t.region}:123456789012:key/{t.id}-0000")
        for t in config.tenants
    ]
    silo = {t.id: t.isolation == "silo" for t in config.tenants}
    problems = []
    for scope in scopes:
        checks = {
            "role policy": guards.cross_tenant_reach(documents.workload_role_policy(scope), scope, scopes),
            "key policy": guards.cross_tenant_reach(documents.key_policy(scope, silo=silo[scope.tenant_id]), scope,
                                                    scopes, attached_to=scope.key_arn),
            "bucket policy": guards.cross_tenant_reach(documents.bucket_policy(scope), scope, scopes,
                                                       attached_to=scope.bucket_arn),
        }
        for name, reach in checks.items():
            if not fault_ledger.case("least-privilege IAM", not reach, f"{scope.tenant_id} {name}: {reach[:1]}"):
                problems.append((scope.tenant_id, name, reach))
    assert not problems, problems
