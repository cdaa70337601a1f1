"""The Pods of the stand-in's Deployments, read-only, as `kubectl get pods` and `kubectl describe` read them.

The stand-in runs no kubelet, so there are no pods to store; but the first thing a user types to see what
the controller scaled is `kubectl get pods -n tenant-acme`, and that was "the server doesn't have a
resource type pods". Each Deployment's pods are derived from it whenever they are read: `spec.replicas`
of them, named `<deployment>-<template hash>-<suffix>` as a ReplicaSet names them (so they change name when
the pod template changes, and the metrics policy's pod-to-workload rule reads them back), labelled with the
template's labels and `pod-template-hash`, the first `status.readyReplicas` of them Running and Ready,
the rest ContainerCreating. Served: get, list and watch (one namespace or all, with label and field
selectors; each Deployment write keeps the pods it adds, changes or removes as watch events of its
revision), and each pod's `log` (empty: nothing runs in it); no write (405).

The ReplicaSets are derived the same way (`replica_set_of`): one per pod template the Deployment has run
(`Revision`, kept by the server with `next_history` as the deployment controller keeps them: each new
template the next `deployment.kubernetes.io/revision`, a template run again renumbered, at most
`revisionHistoryLimit` old ones), owned by it; the current one with its replicas and ready counts, the
old ones scaled to 0. So `kubectl get rs` and the pods' "Controlled By" name an object that exists,
`kubectl describe deploy` finds its NewReplicaSet and OldReplicaSets, and `kubectl rollout history` and
`rollout undo` (which patches the old ReplicaSet's template back into the Deployment) work.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tenantops_lab.sandbox.kube_errors import ApiError

JSON = dict[str, Any]

NODE = "tenantops-lab"  # the one node every pod is on (`node`)
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's rand.SafeEncodeString alphabet


def _safe(digest: bytes, length: int) -> str:
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:length])


def template_hash(deployment: JSON) -> str:
    """A stable 10-character hash of the pod template (the ReplicaSet's `pod-template-hash`)."""
    return _hash_of((deployment.get("spec") or {}).get("template") or {})


def _hash_of(template: JSON) -> str:
    return _safe(hashlib.sha256(json.dumps(_canonical(template), sort_keys=True).encode()).digest(), 10)


def _canonical(value: Any) -> Any:
    """A template as its Go type holds it: a null or empty field is no field (kubectl sends a template
    back from a ReplicaSet with `metadata.creationTimestamp: null`, and it is the same template)."""
    if isinstance(value, dict):
        kept = {k: _canonical(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def same_template(a: JSON, b: JSON) -> bool:
    return bool(_canonical(a) == _canonical(b))


def _replica_set_uid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


@dataclass(frozen=True, slots=True)
class Revision:
    """One pod template a Deployment has run, as its ReplicaSet keeps it: the revision number the
    deployment controller gave it, when it was first run, and the Deployment's change cause then."""

    number: int
    template: JSON
    created: str | None
    change_cause: str | None = None


def next_history(history: Sequence[Revision], deployment: JSON, now: str) -> list[Revision]:
    """The Deployment's revisions after a write, as the deployment controller keeps them: a new pod
    template is the next revision; going back to an older one (`kubectl rollout undo`) renumbers that one
    as the next; at most `spec.revisionHistoryLimit` old ones are kept."""
    spec = deployment.get("spec") or {}
    template = spec.get("template") or {}
    cause = ((deployment.get("metadata") or {}).get("annotations") or {}).get(CHANGE_CAUSE)
    kept = list(history)
    if kept and same_template(kept[-1].template, template):
        if cause is not None and kept[-1].change_cause != cause:
            kept[-1] = Revision(kept[-1].number, kept[-1].template, kept[-1].created, cause)
        return kept
    number = max((r.number for r in kept), default=0) + 1
    earlier = next((r for r in kept if same_template(r.template, template)), None)
    kept = [r for r in kept if r is not earlier]
    kept.append(Revision(number, copy.deepcopy(template), earlier.created if earlier else now, cause))
    limit = int(spec.get("revisionHistoryLimit", 10))
    return kept[-(limit + 1):]


def replica_set_of(deployment: JSON, revision: Revision | None = None, *, current: bool = True) -> JSON:
    """One of the Deployment's ReplicaSets, as the deployment controller would keep it: the current one
    (its template, the Deployment's replicas and ready counts), or an old one, scaled to 0."""
    meta = deployment["metadata"]
    spec = deployment.get("spec") or {}
    template = revision.template if revision is not None else spec.get("template") or {}
    status = deployment.get("status") or {}
    replicas = int(spec.get("replicas", 1))
    ready = min(replicas, int(status.get("readyReplicas") or 0))
    own = replicas if current else 0
    hashed = _hash_of(template)
    name = f"{meta['name']}-{hashed}"
    labels = {**((template.get("metadata") or {}).get("labels") or {}), "pod-template-hash": hashed}
    selector = dict((spec.get("selector") or {}).get("matchLabels") or {})
    annotations = {"deployment.kubernetes.io/desired-replicas": str(replicas),
                   "deployment.kubernetes.io/max-replicas": str(replicas + max_surge(spec, replicas)),
                   REVISION: str(revision.number if revision is not None else 1)}
    if revision is not None and revision.change_cause is not None:
        annotations[CHANGE_CAUSE] = revision.change_cause
    return {
        "kind": "ReplicaSet", "apiVersion": "apps/v1",
        "metadata": {
            "name": name, "namespace": meta.get("namespace"), "uid": _replica_set_uid(name), "labels": dict(labels),
            "creationTimestamp": (revision.created if revision is not None else None) or meta.get("creationTimestamp"),
            "resourceVersion": meta.get("resourceVersion"), "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"],
                                 "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {"replicas": own, "selector": {"matchLabels": {**selector, "pod-template-hash": hashed}},
                 "template": {**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}}},
        "status": {"replicas": own, "fullyLabeledReplicas": own, "readyReplicas": ready if current else 0,
                   "availableReplicas": ready if current else 0, "observedGeneration": 1},
    }


def max_surge(spec: JSON, replicas: int) -> int:
    """The rolling update's maxSurge in pods (25% by default, rounded up), as the max-replicas annotation counts it."""
    rolling = (spec.get("strategy") or {}).get("rollingUpdate")
    if not rolling:
        return 0  # Recreate
    return scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)


