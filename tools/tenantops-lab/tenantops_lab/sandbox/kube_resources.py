"""What the Kubernetes API stand-in serves, described the way the apiserver describes it to clients.

kubectl learns every resource from discovery before it sends any verb: `/api` and `/apis` name the
groups, `/api/v1` and `/apis/<group>/<version>` list each group's resources with their short names,
verbs and subresources (`kubectl get deploy` resolves `deploy` here; `kubectl scale` finds the
`deployments/scale` subresource and its `autoscaling/v1` Scale kind here). `kubectl get` then asks for
server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`) and prints the columns
the server chose; the columns below are those of the real apiserver's printers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tenantops_lab.sandbox import kube_openapi
from tenantops_lab.sandbox.kube_pods import ready_cell, status_cell

JSON = dict[str, Any]
_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    description: str
    cell: Callable[[JSON], Any]
    priority: int = 0  # 1: shown only with -o wide
    format: str = ""

    def definition(self) -> JSON:
        return {"name": self.name, "type": self.type, "format": self.format, "description": self.description,
                "priority": self.priority}


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str  # e.g. "scale"
    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Kind:
    """One served resource type: its REST names, scope, discovery entry and table columns."""

    resource: str  # plural, as in the path
    singular: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    columns: tuple[Column, ...] = field(default=())
    verbs: tuple[str, ...] = _VERBS
    field_labels: tuple[str, ...] = ()  # what a field selector may name besides metadata.name / .namespace

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_name(self) -> str:
        """As the apiserver names the resource in messages: `deployments.apps`, `namespaces`."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def qualified_kind(self) -> str:
        """As the apiserver names the kind in validation messages: `Deployment.apps`."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def human_duration(seconds: float) -> str:
    """An object's age the way kubectl prints it (apimachinery's `duration.HumanDuration`)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"


def _age(obj: JSON) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - then).total_seconds())


def _name(obj: JSON) -> str:
    return str(obj["metadata"]["name"])


def _status(obj: JSON, key: str) -> int:
    return int((obj.get("status") or {}).get(key) or 0)


