"""A small Kubernetes API server for integration tests and the demo.

It speaks the real REST paths and objects that the official `kubernetes` Python client sends and parses,
for the few resources tenantops touches, so the actuators and the leader elector are tested through the
real client (serialisation, content types, error mapping) rather than against a fake of our own code.

Served:

- `v1` Namespaces: list, get, create.
- `apps/v1` Deployments: list (one namespace or all), get, create, replace (PUT), patch (strategic-merge,
  JSON merge, JSON patch), delete; the `deployments/{name}/scale` subresource: GET, PUT, PATCH returning
  `autoscaling/v1` Scale objects.
- `coordination.k8s.io/v1` Leases: list, get, create, replace, patch, delete.
- Every write bumps one cluster-wide resourceVersion (as etcd's revision does); a write that names a stale
  `metadata.resourceVersion` gets 409 Conflict, a create of an existing name 409 AlreadyExists. Errors
  are `Status` objects with the reasons the apiserver uses (NotFound, AlreadyExists, Conflict, Invalid,
  TooManyRequests, InternalError, Unauthorized, UnsupportedMediaType, Timeout).
- Deployment status follows its spec at once (`readyReplicas == replicas`) unless `auto_ready=False`,
  in which case tests move it with `set_ready`.

Python API::

    from tenantops.sandbox.kube_api import KubeApiServer

    with KubeApiServer() as kube:                  # binds a free loopback port, serves from a thread
        kube.url                                   # "http://127.0.0.1:PORT" (Configuration.host)
        kube.add_namespace("tenant-acme")
        kube.add_deployment("tenant-acme", "api", replicas=2, cpu="250m", memory="256Mi")
        kube.deployment("tenant-acme", "api")      # a deep copy of the stored object (dict)
        kube.replicas("tenant-acme", "api")        # spec.replicas
        kube.set_replicas("tenant-acme", "api", 5) # someone else scaled it: bumps resourceVersion
        kube.set_ready("tenant-acme", "api", 3)    # status.readyReplicas (with auto_ready=False)
        kube.lease("kube-system", "tenantops")     # stored Lease or None

        # Fault injection: the next `count` requests matching path (exact, or a prefix ending in "*")
        # and method (any when None) get the status instead of being served. status="hang" holds the
        # request for `hang_seconds` (or until stop) and then answers 504 without applying it.
        kube.inject("/apis/apps/v1/namespaces/tenant-acme/deployments/api/scale", 409, count=1,
                    method="PATCH")
        kube.inject("/apis/apps/v1/*", "hang", count=1, hang_seconds=2.0)
        kube.on_request(path, lambda: kube.set_replicas("tenant-acme", "api", 7), method="PATCH")
        kube.clear_faults()

        # Request log, in arrival order, for assertions.
        kube.requests(method="PATCH", path_prefix="/apis/apps/v1")  # list[RequestRecord]
        kube.writes()                              # every non-GET request that was served with 2xx
        kube.clear_log()
        kube.in_flight                             # requests being served now (hanging ones included)

    # KubeApiServer(token="s3cret") demands "Authorization: Bearer s3cret" (401 otherwise).

From a shell (for a demo or a manual run; stops on Ctrl-C or SIGTERM)::

    python -m tenantops.sandbox.kube_api --port 0 --seed tenant-acme/api=2 --seed tenant-acme/worker=1

The server is thread-safe (one lock around the store and the log) and `stop()` ends hanging requests,
closes the socket and joins the serving thread.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import signal
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tenantops.sandbox.ports import LOOPBACK

JSON = dict[str, Any]

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

# Lists that strategic-merge patches merge by a key instead of replacing (from the Kubernetes API types'
# `patchMergeKey` tags) — enough for the fields of a Deployment that tenantops and its tests patch.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
}


class ApiError(Exception):
    """An error answered as a Kubernetes `Status` object."""

    def __init__(self, code: int, message: str, *, reason: str | None = None,
                 details: JSON | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details or {}
        self.headers = headers or {}

    def status(self) -> JSON:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the server received, as tests assert on it."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str | None
    body: Any
    status: int
    at: datetime

    @property
    def is_write(self) -> bool:
        return self.method not in ("GET", "HEAD")


@dataclass(slots=True)
class _Fault:
    path: str
    status: int | str
    remaining: int
    method: str | None = None
    hang_seconds: float = 30.0
    callback: Callable[[], None] | None = None  # status "call": run it, then serve the request

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


@dataclass(slots=True)
class _Store:
    """Objects by (resource, namespace, name); one revision counter for all writes."""

    revision: int = 0
    namespaces: dict[str, JSON] = field(default_factory=dict)
    objects: dict[tuple[str, str, str], JSON] = field(default_factory=dict)

    def next_version(self) -> str:
        self.revision += 1
        return str(self.revision)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------- patches


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, key: str | None = None) -> Any:
    """Kubernetes strategic merge: like JSON merge, but keyed lists merge element by element.

    Supports the `$patch: delete` directive on keyed list elements and `$patch: replace` on objects,
    which is what clients use when they patch container resources.
    """
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for name, value in patch.items():
            if name == "$patch":
                continue
            if value is None:
                result.pop(name, None)
            else:
                result[name] = strategic_merge_patch(result.get(name), value, name)
        return result
    if isinstance(patch, list) and key in _MERGE_KEYS and isinstance(target, list):
        merge_key = _MERGE_KEYS[key]
        merged = copy.deepcopy(target)
        for item in patch:
            if not isinstance(item, dict) or merge_key not in item:
                raise ApiError(422, f"{key}: list element has no merge key {merge_key!r}")
            index = next((i for i, old in enumerate(merged)
                          if isinstance(old, dict) and old.get(merge_key) == item[merge_key]), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    merged.pop(index)
            elif index is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[index] = strategic_merge_patch(merged[index], item)
        return merged
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"JSON pointer {path!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise ApiError(422, f"JSON patch path segment {part!r} not found")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 with add, remove, replace, test, copy and move."""
    if not isinstance(operations, list):
        raise ApiError(400, "a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, f"invalid JSON patch operation {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind not in ("add", "remove", "replace", "test", "copy", "move"):
            raise ApiError(400, f"unsupported JSON patch op {kind!r}")
        if kind in ("copy", "move"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, source))
            if kind == "move":
                doc = json_patch(doc, [{"op": "remove", "path": op["from"]}])
            doc = json_patch(doc, [{"op": "add", "path": op["path"], "value": value}])
            continue
        if kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise ApiError(422, f"JSON patch test failed at {op['path']}")
            continue
        if not parts:
            if kind == "remove":
                raise ApiError(422, "cannot remove the whole document")
            doc = copy.deepcopy(op.get("value"))
            continue
        parent, last = _walk(doc, parts[:-1]), parts[-1]
        if isinstance(parent, dict):
            if kind in ("remove", "replace") and last not in parent:
                raise ApiError(422, f"JSON patch path {op['path']} not found")
            if kind == "remove":
                del parent[last]
            else:
                parent[last] = copy.deepcopy(op.get("value"))
        elif isinstance(parent, list):
            if last == "-" and kind == "add":
                parent.append(copy.deepcopy(op.get("value")))
                continue
            if not last.isdigit() or int(last) > len(parent) or (kind != "add" and int(last) == len(parent)):
                raise ApiError(422, f"JSON patch index {last!r} out of range")
            index = int(last)
            if kind == "add":
                parent.insert(index, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                parent.pop(index)
            else:
                parent[index] = copy.deepcopy(op.get("value"))
        else:
            raise ApiError(422, f"JSON patch path {op['path']} does not name a container")
    return doc


_PATCHERS: dict[str, Callable[[Any, Any], Any]] = {
    "application/strategic-merge-patch+json": strategic_merge_patch,
    "application/merge-patch+json": json_merge_patch,
    "application/json-patch+json": json_patch,
}


# ---------------------------------------------------------------------------------------------- resources


@dataclass(frozen=True, slots=True)
class _Kind:
    resource: str  # plural, as in the path
    kind: str
    api_version: str
    group_name: str  # as the apiserver names it in messages, e.g. "deployments.apps"


_DEPLOYMENTS = _Kind("deployments", "Deployment", "apps/v1", "deployments.apps")
_LEASES = _Kind("leases", "Lease", "coordination.k8s.io/v1", "leases.coordination.k8s.io")
_KINDS = {k.resource: k for k in (_DEPLOYMENTS, _LEASES)}

_ROUTES = [
    (re.compile(r"^/api/v1/namespaces$"), "namespaces"),
    (re.compile(r"^/api/v1/namespaces/(?P<name>[^/]+)$"), "namespace"),
    (re.compile(r"^/apis/apps/v1/deployments$"), "all-deployments"),
    (re.compile(r"^/apis/(?P<group>apps/v1|coordination\.k8s\.io/v1)/namespaces/(?P<ns>[^/]+)/"
                r"(?P<resource>deployments|leases)$"), "collection"),
    (re.compile(r"^/apis/(?P<group>apps/v1|coordination\.k8s\.io/v1)/namespaces/(?P<ns>[^/]+)/"
                r"(?P<resource>deployments|leases)/(?P<name>[^/]+)$"), "object"),
    (re.compile(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)/scale$"), "scale"),
    (re.compile(r"^/(healthz|readyz|livez)$"), "health"),
    (re.compile(r"^/version$"), "version"),
]

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _container(name: str, image: str, cpu: str | None, memory: str | None) -> JSON:
    container: JSON = {"name": name, "image": image}
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    if requests:
        container["resources"] = {"requests": dict(requests), "limits": dict(requests)}
    return container


class KubeApiServer:
    """The threaded HTTP server; see the module docstring for the API."""

    def __init__(self, host: str = LOOPBACK, port: int = 0, *, token: str | None = None,
                 auto_ready: bool = True) -> None:
        self._host, self._port = host, port
        self._token = token
        self.auto_ready = auto_ready
        self._lock = threading.RLock()
        self._store = _Store()
        self._faults: list[_Fault] = []
        self._log: list[RequestRecord] = []
        self._stopping = threading.Event()
        self._in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> KubeApiServer:
        """Bind (port 0 = the kernel picks a free one, so there is no race) and serve from a thread."""
        if self._server is not None:
            return self
        owner = self

        class Handler(_Handler):
            api = owner

        self._stopping.clear()
        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="kube-api", daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging requests, stop serving, close the socket and join the thread."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # ------------------------------------------------------------------ seeding and inspection

    def add_namespace(self, name: str) -> JSON:
        with self._lock:
            if name not in self._store.namespaces:
                self._store.namespaces[name] = self._new_meta_object("Namespace", "v1", name, None, {})
                self._store.namespaces[name]["status"] = {"phase": "Active"}
            return copy.deepcopy(self._store.namespaces[name])

    def add_deployment(self, namespace: str, name: str, replicas: int = 1, *, cpu: str | None = "100m",
                       memory: str | None = "128Mi", image: str = "registry.local/app:1",
                       labels: dict[str, str] | None = None) -> JSON:
        """Create a Deployment (and its namespace) directly in the store; returns the stored object."""
        labels = dict(labels or {"app": name})
        body: JSON = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {"containers": [_container(name, image, cpu, memory)]},
                },
            },
        }
        with self._lock:
            self.add_namespace(namespace)
            return copy.deepcopy(self._create(_DEPLOYMENTS, namespace, body))

    def deployment(self, namespace: str, name: str) -> JSON | None:
        with self._lock:
            obj = self._store.objects.get(("deployments", namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def replicas(self, namespace: str, name: str) -> int | None:
        obj = self.deployment(namespace, name)
        return None if obj is None else int(obj["spec"].get("replicas", 1))

    def set_replicas(self, namespace: str, name: str, replicas: int) -> JSON:
        """Scale as another writer would (kubectl, an HPA): the object's resourceVersion moves on."""
        with self._lock:
            obj = self._require(_DEPLOYMENTS, namespace, name)
            updated = copy.deepcopy(obj)
            updated["spec"]["replicas"] = replicas
            return copy.deepcopy(self._write(_DEPLOYMENTS, obj, updated))

    def set_ready(self, namespace: str, name: str, ready: int) -> None:
        """Move the Deployment's readiness, as its pods would (use with auto_ready=False)."""
        with self._lock:
            obj = self._require(_DEPLOYMENTS, namespace, name)
            updated = copy.deepcopy(obj)
            updated["status"]["readyReplicas"] = ready
            updated["status"]["availableReplicas"] = ready
            self._store.objects[("deployments", namespace, name)] = updated
            updated["metadata"]["resourceVersion"] = self._store.next_version()

    def lease(self, namespace: str, name: str) -> JSON | None:
        with self._lock:
            obj = self._store.objects.get(("leases", namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    @property
    def revision(self) -> int:
        with self._lock:
            return self._store.revision

    def inject(self, path: str, status: int | str, *, count: int = 1, method: str | None = None,
               hang_seconds: float = 30.0) -> None:
        """Answer the next `count` matching requests with `status` (an HTTP code, or "hang")."""
        if status != "hang" and not (isinstance(status, int) and 400 <= status <= 599):
            raise ValueError(f"status must be an HTTP error code or 'hang', got {status!r}")
        with self._lock:
            self._faults.append(_Fault(path, status, count, method.upper() if method else None, hang_seconds))

    def on_request(self, path: str, callback: Callable[[], None], *, count: int = 1,
                   method: str | None = None) -> None:
        """Run `callback` just before each of the next `count` matching requests is served.

        This is how a test makes another writer land between a client's read and its write: the
        callback may use this object's own methods (e.g. `set_replicas`), and the request then meets
        the changed state, as it would on a real cluster.
        """
        with self._lock:
            self._faults.append(_Fault(path, "call", count, method.upper() if method else None, 0.0, callback))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self, *, method: str | None = None, path_prefix: str = "") -> list[RequestRecord]:
        with self._lock:
            return [r for r in self._log
                    if (method is None or r.method == method.upper()) and r.path.startswith(path_prefix)]

    def writes(self, path_prefix: str = "") -> list[RequestRecord]:
        """Non-GET requests that were served successfully: what actually changed state."""
        return [r for r in self.requests(path_prefix=path_prefix) if r.is_write and 200 <= r.status < 300]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def in_flight(self) -> int:
        """Requests being served right now (a hanging one counts until it is released)."""
        with self._lock:
            return self._in_flight

    def _enter(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    # ------------------------------------------------------------------ request handling (under the lock)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
            self._faults = [f for f in self._faults if f.remaining > 0]
            return None

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def _authorised(self, header: str | None) -> bool:
        return self._token is None or header == f"Bearer {self._token}"

    def _wait_hang(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def handle(self, method: str, path: str, query: dict[str, list[str]], content_type: str | None,
               body: Any) -> tuple[int, JSON]:
        """Serve one parsed request; raises ApiError for Status answers."""
        for pattern, route in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            params = match.groupdict()
            with self._lock:
                return self._dispatch(route, params, method, query, content_type, body)
        raise ApiError(404, f"the server could not find the requested resource ({method} {path})")

    def _dispatch(self, route: str, p: dict[str, str], method: str, query: dict[str, list[str]],
                  content_type: str | None, body: Any) -> tuple[int, JSON]:
        dry_run = "All" in query.get("dryRun", [])
        if route == "health":
            return 200, {"status": "ok"}
        if route == "version":
            return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-tenantops-standin"}
        if route == "namespaces":
            if method == "GET":
                items = [copy.deepcopy(n) for _, n in sorted(self._store.namespaces.items())]
                return 200, self._list("NamespaceList", "v1", items)
            if method == "POST":
                name = self._body_name(body)
                if name in self._store.namespaces:
                    raise ApiError(409, f'namespaces "{name}" already exists', reason="AlreadyExists",
                                   details={"name": name, "kind": "namespaces"})
                return 201, self.add_namespace(name)
            raise self._not_allowed(method)
        if route == "namespace":
            if method != "GET":
                raise self._not_allowed(method)
            found = self._store.namespaces.get(p["name"])
            if found is None:
                raise ApiError(404, f'namespaces "{p["name"]}" not found',
                               details={"name": p["name"], "kind": "namespaces"})
            return 200, copy.deepcopy(found)
        if route == "all-deployments":
            if method != "GET":
                raise self._not_allowed(method)
            return 200, self._list("DeploymentList", "apps/v1", self._items(_DEPLOYMENTS, None, query))
        kind = _KINDS[p["resource"]] if "resource" in p else _DEPLOYMENTS
        if "group" in p and kind.api_version != p["group"]:
            raise ApiError(404, f"the server could not find the requested resource ({p['group']})")
        ns = p["ns"]
        if route == "collection":
            if method == "GET":
                return 200, self._list(f"{kind.kind}List", kind.api_version, self._items(kind, ns, query))
            if method == "POST":
                self._require_namespace(ns)
                obj = self._validated(kind, ns, body, None)
                return 201, copy.deepcopy(obj if dry_run else self._create(kind, ns, obj))
            raise self._not_allowed(method)
        name = p["name"]
        if route == "object":
            if method == "GET":
                return 200, copy.deepcopy(self._require(kind, ns, name))
            if method == "DELETE":
                self._require(kind, ns, name)
                if not dry_run:
                    del self._store.objects[(kind.resource, ns, name)]
                    self._store.next_version()
                return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": {"name": name, "kind": kind.resource}}
            current = self._require(kind, ns, name)
            if method == "PUT":
                updated = self._validated(kind, ns, body, current)
            elif method == "PATCH":
                updated = self._validated(kind, ns, self._patched(current, content_type, body), current)
            else:
                raise self._not_allowed(method)
            return 200, copy.deepcopy(updated if dry_run else self._write(kind, current, updated))
        # the scale subresource
        current = self._require(_DEPLOYMENTS, ns, name)
        if method == "GET":
            return 200, self._scale_of(current)
        if method == "PUT":
            scale = body
        elif method == "PATCH":
            scale = self._patched(self._scale_of(current), content_type, body)
        else:
            raise self._not_allowed(method)
        replicas = self._scale_replicas(scale, name)
        updated = copy.deepcopy(current)
        updated["spec"]["replicas"] = replicas
        wanted = (scale.get("metadata") or {}).get("resourceVersion")
        if wanted:
            updated["metadata"]["resourceVersion"] = wanted
        else:
            updated["metadata"].pop("resourceVersion", None)
        if dry_run:
            return 200, self._scale_of(updated)
        return 200, self._scale_of(self._write(_DEPLOYMENTS, current, updated))

    # ------------------------------------------------------------------ store operations

    @staticmethod
    def _not_allowed(method: str) -> ApiError:
        return ApiError(405, f"the server does not allow this method on the requested resource ({method})")

    @staticmethod
    def _list(kind: str, api_version: str, items: list[JSON]) -> JSON:
        return {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "0"}, "items": items}

    def _items(self, kind: _Kind, ns: str | None, query: dict[str, list[str]]) -> list[JSON]:
        selector = query.get("labelSelector", [""])[0]
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        items = []
        for (resource, obj_ns, _), obj in sorted(self._store.objects.items()):
            if resource != kind.resource or (ns is not None and obj_ns != ns):
                continue
            labels = obj["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in wanted.items()):
                items.append(copy.deepcopy(obj))
        return items

    def _require_namespace(self, ns: str) -> None:
        if ns not in self._store.namespaces:
            raise ApiError(404, f'namespaces "{ns}" not found', details={"name": ns, "kind": "namespaces"})

    def _require(self, kind: _Kind, ns: str, name: str) -> JSON:
        obj = self._store.objects.get((kind.resource, ns, name))
        if obj is None:
            raise ApiError(404, f'{kind.group_name} "{name}" not found',
                           details={"name": name, "group": kind.api_version.split("/")[0],
                                    "kind": kind.resource})
        return obj

    @staticmethod
    def _body_name(body: Any) -> str:
        name = (body.get("metadata") or {}).get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not _DNS1123.match(name) or len(name) > 253:
            raise ApiError(422, f"metadata.name: Invalid value: {name!r}: must be a DNS-1123 subdomain")
        return name

    def _new_meta_object(self, kind: str, api_version: str, name: str, ns: str | None, body: JSON) -> JSON:
        obj = copy.deepcopy(body)
        obj["kind"], obj["apiVersion"] = kind, api_version
        meta = obj.setdefault("metadata", {})
        meta["name"] = name
        if ns is not None:
            meta["namespace"] = ns
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["resourceVersion"] = self._store.next_version()
        return obj

    def _validated(self, kind: _Kind, ns: str, body: Any, current: JSON | None) -> JSON:
        """Check a submitted object the way the apiserver's validation would, for the fields we serve."""
        if not isinstance(body, dict):
            raise ApiError(400, f"the body of a {kind.kind} must be a JSON object")
        name = self._body_name(body)
        meta = body.get("metadata") or {}
        if meta.get("namespace") not in (None, ns):
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent "
                           "on the request")
        if current is not None and name != current["metadata"]["name"]:
            raise ApiError(400, f"the name of the object ({name}) does not match the name on the URL "
                           f"({current['metadata']['name']})")
        causes = []
        spec = body.get("spec") or {}
        if kind is _DEPLOYMENTS:
            replicas = spec.get("replicas", 1)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or "
                               "equal to 0"))
            containers = ((spec.get("template") or {}).get("spec") or {}).get("containers")
            if not isinstance(containers, list) or not containers:
                causes.append(("spec.template.spec.containers", "Required value"))
            if not (spec.get("selector") or {}).get("matchLabels"):
                causes.append(("spec.selector", "Required value"))
        else:
            duration = spec.get("leaseDurationSeconds")
            if duration is not None and (not isinstance(duration, int) or duration <= 0):
                causes.append(("spec.leaseDurationSeconds", f"Invalid value: {duration!r}: must be greater "
                               "than 0"))
        if causes:
            raise ApiError(422, f'{kind.kind} "{name}" is invalid: '
                           + ", ".join(f"{f}: {m}" for f, m in causes),
                           details={"name": name, "kind": kind.kind,
                                    "causes": [{"field": f, "message": m, "reason": "FieldValueInvalid"}
                                               for f, m in causes]})
        obj = copy.deepcopy(body)
        obj["kind"], obj["apiVersion"] = kind.kind, kind.api_version
        obj["metadata"]["namespace"] = ns
        return obj

    def _create(self, kind: _Kind, ns: str, body: JSON) -> JSON:
        name = body["metadata"]["name"]
        if (kind.resource, ns, name) in self._store.objects:
            raise ApiError(409, f'{kind.group_name} "{name}" already exists', reason="AlreadyExists",
                           details={"name": name, "group": kind.api_version.split("/")[0],
                                    "kind": kind.resource})
        obj = self._new_meta_object(kind.kind, kind.api_version, name, ns, body)
        if kind is _DEPLOYMENTS:
            obj["metadata"]["generation"] = 1
            obj["spec"].setdefault("replicas", 1)
            obj["status"] = self._status_for(obj, None)
        self._store.objects[(kind.resource, ns, name)] = obj
        return obj

    def _write(self, kind: _Kind, current: JSON, updated: JSON) -> JSON:
        """Replace `current` by `updated` if the caller's resourceVersion (when given) is still current."""
        meta = current["metadata"]
        wanted = (updated.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != meta["resourceVersion"]:
            raise ApiError(409, f'Operation cannot be fulfilled on {kind.group_name} "{meta["name"]}": the '
                           "object has been modified; please apply your changes to the latest version and "
                           "try again", details={"name": meta["name"], "group": kind.api_version.split("/")[0],
                                                 "kind": kind.resource})
        obj = copy.deepcopy(updated)
        new_meta = obj["metadata"]
        for immutable in ("uid", "creationTimestamp", "name", "namespace"):
            new_meta[immutable] = meta[immutable]
        if kind is _DEPLOYMENTS:
            obj["spec"].setdefault("replicas", 1)
            changed = obj["spec"] != current["spec"]
            new_meta["generation"] = meta.get("generation", 1) + (1 if changed else 0)
            obj["status"] = self._status_for(obj, current)
        new_meta["resourceVersion"] = self._store.next_version()
        self._store.objects[(kind.resource, meta["namespace"], meta["name"])] = obj
        return obj

    def _status_for(self, obj: JSON, current: JSON | None) -> JSON:
        replicas = int(obj["spec"].get("replicas", 1))
        previous = (current or {}).get("status") or {}
        ready = replicas if self.auto_ready else int(previous.get("readyReplicas", 0))
        return {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }

    @staticmethod
    def _scale_of(deployment: JSON) -> JSON:
        meta = deployment["metadata"]
        selector = ",".join(f"{k}={v}" for k, v in sorted(deployment["spec"]["selector"]["matchLabels"].items()))
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {key: meta[key] for key in ("name", "namespace", "uid", "resourceVersion",
                                                    "creationTimestamp") if key in meta},
            "spec": {"replicas": int(deployment["spec"].get("replicas", 1))},
            "status": {"replicas": int(deployment.get("status", {}).get("replicas", 0)), "selector": selector},
        }

    @staticmethod
    def _scale_replicas(scale: Any, name: str) -> int:
        replicas = ((scale or {}).get("spec") or {}).get("replicas") if isinstance(scale, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                           f"{replicas!r}: must be greater than or equal to 0",
                           details={"name": name, "kind": "Scale", "causes": [
                               {"field": "spec.replicas", "reason": "FieldValueInvalid"}]})
        return replicas

    @staticmethod
    def _patched(current: JSON, content_type: str | None, body: Any) -> Any:
        media = (content_type or "").split(";")[0].strip().lower()
        patcher = _PATCHERS.get(media)
        if patcher is None:
            raise ApiError(415, f"the body of the request was in an unknown format - accepted media types "
                           f"include: {', '.join(_PATCHERS)}")
        patched = patcher(current, body)
        if isinstance(patched, dict) and isinstance(body, dict) and \
                "resourceVersion" not in (body.get("metadata") or {}):
            # A patch only carries a precondition when it names a resourceVersion itself.
            patched.setdefault("metadata", {}).pop("resourceVersion", None)
        return patched


class _Handler(BaseHTTPRequestHandler):
    """Parses HTTP, applies faults and auth, and writes JSON or Status answers; the server does the rest."""

    api: KubeApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    # Headers and body go out in two writes; with Nagle's algorithm and delayed ACKs each keep-alive
    # request would then wait ~40 ms for the body.
    disable_nagle_algorithm = True
    server_version = "tenantops-kube-api"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; the request log is the record."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "the request body is not valid JSON") from None

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        path, query = split.path.rstrip("/") or "/", parse_qs(split.query)
        content_type = self.headers.get("Content-Type")
        body: Any = None
        headers: dict[str, str] = {}
        self.api._enter(1)
        try:
            body = self._read_body()
            if not self.api._authorised(self.headers.get("Authorization")):
                raise ApiError(401, "Unauthorized")
            fault = self.api._take_fault(method, path)
            if fault is not None and fault.callback is not None:
                fault.callback()
                fault = None
            if fault is not None:
                if fault.status == "hang":
                    self.api._wait_hang(fault.hang_seconds)
                    raise ApiError(504, "Timeout: request did not complete within the allowed duration")
                code = int(fault.status)
                if code == 429:
                    headers["Retry-After"] = "1"
                raise ApiError(code, f"injected fault: {code} {_REASONS.get(code, '')}".strip(),
                               headers=headers)
            code, payload = self.api.handle(method, path, query, content_type, body)
        except ApiError as exc:
            code, payload = exc.code, exc.status()
            headers.update(exc.headers)
        except Exception as exc:  # a bug in the stand-in must still answer, as an apiserver would
            code, payload = 500, ApiError(500, f"internal error: {exc!r}").status()
        finally:
            self.api._enter(-1)
        self.api._record(RequestRecord(method, path, query, content_type, body, code, datetime.now(UTC)))
        self._respond(code, payload, headers)

    def _respond(self, code: int, payload: JSON, headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(code, HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else None)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout); nothing to answer



def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted, optionally seeded with `namespace/deployment=replicas` entries."""
    parser = argparse.ArgumentParser(description="A small Kubernetes API server (Deployments, scale, Leases).")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=0, help="0 = a free port (printed)")
    parser.add_argument("--seed", action="append", default=[], metavar="NS/NAME=REPLICAS")
    args = parser.parse_args(argv)
    server = KubeApiServer(args.host, args.port)
    seeds = []
    for seed in args.seed:
        match = re.fullmatch(r"([a-z0-9-]+)/([a-z0-9-]+)=(\d+)", seed)
        if match is None:
            parser.error(f"--seed {seed!r}: expected NAMESPACE/NAME=REPLICAS")
        seeds.append((match.group(1), match.group(2), int(match.group(3))))
    server.start()
    for namespace, name, replicas in seeds:
        server.add_deployment(namespace, name, replicas)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(server.url, flush=True)
    try:
        done.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