def scaled(value: object, replicas: int, *, round_up: bool) -> int:
    """An int-or-percent field against the replica count (intstr.GetScaledValueFromIntOrPercent)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        exact = replicas * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return 0


def _container_ids(pod_uid: str, container: JSON, running: bool) -> JSON:
    """A container status's `imageID` (required: the official client refuses a pod list without it) and,
    once it runs, its `containerID`, as containerd reports them; a container still being created has an
    empty image ID and no container ID, as the kubelet sends it."""
    if not running:
        return {"imageID": ""}
    image = str(container.get("image") or "")
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image  # without its tag
    return {"imageID": f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
            "containerID": "containerd://" + hashlib.sha256(f"{pod_uid}/{container.get('name')}".encode()).hexdigest()}


def pods_of(deployment: JSON) -> list[JSON]:
    """The Deployment's pods as a cluster running it would list them."""
    meta = deployment["metadata"]
    spec = deployment.get("spec") or {}
    template = spec.get("template") or {}
    replicas = int(spec.get("replicas", 1))
    ready = min(replicas, int((deployment.get("status") or {}).get("readyReplicas") or 0))
    hashed = template_hash(deployment)
    replica_set = f"{meta['name']}-{hashed}"
    labels = {**((template.get("metadata") or {}).get("labels") or {}), "pod-template-hash": hashed}
    containers = list((template.get("spec") or {}).get("containers") or [])
    pods = []
    for index in range(replicas):
        digest = hashlib.sha256(f"{meta.get('uid')}/{hashed}/{index}".encode()).digest()
        running = index < ready
        pod_uid = str(hashlib.sha256(digest).hexdigest()[:32])
        pods.append({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {
                "name": f"{replica_set}-{_safe(digest, 5)}", "namespace": meta.get("namespace"),
                "uid": pod_uid, "labels": dict(labels),
                "creationTimestamp": meta.get("creationTimestamp"), "resourceVersion": meta.get("resourceVersion"),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set,
                                     "uid": _replica_set_uid(replica_set),
                                     "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {**(template.get("spec") or {}), "nodeName": NODE},
            "status": {
                "phase": "Running" if running else "Pending",
                "conditions": [{"type": "Ready", "status": "True" if running else "False"}],
                "podIP": f"10.0.{index // 250}.{index % 250 + 1}" if running else None,
                "hostIP": "127.0.0.1",  # the node's InternalIP (`node`)
                "containerStatuses": [
                    {"name": c.get("name"), "image": c.get("image"), "ready": running, "restartCount": 0,
                     "started": running, **_container_ids(pod_uid, c, running),
                     "state": {"running": {"startedAt": meta.get("creationTimestamp")}} if running else
                     {"waiting": {"reason": "ContainerCreating"}}}
                    for c in containers],
            },
        })
    return pods


def log_of(pod: JSON, container: str | None) -> str:
    """What `GET .../pods/<name>/log` answers: the container's output, which is none, since the stand-in runs
    no container; a pod of several containers needs `container`, and one still being created has no log
    yet, each the kubelet's 400 as the apiserver relays it."""
    name = pod["metadata"]["name"]
    statuses = {str(s.get("name")): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    if container is None:
        if len(statuses) != 1:
            raise ApiError(400, f"a container name must be specified for pod {name}, choose one of: "
                           f"[{' '.join(statuses)}]")
        container = next(iter(statuses))
    status = statuses.get(container)
    if status is None:
        raise ApiError(400, f"container {container} is not valid for pod {name}")
    waiting = (status.get("state") or {}).get("waiting")
    if waiting:
        raise ApiError(400, f'container "{container}" in pod "{name}" is waiting to start: '
                       f"{waiting.get('reason') or 'PodInitializing'}")
    return ""


def node(created: str, kubelet_version: str) -> JSON:
    """The node the pods name in `spec.nodeName`, Ready since the stand-in started, as `kubectl get nodes`
    lists it. Its capacity is what a kubelet reports for a large machine; nothing is scheduled against it."""
    capacity = {"cpu": "64", "memory": "257433Mi", "pods": "1000", "ephemeral-storage": "1Ti"}
    return {
        "kind": "Node", "apiVersion": "v1",
        "metadata": {"name": NODE, "uid": hashlib.sha256(NODE.encode()).hexdigest()[:32], "resourceVersion": "1",
                     "creationTimestamp": created,
                     "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                                "beta.kubernetes.io/arch": "amd64"}},
        "spec": {"podCIDR": "10.0.0.0/16", "podCIDRs": ["10.0.0.0/16"]},
        "status": {
            "capacity": dict(capacity), "allocatable": dict(capacity),
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status", "lastHeartbeatTime": created,
                            "lastTransitionTime": created}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
            "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
                         "containerRuntimeVersion": "", "kubeletVersion": kubelet_version, "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def replica_sets(deployments: Iterable[JSON], history: Callable[[JSON], Sequence[Revision]]) -> list[JSON]:
    """Every Deployment's ReplicaSets: one per revision in its `history` (the last is the current one)."""
    out: list[JSON] = []
    for deployment in deployments:
        revisions: list[Revision | None] = [*history(deployment)] or [None]
        out.extend(replica_set_of(deployment, revision, current=index == len(revisions) - 1)
                   for index, revision in enumerate(revisions))
    return out


def pods(deployments: Iterable[JSON]) -> list[JSON]:
    return [pod for deployment in deployments for pod in pods_of(deployment)]


def ready_cell(pod: JSON) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(statuses)}"


def status_cell(pod: JSON) -> str:
    """What kubectl's STATUS column shows: a waiting container's reason, else the phase."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting")
        if waiting:
            return str(waiting.get("reason") or "Pending")
    return str((pod.get("status") or {}).get("phase") or "Unknown")