def _containers(obj: JSON) -> list[JSON]:
    return list(((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [])


def _selector(obj: JSON) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


NAME = Column("Name", "string", "Name must be unique within a namespace.", _name, format="name")
AGE = Column("Age", "string", "CreationTimestamp is the time the object was created.", _age)

TEMPLATE_COLUMNS = (  # `-o wide`, for the kinds that hold a pod template
    Column("Containers", "string", "Names of each container in the template.",
           lambda o: ",".join(str(c.get("name")) for c in _containers(o)), priority=1),
    Column("Images", "string", "Images referenced by each container in the template.",
           lambda o: ",".join(str(c.get("image")) for c in _containers(o)), priority=1),
    Column("Selector", "string", "Label selector for pods.", _selector, priority=1),
)

NAMESPACES = Kind(
    "namespaces", "namespace", "Namespace", "", "v1", namespaced=False, short_names=("ns",),
    columns=(NAME, Column("Status", "string", "The status of the namespace",
                          lambda o: (o.get("status") or {}).get("phase", "Active")), AGE),
)
DEPLOYMENTS = Kind(
    "deployments", "deployment", "Deployment", "apps", "v1", namespaced=True, short_names=("deploy",),
    categories=("all",),
    subresources=(Subresource("scale", "autoscaling", "v1", "Scale", ("get", "patch", "update")),
                  Subresource("status", "apps", "v1", "Deployment", ("get", "patch", "update"))),
    columns=(
        NAME,
        Column("Ready", "string", "Number of the pod with ready state",
               lambda o: f"{_status(o, 'readyReplicas')}/{int((o.get('spec') or {}).get('replicas', 1))}"),
        Column("Up-to-date", "integer", "Total number of non-terminated pods targeted by this deployment "
               "that have the desired template spec.", lambda o: _status(o, "updatedReplicas")),
        Column("Available", "integer", "Total number of available pods (ready for at least minReadySeconds) "
               "targeted by this deployment.", lambda o: _status(o, "availableReplicas")),
        AGE,
        *TEMPLATE_COLUMNS,
    ),
)
SCALE = Kind(  # the `deployments/{name}/scale` subresource's objects, as `kubectl get --subresource=scale` prints them
    "scale", "scale", "Scale", "autoscaling", "v1", namespaced=True, verbs=("get", "patch", "update"),
    columns=(NAME, Column("Desired", "integer", "Desired replicas", lambda o: _spec_int(o, "replicas")),
             Column("Available", "integer", "Available replicas", lambda o: _status(o, "replicas"))),
)
"""Not served as a resource of its own (not in KINDS): only its Table columns are used."""


def _spec_int(obj: JSON, key: str) -> int:
    return int((obj.get("spec") or {}).get(key) or 0)


LEASES = Kind(
    "leases", "lease", "Lease", "coordination.k8s.io", "v1", namespaced=True,
    columns=(NAME, Column("Holder", "string", "HolderIdentity contains the identity of the holder of a current "
                          "lease.", lambda o: (o.get("spec") or {}).get("holderIdentity") or ""), AGE),
)
POD_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "status.phase", "status.podIP", "status.nominatedNodeName")
"""The field labels the apiserver accepts in a Pod list's field selector besides metadata's (`kubectl
describe node` selects the node's pods by `spec.nodeName` and `status.phase!=...`)."""

PODS = Kind(
    "pods", "pod", "Pod", "", "v1", namespaced=True, short_names=("po",), categories=("all",),
    verbs=("get", "list", "watch"),  # derived from the Deployments (`kube_pods`): read-only
    field_labels=POD_FIELDS,
    subresources=(Subresource("log", "", "v1", "Pod", ("get",)),),  # `kubectl logs` (`kube_pods.log_of`)
    columns=(
        NAME,
        Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", ready_cell),
        Column("Status", "string", "The aggregate status of the containers in this pod.", status_cell),
        Column("Restarts", "string", "The number of times the containers in this pod have been restarted.",
               lambda o: "0"),
        AGE,
        Column("IP", "string", "The IP address assigned to the pod.",
               lambda o: (o.get("status") or {}).get("podIP") or "<none>", priority=1),
        Column("Node", "string", "The name of the node assigned to the pod.",
               lambda o: (o.get("spec") or {}).get("nodeName") or "<none>", priority=1),
    ),
)


def _event_seen(obj: JSON) -> str:
    """An Event's LAST SEEN as the apiserver prints it: its lastTimestamp, else its eventTime."""
    stamp = obj.get("lastTimestamp") or obj.get("eventTime")
    if not stamp:
        return "<unknown>"
    then = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return human_duration((datetime.now(UTC) - then).total_seconds())


def _event_object(obj: JSON) -> str:
    ref = obj.get("involvedObject") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _event_source(obj: JSON) -> str:
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    return ", ".join(part for part in (component, source.get("host") or "") if part)


EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                "reason", "reportingComponent", "source", "type")
"""The field labels the apiserver accepts in an Event list's field selector besides metadata's
(`kubectl describe` selects an object's events by `involvedObject.*`)."""

EVENTS = Kind(
    # core/v1 Events, which `kubectl get events` and `kubectl describe` read: the controller records one
    # per scaling or right-sizing write it makes (`tenantops.act.kube_events`), as the HPA does.
    "events", "event", "Event", "", "v1", namespaced=True, short_names=("ev",), field_labels=EVENT_FIELDS,
    columns=(
        Column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded.",
               _event_seen),
        Column("Type", "string", "Type of this event (Normal, Warning).", lambda o: o.get("type") or ""),
        Column("Reason", "string", "A short, machine understandable string that gives the reason for this "
               "event being generated.", lambda o: o.get("reason") or ""),
        Column("Object", "string", "The object that this event is about.", _event_object),
        Column("Subobject", "string", "The field of the object the event is about.",
               lambda o: (o.get("involvedObject") or {}).get("fieldPath") or "", priority=1),
        Column("Source", "string", "The component reporting this event.", _event_source, priority=1),
        Column("Message", "string", "A human-readable description of the status of this operation.",
               lambda o: o.get("message") or ""),
        Column("First Seen", "string", "The time at which the event was first recorded.",
               lambda o: _event_seen({"lastTimestamp": o.get("firstTimestamp") or o.get("eventTime")}), priority=1),
        Column("Count", "string", "The number of times this event has occurred.",
               lambda o: str(o.get("count") or 1), priority=1),
        Column("Name", "string", "Name must be unique within a namespace.", _name, priority=1, format="name"),
    ),
)

REPLICASETS = Kind(
    "replicasets", "replicaset", "ReplicaSet", "apps", "v1", namespaced=True, short_names=("rs",),
    categories=("all",),
    verbs=("get", "list", "watch"),  # derived from the Deployments (`kube_pods`): read-only
    columns=(
        NAME,
        Column("Desired", "integer", "Number of desired pods.",
               lambda o: int((o.get("spec") or {}).get("replicas", 0))),
        Column("Current", "integer", "Number of actual pods.", lambda o: _status(o, "replicas")),
        Column("Ready", "integer", "Number of ready pods.", lambda o: _status(o, "readyReplicas")),
        AGE,
        *TEMPLATE_COLUMNS,
    ),
)
def _node_ready(obj: JSON) -> str:
    ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    return "Ready" if ready is not None and ready.get("status") == "True" else "NotReady"


