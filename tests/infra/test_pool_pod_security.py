"""Pooled tenants' namespaces enforce Pod Security's `restricted` profile, and the program's own pods pass it.

`restricted_violations` is the profile's checks (Kubernetes' Pod Security Standards, "Restricted") for the
fields a pod spec can carry here; the admission controller refuses a pod with any of them in a namespace
labelled `pod-security.kubernetes.io/enforce: restricted`.
"""

from __future__ import annotations

from typing import Any

from tenantops.config import Config
from tenantops_infra.mocked import MockRun


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    out = []
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            out.append(host)
    if any("hostPath" in v for v in pod.get("volumes") or []):
        out.append("hostPath volumes")
    pod_context = pod.get("securityContext") or {}
    for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        name, context = container["name"], container.get("securityContext") or {}
        if context.get("privileged"):
            out.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation != false")
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            out.append(f"{name}: runAsNonRoot != true")
        if (context.get("capabilities") or {}).get("drop") != ["ALL"]:
            out.append(f"{name}: capabilities not dropping ALL")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccompProfile not RuntimeDefault or Localhost")
    return out


def test_pooled_namespaces_enforce_restricted_and_their_pods_pass_it(dev_run: MockRun, dev_config: Config) -> None:
    # Pooled tenants share nodes: a privileged or host-namespace pod in one tenant's namespace reaches
    # every other tenant's pods on the node.
    for tenant in (t.id for t in dev_config.tenants if t.isolation == "pool"):
        resources = dev_run.tenant_resources(tenant)
        (namespace,) = [r for r in resources if r.type == "kubernetes:core/v1:Namespace"]
        assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        for deployment in (r for r in resources if r.type == "kubernetes:apps/v1:Deployment"):
            pod = deployment.inputs["spec"]["template"]["spec"]
            assert restricted_violations(pod) == [], f"{tenant}/{deployment.inputs['metadata']['name']}"


def test_the_check_refuses_what_the_profile_refuses() -> None:
    ok = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
          "containers": [{"name": "api", "securityContext": {"allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"]}}}]}
    assert restricted_violations(ok) == []
    assert restricted_violations({**ok, "hostNetwork": True}) == ["hostNetwork"]
    assert restricted_violations({**ok, "securityContext": {"runAsNonRoot": True}}) == [
        "api: seccompProfile not RuntimeDefault or Localhost"]


def test_pooled_workloads_get_no_kubernetes_api_token(dev_run: MockRun, dev_config: Config) -> None:
    # A tenant's pods never call the Kubernetes API: an automounted token would only hand whoever breaks into
    # one the ServiceAccount's credentials to the shared API server. Their AWS credentials come from EKS Pod
    # Identity's own projected token (audience pods.eks.amazonaws.com), which the webhook mounts either way.
    pooled = [t.id for t in dev_config.tenants if t.isolation == "pool"]
    assert pooled
    for tenant in pooled:
        resources = dev_run.tenant_resources(tenant)
        (account,) = [r for r in resources if r.type == "kubernetes:core/v1:ServiceAccount"]
        assert account.inputs["automountServiceAccountToken"] is False, tenant
        deployments = [r for r in resources if r.type == "kubernetes:apps/v1:Deployment"]
        assert deployments
        for deployment in deployments:
            pod = deployment.inputs["spec"]["template"]["spec"]
            assert pod["automountServiceAccountToken"] is False, f"{tenant}/{deployment.inputs['metadata']['name']}"
