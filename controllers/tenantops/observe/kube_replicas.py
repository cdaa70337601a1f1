"""Live replica counts of pooled workloads from the Kubernetes API, in a few list calls per pass.

One cluster-wide, paginated list of Deployments answers for every tenant namespace. Where the
controller's RBAC is per namespace (a RoleBinding in each tenant namespace, no cluster-wide grant) that
list is forbidden; the reader then lists each tenant namespace instead (one call per pooled tenant,
still not one per workload), and, where even that is forbidden, reads each target's scale subresource
(the permission the actuator already has). The first mode that works is remembered, so a forbidden
call is not repeated every pass. Responses are parsed as plain JSON: model objects for thousands of
Deployments would cost more than the pass's decisions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenantops.structs.plan import ScaleTarget, TargetKind
from tenantops.structs.replicas import ReplicaCount

log = logging.getLogger(__name__)

PAGE = 500
MODES = ("cluster", "namespace", "scale")


def _json(response: Any) -> dict[str, Any]:
    data = response.data if hasattr(response, "data") else response
    parsed = json.loads(data)
    if not isinstance(parsed, dict):
        raise ValueError(f"unexpected list response: {type(parsed).__name__}")
    return parsed


def _count(item: Mapping[str, Any]) -> ReplicaCount:
    spec = item.get("spec") or {}
    status = item.get("status") or {}
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    return ReplicaCount(desired, int(status.get("readyReplicas") or 0))


class KubeReplicaReader:
    """`ReplicaReader` for Deployment targets over `AppsV1Api`."""

    def __init__(self, apps: client.AppsV1Api, *, timeout: float = 10.0, mode: str = "cluster") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self._apps = apps
        self.timeout = timeout
        self.mode = mode
        self.calls = 0  # API requests made, for tests and the controller's own metrics

    def describe_many(self, targets: Sequence[ScaleTarget]) -> dict[ScaleTarget, ReplicaCount]:
        wanted = [t for t in targets if t.kind is TargetKind.KUBERNETES and t.namespace]
        if not wanted:
            return {}
        while True:
            try:
                return self._describe(wanted)
            except ApiException as exc:
                if exc.status != 403 or self.mode == "scale":
                    raise
                fallback = MODES[MODES.index(self.mode) + 1]
                log.warning("listing Deployments (%s) is forbidden; reading them per %s from now on",
                            self.mode, fallback)
                self.mode = fallback

    def _describe(self, wanted: Sequence[ScaleTarget]) -> dict[ScaleTarget, ReplicaCount]:
        by_key: dict[tuple[str, str], ScaleTarget] = {(str(t.namespace), t.name): t for t in wanted}
        found: dict[ScaleTarget, ReplicaCount] = {}
        if self.mode == "scale":
            for target in wanted:
                count = self._scale(target)
                if count is not None:
                    found[target] = count
            return found
        namespaces = sorted({str(t.namespace) for t in wanted})
        for item in self._items(namespaces):
            meta = item.get("metadata") or {}
            listed = by_key.get((str(meta.get("namespace")), str(meta.get("name"))))
            if listed is not None:
                found[listed] = _count(item)
        return found

    def _items(self, namespaces: Sequence[str]) -> Iterator[Mapping[str, Any]]:
        scopes: Sequence[str | None] = [None] if self.mode == "cluster" else namespaces
        for namespace in scopes:
            token: str | None = None
            while True:
                self.calls += 1
                kwargs: dict[str, Any] = {"limit": PAGE, "_preload_content": False, "_request_timeout": self.timeout}
                if token:
                    kwargs["_continue"] = token
                try:
                    if namespace is None:
                        page = _json(self._apps.list_deployment_for_all_namespaces(**kwargs))
                    else:
                        page = _json(self._apps.list_namespaced_deployment(namespace, **kwargs))
                except ApiException as exc:
                    if exc.status == 404 and namespace is not None:  # namespace not created yet
                        break
                    raise
                yield from page.get("items") or ()
                token = (page.get("metadata") or {}).get("continue") or None
                if not token:
                    break

    def _scale(self, target: ScaleTarget) -> ReplicaCount | None:
        self.calls += 1
        try:
            scale = _json(self._apps.read_namespaced_deployment_scale(
                target.name, str(target.namespace), _preload_content=False, _request_timeout=self.timeout))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        desired = int((scale.get("spec") or {}).get("replicas") or 0)
        # The scale subresource has no readiness; its status.replicas (pods that exist) stands in.
        return ReplicaCount(desired, int((scale.get("status") or {}).get("replicas") or 0))