def _node_roles(obj: JSON) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = [key[len(prefix):] for key in (obj.get("metadata") or {}).get("labels") or {} if key.startswith(prefix)]
    return ",".join(sorted(roles)) or "<none>"


def _node_address(kind: str) -> Callable[[JSON], str]:
    return lambda obj: next((a.get("address") for a in (obj.get("status") or {}).get("addresses") or []
                             if a.get("type") == kind), None) or "<none>"


def _node_info(key: str) -> Callable[[JSON], str]:
    return lambda obj: ((obj.get("status") or {}).get("nodeInfo") or {}).get(key) or "<unknown>"


NODES = Kind(
    "nodes", "node", "Node", "", "v1", namespaced=False, short_names=("no",),
    verbs=("get", "list", "watch"),  # the one node the pods are on (`kube_pods.node`): read-only, never changes
    columns=(
        NAME,
        Column("Status", "string", "The status of the node", _node_ready),
        Column("Roles", "string", "The roles of the node", _node_roles),
        AGE,
        Column("Version", "string", "Kubelet Version reported by the node.", _node_info("kubeletVersion")),
        Column("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, "
               "if available.", _node_address("InternalIP"), priority=1),
        Column("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, "
               "if available.", _node_address("ExternalIP"), priority=1),
        Column("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux "
               "7 (wheezy)).", _node_info("osImage"), priority=1),
        Column("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. "
               "3.16.0-0.bpo.4-amd64).", _node_info("kernelVersion"), priority=1),
        Column("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime "
               "remote API (e.g. containerd://1.4.2).", _node_info("containerRuntimeVersion"), priority=1),
    ),
)
SERVICES = Kind(
    "services", "service", "Service", "", "v1", namespaced=True, short_names=("svc",), categories=("all",),
    verbs=("get", "list", "watch"),  # none exist (nothing is exposed): lists and `kubectl cluster-info` answer
    columns=(
        NAME,
        Column("Type", "string", "The type of the service.", lambda o: (o.get("spec") or {}).get("type") or ""),
        Column("Cluster-IP", "string", "The IP address of the service.",
               lambda o: (o.get("spec") or {}).get("clusterIP") or "<none>"),
        Column("External-IP", "string", "The external IP address of the service.", lambda o: "<none>"),
        Column("Port(s)", "string", "The port(s) of the service.",
               lambda o: ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                                  for p in (o.get("spec") or {}).get("ports") or []) or "<none>"),
        AGE,
        Column("Selector", "string", "The label selector of the service.",
               lambda o: ",".join(f"{k}={v}" for k, v in sorted(((o.get("spec") or {}).get("selector") or {})
                                                                  .items())) or "<none>", priority=1),
    ),
)
DERIVED = (PODS, REPLICASETS, NODES, SERVICES)
"""Kinds the stand-in derives whenever they are read (from its Deployments; the node): get, list, watch."""

SELF_SUBJECT_ACCESS_REVIEWS = Kind(  # `kubectl auth can-i VERB RESOURCE`
    "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", "authorization.k8s.io",
    "v1", namespaced=False, verbs=("create",))
SELF_SUBJECT_RULES_REVIEWS = Kind(  # `kubectl auth can-i --list`
    "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", "authorization.k8s.io",
    "v1", namespaced=False, verbs=("create",))
SELF_SUBJECT_REVIEWS = Kind(  # `kubectl auth whoami`
    "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", "authentication.k8s.io", "v1",
    namespaced=False, verbs=("create",))
REVIEWS = (SELF_SUBJECT_ACCESS_REVIEWS, SELF_SUBJECT_RULES_REVIEWS, SELF_SUBJECT_REVIEWS)
"""Kinds that are only created, answered at once and never stored (`kube_access`)."""

KINDS: tuple[Kind, ...] = (NAMESPACES, NODES, PODS, SERVICES, DEPLOYMENTS, REPLICASETS, LEASES, EVENTS, *REVIEWS)
BY_RESOURCE = {(k.group, k.version, k.resource): k for k in KINDS}


def _group_versions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind in KINDS:
        versions = out.setdefault(kind.group, [])
        if kind.version not in versions:
            versions.append(kind.version)
    return out


