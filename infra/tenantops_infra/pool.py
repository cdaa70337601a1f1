"""A pooled tenant's share of the shared cluster: its namespace, fenced by quota, limits and network policy.

The namespace is the isolation boundary inside the cluster: the ResourceQuota caps what one noisy tenant
can take (sized by its tier), the LimitRange gives containers without requests sane defaults so the quota
can be enforced, and a default-deny NetworkPolicy keeps other tenants' pods out (egress is opened to DNS,
the namespace itself, and what the tenant's AWS role needs: the Pod Identity agent and HTTPS to AWS).
RoleBindings grant the controller's ServiceAccount the ClusterRoles it needs here (scaling, right-sizing)
in this namespace only, so a tenant is reachable by the controller exactly when its namespace exists.
The workload Deployments carry the `tenant` and `workload` labels the controller selects on; their
replica count and their containers' resources belong to the controller (scaling and right-sizing), so
Pulumi ignores later changes to them: the next `pulumi up` must not revert a request the controller set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from tenantops.config.catalog import Workload
from tenantops.config.kinds.tier import Limits, Quota
from tenantops.structs.naming import (
    CONTROLLER_NAMESPACE,
    CONTROLLER_SERVICE_ACCOUNT,
    POOLED_TENANT_ROLES,
    WORKLOAD_SERVICE_ACCOUNT,
)
from tenantops.structs.naming import namespace as namespace_name
from tenantops_infra.tags import k8s_labels

SERVICE_ACCOUNT = WORKLOAD_SERVICE_ACCOUNT
# Deployment fields the controller changes after creation (Pulumi property paths).
CONTROLLER_OWNED = ("spec.replicas", "spec.template.spec.containers[*].resources")


def quota_hard(quota: Quota) -> dict[str, str]:
    """The ResourceQuota `hard` map of a tier's quota."""
    return {
        "requests.cpu": quota.cpu,
        "requests.memory": quota.memory,
        "limits.memory": quota.memory,
        "pods": str(quota.pods),
        "requests.storage": quota.storage,
    }


def limit_range_item(limits: Limits) -> dict[str, object]:
    """Container defaults and ceiling of a tier's limits.

    A `max` obliges every container to have a limit, so the LimitRange must default one; and the API
    server refuses a pod whose request is above its (defaulted) limit. A CPU limit defaulted to the
    default request would therefore refuse every container that asks for more than the default (the
    catalogue's 500m default request under a 250m default), and every pod right-sizing raised past it.
    The default CPU limit is the tier's ceiling instead: any request the ceiling allows is admitted.
    """
    return {
        "type": "Container",
        "default_request": {"cpu": limits.default_cpu, "memory": limits.default_memory},
        "default": {"cpu": limits.max_cpu, "memory": limits.default_memory},
        "max": limits.container_max,
    }


def container_resources(workload: Workload) -> dict[str, dict[str, str]]:
    """A pooled workload's container requests and limits: the catalogue's CPU limit when it gives one (the
    autoscaler reads utilisation against it), memory limited at its request."""
    limits = {"memory": workload.memory_request}
    if workload.cpu_limit is not None:
        limits = {"cpu": workload.cpu_limit, **limits}
    return {"requests": {"cpu": workload.cpu_request, "memory": workload.memory_request}, "limits": limits}


# The EKS Pod Identity agent on every node: where the AWS SDKs in the tenant's pods get the role's
# credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI).
POD_IDENTITY_AGENT = "169.254.170.23/32"
# Addresses HTTPS to AWS must not reach: other pods and services (private and carrier-grade NAT ranges,
# where pod and service CIDRs are drawn) and the link-local range (the node's instance metadata).
NOT_AWS_APIS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


def aws_egress() -> list[dict[str, object]]:
    """Egress the tenant's role is for: credentials from the Pod Identity agent, and HTTPS to the AWS APIs
    (its bucket, key, parameters, logs). Default deny would otherwise leave the role unusable: no pod of
    the tenant could fetch credentials or reach S3. Other tenants' pods stay out of reach."""
    return [
        {"to": [{"ip_block": {"cidr": POD_IDENTITY_AGENT}}], "ports": [{"protocol": "TCP", "port": 80}]},
        {"to": [{"ip_block": {"cidr": "0.0.0.0/0", "except": list(NOT_AWS_APIS)}}],
         "ports": [{"protocol": "TCP", "port": 443}]},
    ]


POD_SECURITY = {"pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest"}


@dataclass(frozen=True)
class PoolArgs:
    tenant_id: str
    quota: Quota
    limits: Limits
    workloads: Sequence[Workload]
    image: str
    tags: dict[str, str]
    role_arn: pulumi.Input[str]
    eks_cluster: str | None = None
    cluster_region: str | None = None


