"""What the shipped RBAC lets the controller's ServiceAccount do, evaluated as the apiserver's RBAC
authorizer does (a rule applies in a RoleBinding's namespace, or everywhere through a ClusterRoleBinding):
the built overlay plus the RoleBindings the Pulumi pool component creates in each pooled tenant namespace
(one per POOLED_TENANT_ROLES, tests/infra/test_rolebindings.py).

The live-count reader may list Deployments in a tenant namespace, and nothing wider: not cluster-wide,
not in another namespace, no watch, no wildcard. Then the reader itself, against the Kubernetes API
stand-in answering 403 wherever this RBAC would: it settles on one list per tenant namespace, and every
request it makes is one the RBAC allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from kubernetes import client

from tenantops.act.kubeclient import api_client
from tenantops.observe.kube_replicas import KubeReplicaReader
from tenantops.structs.naming import CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, POOLED_TENANT_ROLES
from tenantops.structs.plan import ScaleTarget, TargetKind

from .test_manifests import OVERLAYS, build

TENANT_NAMESPACES = ("tenant-acme", "tenant-globex")


@dataclass(frozen=True)
class Grant:
    namespace: str | None  # None: every namespace and cluster scope (a ClusterRoleBinding)
    group: str
    resource: str
    verb: str


def _subject_is_controller(binding: dict) -> bool:
    return any(s.get("kind") == "ServiceAccount" and s.get("name") == CONTROLLER_SERVICE_ACCOUNT
               and s.get("namespace") == CONTROLLER_NAMESPACE for s in binding.get("subjects") or [])


def pool_role_bindings(namespace: str) -> list[dict]:
    """The RoleBindings the pool component creates with a tenant's namespace."""
    return [{"kind": "RoleBinding", "metadata": {"name": role, "namespace": namespace},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
             "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_SERVICE_ACCOUNT,
                           "namespace": CONTROLLER_NAMESPACE}]} for role in POOLED_TENANT_ROLES]


def grants(objects: Iterable[dict]) -> set[Grant]:
    objects = list(objects)
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects
             if o["kind"] in ("Role", "ClusterRole")}
    out: set[Grant] = set()
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding") or not _subject_is_controller(binding):
            continue
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        ref = binding["roleRef"]
        role = roles.get((ref["kind"], scope if ref["kind"] == "Role" else None, ref["name"]))
        assert role is not None, f"{binding['metadata']['name']} refers to a missing {ref['kind']} {ref['name']}"
        for rule in role.get("rules", []):
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for verb in rule.get("verbs", []):
                        out.add(Grant(scope, group, resource, verb))
    return out


def allowed(held: set[Grant], verb: str, group: str, resource: str, namespace: str | None) -> bool:
    """The RBAC authorizer's answer: a cluster-scoped request needs a cluster-wide grant."""
    for g in held:
        if g.namespace is not None and g.namespace != namespace:
            continue
        if g.group in (group, "*") and g.resource in (resource, "*") and g.verb in (verb, "*"):
            return True
    return False


def shipped(overlay: str) -> set[Grant]:
    objects = [*build(overlay)]
    for namespace in TENANT_NAMESPACES:
        objects += pool_role_bindings(namespace)
    return grants(objects)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_reader_may_list_deployments_in_a_tenant_namespace_and_nothing_wider(overlay: str) -> None:
    held = shipped(overlay)
    assert not [g for g in held if "*" in (g.group, g.resource, g.verb)]  # no wildcard anywhere
    assert not [g for g in held if g.namespace is None]  # nothing cluster-wide
    for namespace in TENANT_NAMESPACES:
        assert allowed(held, "list", "apps", "deployments", namespace)
        # Exactly what the scaler, the right-sizer, the live-count reader and the Event recorder use, in a
        # tenant namespace.
        assert {(g.group, g.resource, g.verb) for g in held if g.namespace == namespace} == {
            ("apps", "deployments/scale", "get"), ("apps", "deployments/scale", "patch"),
            ("apps", "deployments", "get"), ("apps", "deployments", "patch"), ("apps", "deployments", "list"),
            ("", "events", "create")}
    assert not allowed(held, "list", "apps", "deployments", None)  # cluster-wide list
    for namespace in ("kube-system", "default", CONTROLLER_NAMESPACE):
        assert not allowed(held, "list", "apps", "deployments", namespace)
    for verb in ("watch", "create", "update", "delete", "deletecollection"):
        assert not allowed(held, verb, "apps", "deployments", TENANT_NAMESPACES[0]), verb
    for group, resource in (("", "pods"), ("", "secrets"), ("apps", "replicasets"), ("apps", "statefulsets"),
                            ("", "events")):
        assert not allowed(held, "list", group, resource, TENANT_NAMESPACES[0]), resource
    for verb in ("patch", "update", "delete"):
        assert not allowed(held, verb, "", "events", TENANT_NAMESPACES[0]), verb
    assert not allowed(held, "create", "", "events", "kube-system")


def _request_grant(method: str, path: str) -> tuple[str, str, str, str | None]:
    """(verb, group, resource, namespace) of an apps/v1 request path, as the authorizer reads it."""
    parts = path.strip("/").split("/")  # apis, apps, v1, [namespaces, ns], deployments, [name, [sub]]
    rest = parts[3:]
    namespace = None
    if rest[:1] == ["namespaces"]:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    named = len(rest) > 1
    verb = {"GET": "get" if named else "list", "PATCH": "patch", "PUT": "update"}[method]
    return verb, "apps", resource, namespace


@pytest.mark.integration
def test_the_reader_under_the_shipped_rbac_lists_per_namespace(kube_api) -> None:
    held = shipped("prod")
    for namespace in TENANT_NAMESPACES:
        kube_api.add_deployment(namespace, "api", replicas=3)
        kube_api.add_deployment(namespace, "worker", replicas=1)
    # The stand-in answers 403 where this RBAC would: the cluster-wide list (nothing else the reader
    # calls is denied, which the last assertion checks for every request made).
    assert not allowed(held, "list", "apps", "deployments", None)
    kube_api.inject("/apis/apps/v1/deployments", 403, count=100, method="GET")
    reader = KubeReplicaReader(client.AppsV1Api(api_client(kube_api.url)))
    targets = [ScaleTarget(TargetKind.KUBERNETES, name, ns) for ns in TENANT_NAMESPACES for name in ("api", "worker")]
    first = reader.describe_many(targets)
    assert reader.mode == "namespace" and {t.name: c.desired for t, c in first.items()} == {"api": 3, "worker": 1}
    assert len(first) == 4
    calls = reader.calls
    assert reader.describe_many(targets) == first
    assert reader.calls - calls == len(TENANT_NAMESPACES)  # one list per tenant namespace a pass
    served = [r for r in kube_api.requests(path_prefix="/apis/apps/v1/") if r.status < 400]
    assert served and all(allowed(held, *_request_grant(r.method, r.path)) for r in served)