def api_versions(server_address: str) -> JSON:
    """`GET /api`: the core group's versions."""
    return {"kind": "APIVersions", "versions": _group_versions()[""],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group(group: str) -> JSON | None:
    """`GET /apis/<group>`: one named group, or None when it is not served."""
    versions = _group_versions().get(group)
    if not group or versions is None:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
            "preferredVersion": entries[0]}


def api_group_list() -> JSON:
    """`GET /apis`: every named group."""
    groups = [api_group(g) for g in _group_versions() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g is not None]}


def resource_list(group: str, version: str) -> JSON | None:
    """`GET /api/v1` or `/apis/<group>/<version>`: the group version's resources and subresources."""
    kinds = [k for k in KINDS if k.group == group and k.version == version]
    if not kinds:
        return None
    resources: list[JSON] = []
    for kind in kinds:
        entry: JSON = {"name": kind.resource, "singularName": kind.singular, "namespaced": kind.namespaced,
                       "kind": kind.kind, "verbs": list(kind.verbs)}
        if kind.short_names:
            entry["shortNames"] = list(kind.short_names)
        if kind.categories:
            entry["categories"] = list(kind.categories)
        resources.append(entry)
        resources.extend(
            {"name": f"{kind.resource}/{sub.name}", "singularName": "", "namespaced": kind.namespaced,
             "group": sub.group, "version": sub.version, "kind": sub.kind, "verbs": list(sub.verbs)}
            for sub in kind.subresources
        )
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": kinds[0].api_version,
            "resources": resources}


_TABLE = re.compile(r"as=Table", re.IGNORECASE)


def wants_table(accept: str | None) -> bool:
    """Whether the client asked for server-side printing (kubectl's `get` does for human output)."""
    return bool(accept) and any(_TABLE.search(part) and "g=meta.k8s.io" in part
                                for part in (accept or "").split(","))


def _partial_metadata(obj: JSON) -> JSON:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(kind: Kind, objects: Sequence[JSON], resource_version: str, *, include_object: str = "Metadata") -> JSON:
    """A `meta.k8s.io/v1` Table of `objects` with the kind's columns, as `kubectl get` prints it."""
    rows = []
    for obj in objects:
        row: JSON = {"cells": [column.cell(obj) for column in kind.columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial_metadata(obj)
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": [column.definition() for column in kind.columns], "rows": rows}


# ---------------------------------------------------------------------------------------------- OpenAPI v3

def _gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_root() -> JSON:
    """`GET /openapi/v3`: one document per group version (kubectl reads them to learn that the server
    validates fields itself, and then sends `fieldValidation` instead of validating client-side)."""
    paths = {}
    for group, versions in _group_versions().items():
        for version in versions:
            key = _gv_key(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_document_hash(group, version)}"}
    return {"paths": paths}


@functools.cache
def _document_hash(group: str, version: str) -> str:
    """The document's hash in its URL, as the apiserver's: kubectl caches a document by its URL, so a
    changed document must have a new one."""
    document = json.dumps(openapi_v3(group, version), sort_keys=True).encode()
    return hashlib.sha512(document).hexdigest()[:128].upper()


_FIELD_VALIDATION = {
    "name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True},
    "description": "Ignore, Warn (the default) or Strict: what to do with fields the type does not have.",
}


def _operation(verb: str, kind: Kind) -> JSON:
    return {"operationId": f"{verb}{kind.kind}", "parameters": [_FIELD_VALIDATION],
            "x-kubernetes-action": verb, "responses": {"200": {"description": "OK"}},
            "x-kubernetes-group-version-kind": {"group": kind.group, "version": kind.version, "kind": kind.kind}}


@functools.cache
def openapi_v3(group: str, version: str) -> JSON | None:
    """`GET /openapi/v3/<api/v1 | apis/<group>/<version>>`: the paths, the write operations' parameters,
    and the served kinds' schemas (`kube_openapi`: what `kubectl explain` prints). Field validation is the
    server's (`kube_fields`). Cached: the document never changes while the process runs; callers must not
    change it."""
    kinds = [k for k in KINDS if k.group == group and k.version == version]
    if not kinds:
        return None
    base = "/" + _gv_key(group, version)
    paths: JSON = {}
    for kind in kinds:
        scope = f"{base}/namespaces/{{namespace}}" if kind.namespaced else base
        collection = f"{scope}/{kind.resource}"
        paths[collection] = {"post": _operation("post", kind)}
        if kind not in REVIEWS:
            paths[f"{collection}/{{name}}"] = {"put": _operation("put", kind), "patch": _operation("patch", kind)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.31.0"}, "paths": paths,
            "components": {"schemas": kube_openapi.schemas(group, version, [k.kind for k in kinds])}}