class PoolFootprint(pulumi.ComponentResource):
    """Namespace `tenant-<id>` with quota, limits, default-deny network policy, the controller's RoleBindings
    and workload Deployments."""

    namespace: k8s.core.v1.Namespace
    role_bindings: list[k8s.rbac.v1.RoleBinding]
    deployments: dict[str, k8s.apps.v1.Deployment]

    def __init__(self, name: str, args: PoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenantops:tenant:Pool", name, None, opts)
        ns = namespace_name(args.tenant_id)
        labels = k8s_labels(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        # The shared cluster's nodes are the one thing pooled tenants share: Pod Security's `restricted`
        # profile keeps any pod of the namespace (the program's, or one a compromised workload's identity
        # could create) from running privileged, on the host's namespaces or paths, or as root.
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": ns, "labels": {**labels, **POD_SECURITY}}, opts=child
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

        def meta(object_name: str, extra: dict[str, str] | None = None) -> dict[str, object]:
            return {"name": object_name, "namespace": ns, "labels": {**labels, **(extra or {})}}

        k8s.core.v1.ResourceQuota(
            f"{name}-quota", metadata=meta("tenant-quota"), spec={"hard": quota_hard(args.quota)}, opts=in_ns
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits", metadata=meta("tenant-limits"), spec={"limits": [limit_range_item(args.limits)]},
            opts=in_ns,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=meta("default-deny"),
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=in_ns,
        )
        # Default deny also blocks DNS; pods may resolve names and talk to each other inside the namespace.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-namespace-and-dns",
            metadata=meta("allow-namespace-and-dns"),
            spec={
                "pod_selector": {},
                "policy_types": ["Ingress", "Egress"],
                "ingress": [{"from": [{"pod_selector": {}}]}],
                "egress": [
                    {"to": [{"pod_selector": {}}]},
                    {
                        "to": [{"namespace_selector": {
                            "match_labels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                ],
            },
            opts=in_ns,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-aws",
            metadata=meta("allow-aws"),
            spec={"pod_selector": {}, "policy_types": ["Egress"], "egress": aws_egress()},
            opts=in_ns,
        )
        # The tenant's pods never call the Kubernetes API, so neither the ServiceAccount nor the pods mount
        # its API token: a compromised workload holds no credentials to the shared API server. EKS Pod
        # Identity still works: its webhook mounts a token of its own (audience pods.eks.amazonaws.com).
        k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=meta(SERVICE_ACCOUNT),
                                   automount_service_account_token=False, opts=in_ns)
        # The ClusterRoles hold each rule once (deploy/base/rbac.yaml); a RoleBinding grants one in this
        # namespace only. A ClusterRoleBinding would let the controller reach every namespace.
        self.role_bindings = [
            k8s.rbac.v1.RoleBinding(
                f"{name}-{role}",
                metadata=meta(role),
                role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                subjects=[{"kind": "ServiceAccount", "name": CONTROLLER_SERVICE_ACCOUNT,
                           "namespace": CONTROLLER_NAMESPACE}],
                opts=in_ns,
            )
            for role in POOLED_TENANT_ROLES
        ]
        if args.eks_cluster:
            # The association lives with the cluster, not with the tenant's data: a tenant whose bucket
            # and key are in eu-central-1 still runs in the stack's cluster, and an association made
            # through the tenant's regional provider names a cluster that region does not have.
            aws.eks.PodIdentityAssociation(
                f"{name}-pod-identity",
                region=args.cluster_region,
                cluster_name=args.eks_cluster,
                namespace=ns,
                service_account=SERVICE_ACCOUNT,
                role_arn=args.role_arn,
                tags=args.tags,
                opts=in_ns,
            )
        self.deployments = {}
        for workload in args.workloads:
            selector = {"tenant": args.tenant_id, "workload": workload.name}
            self.deployments[workload.name] = k8s.apps.v1.Deployment(
                f"{name}-{workload.name}",
                metadata=meta(workload.name, selector),
                spec={
                    "replicas": workload.min_replicas,
                    "selector": {"match_labels": selector},
                    "template": {
                        "metadata": {"labels": {**labels, **selector}},
                        "spec": {
                            "service_account_name": SERVICE_ACCOUNT,
                            "automount_service_account_token": False,
                            "security_context": {"run_as_non_root": True,
                                                 "seccomp_profile": {"type": "RuntimeDefault"}},
                            "containers": [{
                                "name": workload.name,
                                "image": args.image,
                                "resources": container_resources(workload),
                                "security_context": {
                                    "allow_privilege_escalation": False,
                                    "read_only_root_filesystem": True,
                                    "run_as_non_root": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                            }],
                        },
                    },
                },
                # The controller scales through the scale subresource and right-sizes the containers'
                # requests (and limits); `pulumi up` must not undo either.
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[self.namespace], ignore_changes=list(CONTROLLER_OWNED),
                ),
            )
        self.register_outputs({"namespace": ns})
