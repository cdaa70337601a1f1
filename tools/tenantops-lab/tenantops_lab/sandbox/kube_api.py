"""A small Kubernetes API server for integration tests and the demo.

It speaks the real REST paths and objects that the official `kubernetes` Python client and `kubectl`
send and parse, for the few resources tenantops touches, so the actuators and the leader elector are
tested through real clients (serialisation, content types, error mapping, discovery) rather than against
a fake of our own code.

Served:

- Discovery: `/api`, `/apis`, `/apis/<group>`, `/api/v1`, `/apis/<group>/<version>` (resources, short
  names, verbs, the `deployments/scale` subresource), `/version`; `kubectl api-resources` lists them.
- `v1` Namespaces: list, watch, get, create, delete (with what is in them).
- `apps/v1` Deployments: list (one namespace or all), watch, get, create, replace (PUT), patch
  (strategic-merge, JSON merge, JSON patch), server-side apply (`kube_apply`: create or merge, with field
  ownership and conflicts), delete; the `deployments/{name}/scale` subresource: GET, PUT, PATCH returning
  `autoscaling/v1` Scale objects; the `deployments/{name}/status` subresource (`kubectl get
  --subresource=status`): GET the Deployment, PUT or PATCH its status only; both answer a Table (Scale's
  columns: Name, Desired, Available) when kubectl asks for one.
- `v1` Services: none (nothing is exposed), listed as such, so `kubectl get svc` and `kubectl cluster-info`
  answer instead of "the server doesn't have a resource type".
- `v1` Nodes: the one node the pods are on (`kube_pods.node`), Ready; get, list and watch, read-only.
- `v1` Pods and `apps/v1` ReplicaSets (one per revision of the pod template, as `kubectl rollout history`
  and `rollout undo` read them; each Deployment carries `deployment.kubernetes.io/revision`), derived
  from the Deployments (`kube_pods`): get, list and watch
  (`kubectl get pods -w` sees pods come and go as a Deployment is scaled), read-only; the
  `pods/{name}/log` subresource (`kubectl logs`) as text: empty, as nothing runs in them.
- `coordination.k8s.io/v1` Leases: list (one namespace or all), watch, get, create, replace, patch, delete.
- `authorization.k8s.io/v1` SelfSubjectAccessReviews and SelfSubjectRulesReviews, `authentication.k8s.io/v1`
  SelfSubjectReviews (`kube_access`): created and answered as an AlwaysAllow apiserver answers them, so
  `kubectl auth can-i` (also `--list`) and `kubectl auth whoami` work.
- Server-side printing: a `meta.k8s.io/v1` Table (the apiserver's columns) when the client asks for one
  in `Accept`, as `kubectl get` does, for lists, gets and watch events.
- OpenAPI v3 (`/openapi/v3`): each served kind's schema (`kube_openapi`, from the client's models), so
  `kubectl explain deployment.spec.replicas` works.
- Field validation: `/openapi/v3` names each write operation's `fieldValidation` parameter, so kubectl
  `apply`/`create`/`replace` leave validation to the server; unknown fields (`kube_fields`, from the
  client's generated models) are refused with `Strict` (400), dropped with a `Warning` header with
  `Warn` (the default), dropped silently with `Ignore`.
- Lists page as the apiserver's do: `limit` returns at most that many items with a `continue` token and
  `remainingItemCount` while more are left (kubectl asks for 500 at a time; so does the replica reader).
- Every write bumps one cluster-wide resourceVersion (as etcd's revision does) and is kept as a watch
  event; lists carry the revision they were read at, so a watch from it misses nothing. A write that
  names a stale `metadata.resourceVersion` gets 409 Conflict, a create of an existing name 409
  AlreadyExists. Validation is the apiserver's for these fields (`kube_validation`): requests above
  limits, a selector that does not select the template, negative replicas are 422 Invalid; a Lease's
  `renewTime`/`acquireTime` not in metav1.MicroTime's format (six fractional digits and a zone) is 400,
  and is stored as the apiserver re-encodes it (UTC, `Z`).
- Request bodies with `Content-Length` or `Transfer-Encoding: chunked` (kubectl sends the latter).
- Errors are `Status` objects with the reasons the apiserver uses (NotFound, AlreadyExists, Conflict,
  Invalid, Expired, TooManyRequests, InternalError, Unauthorized, UnsupportedMediaType, Timeout).
- The deployment controller's `ScalingReplicaSet` Events (`core/v1`, source `deployment-controller`), one
  per ReplicaSet a Deployment's write scales ("Scaled up replica set api-… from 2 to 5"), stored as any
  Event is, so `kubectl describe deploy` and `kubectl get events` show scaling as on a cluster.
- Deployment status follows its spec at once (`readyReplicas == replicas`) unless `auto_ready=False`,
  in which case tests move it with `set_ready`; its Available and Progressing conditions are the
  Deployment controller's (`kube_status`), so `kubectl wait --for=condition=Available` ends. A
  Deployment is stored with apps/v1's defaults (25%/25% rolling update, history 10, deadline 600 s).

Python API::

    from tenantops_lab.sandbox.kube_api import KubeApiServer

    with KubeApiServer() as kube:                  # binds a free loopback port, serves from a thread
        kube.url                                   # "http://127.0.0.1:PORT" (Configuration.host)
        kube.write_kubeconfig(path)                # for kubectl: KUBECONFIG=path kubectl get deploy -A
        kube.add_namespace("tenant-acme")
        kube.add_deployment("tenant-acme", "api", replicas=2, cpu="250m", memory="256Mi",
                            limits={"memory": "512Mi"})
        kube.deployment("tenant-acme", "api")      # a deep copy of the stored object (dict)
        kube.replicas("tenant-acme", "api")        # spec.replicas
        kube.set_replicas("tenant-acme", "api", 5) # someone else scaled it: bumps resourceVersion
        kube.set_ready("tenant-acme", "api", 3)    # status.readyReplicas (with auto_ready=False)
        kube.lease("kube-system", "tenantops")     # stored Lease or None
        kube.compact()                             # forget watch history: older watches get 410

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
        kube.in_flight                             # requests being served now (hanging ones, watches)

    # KubeApiServer(token="s3cret") demands "Authorization: Bearer s3cret" (401 otherwise).
    # KubeApiServer(tls=True) serves https with a throwaway CA (kube.certificate.ca; in the kubeconfig as
    # certificate-authority-data): kubectl sends a bearer token only over TLS.

From a shell (for a demo or a manual run; stops on Ctrl-C or SIGTERM)::

    python -m tenantops_lab.sandbox.kube_api --port 0 --seed tenant-acme/api=2 --kubeconfig /tmp/standin.yaml
    KUBECONFIG=/tmp/standin.yaml kubectl get deploy -A          # add --tls --token T for https and a token

The server is thread-safe (one lock around the store, the event history and the log) and `stop()` ends
hanging requests and watches, closes the socket and joins the serving thread.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import re
import select
import signal
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tenantops.signals import from_signal
from tenantops_lab.sandbox import kube_access
from tenantops_lab.sandbox import kube_apply as ssa
from tenantops_lab.sandbox import kube_resources as resources
from tenantops_lab.sandbox.kube_errors import REASONS, ApiError
from tenantops_lab.sandbox.kube_fields import strip_unknown
from tenantops_lab.sandbox.kube_patch import apply_patch, json_merge_patch, json_patch, strategic_merge_patch
from tenantops_lab.sandbox.kube_pods import REVISION, Revision, log_of, next_history, node, pods, replica_sets
from tenantops_lab.sandbox.kube_resources import (
    DEPLOYMENTS,
    DERIVED,
    EVENTS,
    LEASES,
    NAMESPACES,
    NODES,
    PODS,
    REPLICASETS,
    REVIEWS,
    SERVICES,
    Kind,
)
from tenantops_lab.sandbox.kube_status import deployment_conditions
from tenantops_lab.sandbox.kube_validation import body_name, validated
from tenantops_lab.sandbox.kube_watch import EventLog, WatchEvent, follow, is_watch, selector
from tenantops_lab.sandbox.kubeconfig import write_kubeconfig
from tenantops_lab.sandbox.ports import LOOPBACK
from tenantops_lab.sandbox.tls import ServerCertificate, issue

__all__ = ["ApiError", "KubeApiServer", "RequestRecord", "json_merge_patch", "json_patch", "strategic_merge_patch"]

JSON = dict[str, Any]
Key = tuple[str, str, str]  # (resource, namespace or "" for cluster-scoped, name)
VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-tenantops-standin", "gitCommit": "",
           "gitTreeState": "clean", "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5",
           "compiler": "gc", "platform": "linux/amd64"}
WATCH_TIMEOUT_SECONDS = 1800  # the apiserver ends a watch after 30-60 min unless the client asks sooner


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


@dataclass(frozen=True, slots=True)
class _Request:
    """A parsed request, as the dispatcher needs it: the headers it reads are Content-Type and Accept."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str | None]
    warnings: list[str] = field(default_factory=list)  # answered as `Warning` headers

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def accept(self) -> str | None:
        return self.headers.get("Accept")

    @property
    def dry_run(self) -> bool:
        """`dryRun=All` in the query, or, on a delete, in its DeleteOptions body (where kubectl puts it)."""
        return "All" in self.query.get("dryRun", []) or "All" in (self.delete_options.get("dryRun") or [])

    @property
    def delete_options(self) -> JSON:
        """A delete's DeleteOptions body (dryRun, preconditions), empty for any other request."""
        return self.body if self.method == "DELETE" and isinstance(self.body, dict) else {}

    def manager(self, subresource: str = "") -> ssa.Owner:
        """The field manager of an update (`fieldManager`, else the client's User-Agent product)."""
        return ssa.manager_of(self.query, self.headers.get("User-Agent")), "Update", subresource

    @property
    def table(self) -> bool:
        return resources.wants_table(self.accept)

    @property
    def include_object(self) -> str:
        """What a Table row carries of its object (`includeObject`: None, Metadata or Object)."""
        return self.query.get("includeObject", ["Metadata"])[0]

    def shown(self, kind: Kind, obj: JSON) -> JSON:
        """One object as the client asked for it: itself, or a one-row Table of `kind`'s columns."""
        if not self.table:
            return obj
        return resources.table(kind, [obj], obj["metadata"]["resourceVersion"], include_object=self.include_object)


@dataclass(frozen=True, slots=True)
class _Route:
    """Where a resource path points: a kind, and a namespace / name / subresource when given."""

    kind: Kind
    namespace: str | None
    name: str | None = None
    subresource: str | None = None


def _check_version(kind: Kind, current: JSON, sent: JSON) -> None:
    """A write's optimistic-concurrency precondition: the resourceVersion `sent` names (when it names one)
    must still be `current`'s, else 409 Conflict as the apiserver answers."""
    meta = current["metadata"]
    wanted = (sent.get("metadata") or {}).get("resourceVersion")
    if wanted and wanted != meta["resourceVersion"]:
        details: JSON = {"name": meta["name"], "kind": kind.resource}
        if kind.group:
            details["group"] = kind.group
        raise ApiError(409, f'Operation cannot be fulfilled on {kind.group_name} "{meta["name"]}": the '
                       "object has been modified; please apply your changes to the latest version and "
                       "try again", details=details)


@dataclass(frozen=True, slots=True)
class _Text:
    """A plain-text answer (a pod's log), not JSON."""

    text: str


@dataclass(frozen=True, slots=True)
class _Watch:
    """A watch to stream: given a check for the client having hung up, the events rendered for it."""

    stream: Callable[[Callable[[], bool]], Generator[JSON, None, None]]


def _list_key(obj: JSON) -> tuple[str, str]:
    """Where an object sorts in a list (namespace, then name), as the store orders them."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _container(name: str, image: str, cpu: str | None, memory: str | None, limits: dict[str, str] | None) -> JSON:
    container: JSON = {"name": name, "image": image}
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    if requests or limits:
        container["resources"] = {"requests": dict(requests)}
        if limits:
            container["resources"]["limits"] = dict(limits)
    return container


_GROUP_VERSION = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))(?P<rest>/.*)?$")


def _route(path: str) -> _Route | None:
    """The resource route of a path under `/api/v1` or `/apis/<group>/<version>`, or None."""
    match = _GROUP_VERSION.match(path)
    if match is None or not match["rest"]:
        return None
    group, version = ("", "v1") if match["core"] else (match["group"], match["version"])
    parts = match["rest"].strip("/").split("/")

    def kind(resource: str) -> Kind:
        found = resources.BY_RESOURCE.get((group, version, resource))
        if found is None:
            raise ApiError(404, f"the server could not find the requested resource ({path})")
        return found

    if parts[0] == "namespaces" and len(parts) >= 3:
        ns, rest = parts[1], parts[2:]
        target = kind(rest[0])
        if not target.namespaced or len(rest) > 3:
            raise ApiError(404, f"the server could not find the requested resource ({path})")
        return _Route(target, ns, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)
    target = kind(parts[0])
    if len(parts) == 1:
        return _Route(target, None)
    if target.namespaced or len(parts) > 2:
        raise ApiError(404, f"the server could not find the requested resource ({path})")
    return _Route(target, None, parts[1])


class KubeApiServer:
    """The threaded HTTP server; see the module docstring for the API."""

    def __init__(self, host: str = LOOPBACK, port: int = 0, *, token: str | None = None,
                 auto_ready: bool = True, tls: bool = False, history: int = 10_000) -> None:
        self._host, self._port = host, port
        self._token = token
        self._tls = tls
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self.certificate: ServerCertificate | None = None
        self.auto_ready = auto_ready
        self._lock = threading.RLock()
        self._revision = 0
        self._started = _now()  # the node's creation and Ready time
        self._objects: dict[Key, JSON] = {}
        self._owners: dict[Key, ssa.Owners] = {}  # each object's leaf fields by field manager (`kube_apply`)
        self._last_stamp = 0  # the last Event name's time stamp (`_event_stamp`)
        self._history: dict[Key, list[Revision]] = {}  # each Deployment's pod templates (`kube_pods.next_history`)
        self._events = EventLog(self._lock, capacity=history)  # write events kept for watches
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
        if self._tls:
            self._tls_dir = tempfile.TemporaryDirectory(prefix="kube-api-tls-")
            self.certificate = issue(Path(self._tls_dir.name), hosts=(self._host, "localhost"))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certificate.cert, self.certificate.key)
            # The handshake runs in each request's thread (Handler.setup), never in the accepting one.
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._server.serve_forever, name="kube-api", daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging requests and watches, stop serving, close the socket and join the thread."""
        self._stopping.set()
        self._events.wake()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
            self._tls_dir, self.certificate = None, None

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
        return f"{'https' if self._tls else 'http'}://{self._host}:{self.port}"

    def write_kubeconfig(self, path: Path, *, namespace: str | None = None) -> Path:
        """A kubeconfig for kubectl pointing at this server (with its token and CA, when it has them)."""
        ca = self.certificate.ca if self.certificate is not None else None
        return write_kubeconfig(path, self.url, token=self._token, namespace=namespace, certificate_authority=ca)

    # ------------------------------------------------------------------ seeding and inspection

    def add_namespace(self, name: str) -> JSON:
        with self._lock:
            key = (NAMESPACES.resource, "", name)
            if key not in self._objects:
                self._create(NAMESPACES, None, {"metadata": {"name": name}})
            return copy.deepcopy(self._objects[key])

    def add_deployment(self, namespace: str, name: str, replicas: int = 1, *, cpu: str | None = "100m",
                       memory: str | None = "128Mi", image: str = "registry.local/app:1",
                       labels: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> JSON:
        """Create a Deployment (and its namespace) directly in the store; returns the stored object.

        `cpu`/`memory` are the container's requests; `limits` (none by default) its limits. The
        apiserver's validation applies: a request above its limit raises ApiError 422.
        """
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
                    "spec": {"containers": [_container(name, image, cpu, memory, limits)]},
                },
            },
        }
        with self._lock:
            self.add_namespace(namespace)
            return copy.deepcopy(self._create(DEPLOYMENTS, namespace, validated(DEPLOYMENTS, namespace, body, None)))

    def deployment(self, namespace: str, name: str) -> JSON | None:
        with self._lock:
            obj = self._objects.get((DEPLOYMENTS.resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def replicas(self, namespace: str, name: str) -> int | None:
        obj = self.deployment(namespace, name)
        return None if obj is None else int(obj["spec"].get("replicas", 1))

    def set_replicas(self, namespace: str, name: str, replicas: int) -> JSON:
        """Scale as another writer would (kubectl, an HPA): the object's resourceVersion moves on."""
        with self._lock:
            obj = self._require(DEPLOYMENTS, namespace, name)
            updated = copy.deepcopy(obj)
            updated["spec"]["replicas"] = replicas
            return copy.deepcopy(self._write(DEPLOYMENTS, obj, updated))

    def set_ready(self, namespace: str, name: str, ready: int) -> None:
        """Move the Deployment's readiness, as its pods would (use with auto_ready=False)."""
        with self._lock:
            obj = self._require(DEPLOYMENTS, namespace, name)
            updated = copy.deepcopy(obj)
            updated["status"] = self._status_for(obj, obj, ready)
            self._store(DEPLOYMENTS, "MODIFIED", updated)

    def objects(self, resource: str) -> list[JSON]:
        """Copies of the stored objects of one resource (`events`, `leases`), in namespace and name order."""
        with self._lock:
            return [copy.deepcopy(obj) for (kind, _, _), obj in sorted(self._objects.items()) if kind == resource]

    def lease(self, namespace: str, name: str) -> JSON | None:
        with self._lock:
            obj = self._objects.get((LEASES.resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    @property
    def revision(self) -> int:
        with self._lock:
            return self._revision

    def compact(self) -> None:
        """Forget the watch history up to now: a watch from an older resourceVersion gets 410 Expired."""
        with self._lock:
            self._events.compact(self._revision)

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
        """Requests being served right now (a hanging one counts until it is released; so does a watch)."""
        with self._lock:
            return self._in_flight

    def _enter(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    # ------------------------------------------------------------------ request handling

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
               body: Any, accept: str | None = None,
               user_agent: str | None = None) -> tuple[int, JSON | _Text | _Watch, dict[str, str]]:
        """Serve one parsed request: status, payload and extra headers; raises ApiError for Status answers."""
        request = _Request(method, path, query, body, {"Content-Type": content_type, "Accept": accept,
                                                       "User-Agent": user_agent})
        if path in ("/healthz", "/readyz", "/livez"):  # the apiserver's health checks answer text, not JSON
            if method != "GET":
                raise self._not_allowed(method)
            return 200, _Text("ok"), {}
        discovery = self._discovery(request)
        if discovery is not None:
            return 200, discovery, {}
        route = _route(path)
        if route is None:
            raise ApiError(404, f"the server could not find the requested resource ({method} {path})")
        if route.kind in DERIVED and method != "GET":
            raise self._not_allowed(method)
        if method == "GET" and route.name is None and is_watch(query) and route.kind not in REVIEWS:
            return 200, self._watch(route, request), {}
        payload: JSON | _Text
        if route.kind in REVIEWS:
            code, payload = self._review(route, request)
        else:
            with self._lock:
                code, payload = self._dispatch(route, request)
        headers = {}
        if request.warnings:  # RFC 7234 warn-code 299, as the apiserver sends them
            headers["Warning"] = ", ".join('299 - "' + w.replace('"', '\\"') + '"' for w in request.warnings)
        return code, payload, headers

    def _discovery(self, request: _Request) -> JSON | None:
        path = request.path
        if path == "/version":
            return dict(VERSION)
        found: JSON | None = None
        if path == "/api":
            found = resources.api_versions(f"{self._host}:{self.port}")
        elif path == "/apis":
            found = resources.api_group_list()
        elif path == "/api/v1":
            found = resources.resource_list("", "v1")
        elif path == "/openapi/v3":
            found = resources.openapi_v3_root()
        elif (match := re.fullmatch(r"/openapi/v3/(?:api/(v1)|apis/([^/]+)/([^/]+))", path)) is not None:
            group, version = ("", "v1") if match[1] else (match[2], match[3])
            found = resources.openapi_v3(group, version)
            if found is None:
                raise ApiError(404, f"the server could not find the requested resource ({path})")
        elif (match := re.fullmatch(r"/apis/([^/]+)", path)) is not None:
            found = resources.api_group(match[1])
            if found is None:
                raise ApiError(404, f"the server could not find the requested resource ({path})")
        elif (match := re.fullmatch(r"/apis/([^/]+)/([^/]+)", path)) is not None:
            found = resources.resource_list(match[1], match[2])
            if found is None:
                raise ApiError(404, f"the server could not find the requested resource ({path})")
        if found is not None and request.method != "GET":
            raise self._not_allowed(request.method)
        return found

    def _dispatch(self, route: _Route, request: _Request) -> tuple[int, JSON | _Text]:
        kind, method = route.kind, request.method
        ns = route.namespace or ""
        if route.name is None:
            if method == "GET":
                page, meta = self._page(self._matching(kind, route.namespace, request.query), request.query)
                items = [copy.deepcopy(obj) for obj in page]  # only the page: a list of 30,000 is read in 60
                if request.table:
                    table = resources.table(kind, items, meta["resourceVersion"], include_object=request.include_object)
                    table["metadata"].update({k: v for k, v in meta.items() if k != "resourceVersion"})
                    return 200, table
                return 200, {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": meta,
                             "items": items}
            if method == "POST" and (route.namespace is not None or not kind.namespaced):
                if kind.namespaced:
                    self._require(NAMESPACES, "", ns)
                obj = validated(kind, route.namespace, self._decoded(kind, request.body, request), None)
                return 201, copy.deepcopy(self._create(kind, route.namespace, obj, manager=request.manager(),
                                                       dry_run=request.dry_run))
            raise self._not_allowed(method)
        name = route.name
        if route.subresource is not None:
            if kind is PODS:
                return self._pod_log(route, request)
            return self._status(route, request) if route.subresource == "status" else self._scale(route, request)
        if method == "GET":
            return 200, request.shown(kind, copy.deepcopy(self._require(kind, ns, name)))
        if method == "DELETE":
            current = self._require(kind, ns, name)
            wanted = request.delete_options.get("preconditions") or {}
            for key, field_name in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                if wanted.get(key) not in (None, current["metadata"].get(key)):
                    raise ApiError(409, f'Operation cannot be fulfilled on {kind.group_name} "{name}": '
                                   f"Precondition failed: {field_name} in precondition: {wanted[key]}, "
                                   f"{field_name} in object meta: {current['metadata'].get(key)}",
                                   details={"name": name, "group": kind.group, "kind": kind.resource})
            if not request.dry_run:
                self._delete(kind, ns, name)
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": {"name": name, "group": kind.group, "kind": kind.resource}}
        if method == "PATCH" and ssa.is_apply(request.content_type):
            return self._apply(kind, route, request)
        current = self._require(kind, ns, name)
        if method == "PUT":
            updated = validated(kind, route.namespace, self._decoded(kind, request.body, request), current)
        elif method == "PATCH":
            patched = self._decoded(kind, self._patched(current, request), request)
            updated = validated(kind, route.namespace, patched, current)
        else:
            raise self._not_allowed(method)
        return 200, copy.deepcopy(updated if request.dry_run else
                                  self._write(kind, current, updated, manager=request.manager()))

    def _review(self, route: _Route, request: _Request) -> tuple[int, JSON]:
        """A self-subject review (`kube_access`): only created, answered at once, never stored."""
        if request.method != "POST" or route.name is not None:
            raise self._not_allowed(request.method)
        body = self._decoded(route.kind, request.body, request)
        return 201, kube_access.review(route.kind, body, authenticated=self._token is not None)

    def _apply(self, kind: Kind, route: _Route, request: _Request) -> tuple[int, JSON]:
        """Server-side apply: create the object, or merge the applied fields into it, refusing fields
        another field manager owns with another value unless `force=true` (`kube_apply`)."""
        ns, name = route.namespace or "", str(route.name)
        name_of_manager = request.query.get("fieldManager", [""])[0]
        if not name_of_manager:
            raise ApiError(400, "PATCH, fieldManager is required for apply requests")
        manager: ssa.Owner = (name_of_manager, "Apply", "")
        force = request.query.get("force", ["false"])[0].lower() == "true"
        applied = self._decoded(kind, ssa.decode(request.body), request)
        if not isinstance(applied, dict):
            raise ApiError(400, f"the body of a {kind.kind} apply must be an object")
        if body_name(applied, kind) != name:
            raise ApiError(400, f"the name of the object ({body_name(applied, kind)}) does not match the name on "
                           f"the URL ({name})")
        key: Key = (kind.resource, ns if kind.namespaced else "", name)
        current = self._objects.get(key)
        if current is None:
            if kind.namespaced:
                self._require(NAMESPACES, "", ns)
            obj = validated(kind, route.namespace, applied, None)
            return 201, copy.deepcopy(obj if request.dry_run else
                                      self._create(kind, route.namespace, obj, manager=manager))
        fields = ssa.check_conflicts(self._owners.get(key, {}), current, applied, manager, kind.api_version,
                                     force=force)
        merged = strategic_merge_patch(current, applied)
        if not (applied.get("metadata") or {}).get("resourceVersion"):
            merged["metadata"].pop("resourceVersion", None)  # an apply is a precondition only when it names one
        updated = validated(kind, route.namespace, merged, current)
        if request.dry_run:
            updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return 200, copy.deepcopy(updated)
        stored = self._write(kind, current, updated, manager=manager)
        ssa.claim(self._owners.setdefault(key, {}), fields, manager)
        return 200, copy.deepcopy(stored)

    def _pod_log(self, route: _Route, request: _Request) -> tuple[int, _Text]:
        """`GET .../pods/<name>/log` (`kubectl logs`): the container's output as text (`kube_pods.log_of`)."""
        if route.subresource != "log" or route.name is None:
            raise ApiError(404, f"the server could not find the requested resource ({request.path})")
        pod = self._require(PODS, route.namespace or "", route.name)
        return 200, _Text(log_of(pod, request.query.get("container", [None])[0]))

    def _status(self, route: _Route, request: _Request) -> tuple[int, JSON]:
        """`deployments/{name}/status` (`kubectl get --subresource=status`): the whole Deployment on a GET; a
        PUT or PATCH changes its status only (what it says of the spec or metadata is dropped, as the
        apiserver's status strategy drops it), with the same resourceVersion precondition as any write."""
        if route.kind is not DEPLOYMENTS or route.name is None:
            raise ApiError(404, f"the server could not find the requested resource ({request.path})")
        ns, name, method = route.namespace or "", route.name, request.method
        current = self._require(DEPLOYMENTS, ns, name)
        if method == "GET":
            return 200, request.shown(DEPLOYMENTS, copy.deepcopy(current))
        if method == "PUT":
            sent = self._decoded(DEPLOYMENTS, request.body, request)
        elif method == "PATCH":
            sent = self._decoded(DEPLOYMENTS, self._patched(current, request), request)
        else:
            raise self._not_allowed(method)
        if not isinstance(sent, dict) or not isinstance(sent.get("status", {}), dict):
            raise ApiError(400, f"the body of a {DEPLOYMENTS.kind} status update must be an object")
        _check_version(DEPLOYMENTS, current, sent)
        updated = copy.deepcopy(current)
        updated["status"] = copy.deepcopy(sent.get("status") or {})
        if request.dry_run or updated == current:
            return 200, updated
        return 200, copy.deepcopy(self._store(DEPLOYMENTS, "MODIFIED", updated))

    def _scale(self, route: _Route, request: _Request) -> tuple[int, JSON]:
        if route.kind is not DEPLOYMENTS or route.subresource != "scale" or route.name is None:
            raise ApiError(404, f"the server could not find the requested resource ({request.path})")
        ns, name, method = route.namespace or "", route.name, request.method
        current = self._require(DEPLOYMENTS, ns, name)
        if method == "GET":
            return 200, request.shown(resources.SCALE, self._scale_of(current))  # also `get --subresource=scale`
        if method == "PUT":
            scale = request.body
        elif method == "PATCH":
            scale = self._patched(self._scale_of(current), request)
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
        if request.dry_run:
            return 200, self._scale_of(updated)
        return 200, self._scale_of(self._write(DEPLOYMENTS, current, updated, manager=request.manager("scale")))

    def _watch(self, route: _Route, request: _Request) -> _Watch:
        """Events after the request's resourceVersion (or the current objects as ADDED, then new events).

        Rendered as the client asked (objects, or one-row Tables for kubectl); a resourceVersion older
        than the kept history is one ERROR event with a 410 Expired Status, as the apiserver sends it.
        """
        kind, wanted = route.kind, selector(request.query, route.kind.field_labels)
        since = request.query.get("resourceVersion", [""])[0]
        if since and not since.isdigit():
            raise ApiError(400, f"invalid resource version {since!r}")
        try:
            timeout = float(request.query.get("timeoutSeconds", [WATCH_TIMEOUT_SECONDS])[0])
        except ValueError:
            raise ApiError(400, "timeoutSeconds must be a number of seconds") from None

        def render(event_type: str, obj: JSON) -> JSON:
            return {"type": event_type, "object": request.shown(kind, obj)}

        def relevant(event: WatchEvent) -> bool:
            return (event.resource == kind.resource
                    and (route.namespace is None or event.namespace == route.namespace)
                    and wanted(event.object))

        def stream(gone: Callable[[], bool]) -> Generator[JSON, None, None]:
            with self._lock:
                if since in ("", "0"):
                    start = self._revision
                    initial = [render("ADDED", obj) for obj in self._items(kind, route.namespace, request.query)]
                else:
                    start, initial = int(since), []
                    try:
                        self._events.after(start)
                    except ApiError as exc:
                        initial, start = [{"type": "ERROR", "object": exc.status()}], -1
            yield from initial
            if start < 0:
                return
            deadline = time.monotonic() + timeout
            try:
                for event in follow(self._events, start, relevant, deadline=deadline, stopping=self._stopping,
                                    gone=gone, clock=time.monotonic):
                    yield render(event.type, event.object)
            except ApiError as exc:  # the watcher fell behind the kept history: it must relist
                yield {"type": "ERROR", "object": exc.status()}

        return _Watch(stream)

    # ------------------------------------------------------------------ store operations (under the lock)

    @staticmethod
    def _not_allowed(method: str) -> ApiError:
        return ApiError(405, f"the server does not allow this method on the requested resource ({method})")

    def _matching(self, kind: Kind, ns: str | None, query: dict[str, list[str]]) -> list[JSON]:
        """The stored objects a list selects, in key order (not copies: callers copy what they answer);
        Pods are derived from the Deployments (`kube_pods`)."""
        wanted = selector(query, kind.field_labels)
        if kind is NODES:
            return [obj for obj in [node(self._started, VERSION["gitVersion"])] if wanted(obj)]
        if kind is SERVICES:
            return []  # nothing is exposed
        if kind in DERIVED:
            deployments = self._matching(DEPLOYMENTS, ns, {})
            derived = pods(deployments) if kind is PODS else replica_sets(deployments, self._history_of)
            return sorted((obj for obj in derived if wanted(obj)),
                          key=lambda obj: (obj["metadata"]["namespace"], obj["metadata"]["name"]))
        return [obj for (resource, obj_ns, _), obj in sorted(self._objects.items())
                if resource == kind.resource and (ns is None or obj_ns == ns) and wanted(obj)]

    def _items(self, kind: Kind, ns: str | None, query: dict[str, list[str]]) -> list[JSON]:
        return [copy.deepcopy(obj) for obj in self._matching(kind, ns, query)]

    def _page(self, items: list[JSON], query: dict[str, list[str]]) -> tuple[list[JSON], JSON]:
        """`limit` and `continue` as the apiserver pages a list: at most `limit` items, and while more are
        left, a `continue` token for the next page and `remainingItemCount`. The token carries the list's
        resourceVersion, which every page reports; the items of later pages are those after the last
        one returned as they are now (the apiserver serves them from that revision's snapshot)."""
        try:
            limit = int(query.get("limit", ["0"])[0] or 0)
        except ValueError:
            raise ApiError(400, "limit must be an integer") from None
        if limit < 0:
            raise ApiError(400, "limit must be 0 (no limit) or more")
        revision, after = str(self._revision), None
        token = query.get("continue", [""])[0]
        if token:
            try:
                revision, namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
                after = (str(namespace), str(name))
                int(revision)
            except (ValueError, TypeError):
                raise ApiError(400, f"continue key is not valid: {token!r}") from None
        if after is not None:
            items = [item for item in items if _list_key(item) > after]
        meta: JSON = {"resourceVersion": revision}
        if 0 < limit < len(items):
            items, left = items[:limit], len(items) - limit
            last = _list_key(items[-1])
            meta["continue"] = base64.urlsafe_b64encode(json.dumps([revision, *last]).encode()).decode()
            meta["remainingItemCount"] = left
        return items, meta

    def _require(self, kind: Kind, ns: str, name: str) -> JSON:
        if kind in DERIVED:
            obj = next((found for found in self._matching(kind, ns, {}) if found["metadata"]["name"] == name), None)
        else:
            obj = self._objects.get((kind.resource, ns if kind.namespaced else "", name))
        if obj is None:
            details: JSON = {"name": name, "kind": kind.resource}
            if kind.group:
                details["group"] = kind.group
            raise ApiError(404, f'{kind.group_name} "{name}" not found', details=details)
        return obj

    def _store(self, kind: Kind, event: str, obj: JSON) -> JSON:
        """Keep `obj` under a new revision and record the write as a watch event."""
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        ns = obj["metadata"].get("namespace", "") if kind.namespaced else ""
        key = (kind.resource, ns, obj["metadata"]["name"])
        before = self._objects.get(key)
        earlier = self._history.get(key, [])
        if kind is DEPLOYMENTS:  # the deployment controller's revision, on the Deployment and its ReplicaSets
            self._history[key] = next_history(earlier, obj, _now())
            obj["metadata"].setdefault("annotations", {})[REVISION] = str(self._history[key][-1].number)
        self._objects[key] = obj
        self._events.append(WatchEvent(self._revision, event, kind.resource, ns, copy.deepcopy(obj)))
        if kind is DEPLOYMENTS:
            self._scaling_events(obj, *self._derived_events(before, obj, ns, earlier))
        return obj

    def _scaling_events(self, after: JSON, old_sets: dict[str, JSON], new_sets: dict[str, JSON]) -> None:
        """The deployment controller's `ScalingReplicaSet` Events for each ReplicaSet a Deployment's write
        scales (its new one up first, then the old ones down), as `kubectl describe deploy` and `kubectl get
        events` show them on a cluster. `old_sets` and `new_sets` are its ReplicaSets by name before and
        after the write (`_derived_events`)."""
        old = {name: int(rs["spec"]["replicas"]) for name, rs in old_sets.items()}
        new = {name: int(rs["spec"]["replicas"]) for name, rs in new_sets.items()}
        changes = [(name, old.get(name, 0), count) for name, count in new.items() if count != old.get(name, 0)]
        meta, now = after["metadata"], _now()
        for name, was, count in sorted(changes, key=lambda change: change[2] < change[1]):  # ups, then downs
            event = {
                "metadata": {"name": f"{meta['name']}.{self._event_stamp():x}", "namespace": meta["namespace"]},
                "involvedObject": {"kind": "Deployment", "namespace": meta["namespace"], "name": meta["name"],
                                   "uid": meta["uid"], "apiVersion": "apps/v1",
                                   "resourceVersion": meta["resourceVersion"]},
                "reason": "ScalingReplicaSet", "type": "Normal", "count": 1,
                "message": f"Scaled {'up' if count > was else 'down'} replica set {name} from {was} to {count}",
                "source": {"component": "deployment-controller"}, "reportingComponent": "deployment-controller",
                "reportingInstance": "", "firstTimestamp": now, "lastTimestamp": now, "eventTime": None,
            }
            self._create(EVENTS, meta["namespace"], event)

    def _event_stamp(self) -> int:
        """An Event name's suffix, as client-go's recorder makes it: the time in nanoseconds, so events list
        (in name order) in the order they happened; never the same twice."""
        self._last_stamp = max(time.time_ns(), self._last_stamp + 1)
        return self._last_stamp

    def _history_of(self, deployment: JSON) -> list[Revision]:
        meta = deployment["metadata"]
        return self._history.get((DEPLOYMENTS.resource, meta.get("namespace") or "", meta["name"]), [])

    def _derived_events(self, before: JSON | None, after: JSON | None, ns: str,
                        earlier: list[Revision]) -> tuple[dict[str, JSON], dict[str, JSON]]:
        """The changes a Deployment's write makes to its ReplicaSets and pods, as watch events of the write's
        revision (as the deployment controller and the kubelet would write them), so `kubectl get pods -w`
        sees pods come and go; a pod that only took the new resourceVersion did not change. `earlier` is
        the Deployment's revisions before the write. Answers its ReplicaSets by name before and after the
        write (for `_scaling_events`, so a write derives them once)."""
        def unversioned(obj: JSON) -> JSON:
            return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}}

        def sets_before(deployments: list[JSON]) -> list[JSON]:
            return replica_sets(deployments, lambda _: earlier)

        def sets_after(deployments: list[JSON]) -> list[JSON]:
            return replica_sets(deployments, self._history_of)

        replica_set_changes: tuple[dict[str, JSON], dict[str, JSON]] = ({}, {})
        for kind, derive_old, derive_new in ((REPLICASETS, sets_before, sets_after), (PODS, pods, pods)):
            old = {o["metadata"]["name"]: o for o in derive_old([before] if before is not None else [])}
            new = {o["metadata"]["name"]: o for o in derive_new([after] if after is not None else [])}
            if kind is REPLICASETS:
                replica_set_changes = old, new
            for name, obj in new.items():
                if name in old and unversioned(old[name]) == unversioned(obj):
                    continue
                self._events.append(WatchEvent(self._revision, "MODIFIED" if name in old else "ADDED",
                                               kind.resource, ns, obj))
            for name in old.keys() - new.keys():
                gone = copy.deepcopy(old[name])
                gone["metadata"]["resourceVersion"] = str(self._revision)
                self._events.append(WatchEvent(self._revision, "DELETED", kind.resource, ns, gone))
        return replica_set_changes

    def _create(self, kind: Kind, ns: str | None, body: JSON, *, manager: ssa.Owner | None = None,
                dry_run: bool = False) -> JSON:
        """Store a new object; with `dry_run`, the object as it would be stored, after the same checks (a
        name that exists is 409 AlreadyExists in a dry run too)."""
        name = body_name(body, kind)
        if (kind.resource, ns or "", name) in self._objects:
            details: JSON = {"name": name, "kind": kind.resource}
            if kind.group:
                details["group"] = kind.group
            raise ApiError(409, f'{kind.group_name} "{name}" already exists', reason="AlreadyExists",
                           details=details)
        obj = copy.deepcopy(body)
        obj["kind"], obj["apiVersion"] = kind.kind, kind.api_version
        meta = obj.setdefault("metadata", {})
        meta["name"] = name
        if kind.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        if kind is DEPLOYMENTS:
            meta["generation"] = 1
            obj["spec"].setdefault("replicas", 1)
            obj["status"] = self._status_for(obj, None)
        elif kind is NAMESPACES:
            obj["status"] = {"phase": "Active"}
        if dry_run:
            return obj
        if manager is not None:
            ssa.record(self._owners.setdefault((kind.resource, ns or "", name), {}), None, obj, manager)
        return self._store(kind, "ADDED", obj)

    def _write(self, kind: Kind, current: JSON, updated: JSON, *, manager: ssa.Owner | None = None) -> JSON:
        """Replace `current` by `updated` if the caller's resourceVersion (when given) is still current;
        `manager` (a client's write, not this object's own helpers) owns the fields it changed."""
        meta = current["metadata"]
        _check_version(kind, current, updated)
        obj = copy.deepcopy(updated)
        new_meta = obj["metadata"]
        for immutable in ("uid", "creationTimestamp", "name", "namespace"):
            if immutable in meta:
                new_meta[immutable] = meta[immutable]
        if kind is DEPLOYMENTS:
            obj["spec"].setdefault("replicas", 1)
            changed = obj["spec"] != current["spec"]
            new_meta["generation"] = meta.get("generation", 1) + (1 if changed else 0)
            obj["status"] = self._status_for(obj, current)
        elif kind is NAMESPACES:
            obj["status"] = current.get("status", {"phase": "Active"})
        if manager is not None:
            key = (kind.resource, new_meta.get("namespace", "") if kind.namespaced else "", new_meta["name"])
            ssa.record(self._owners.setdefault(key, {}), current, obj, manager)
        return self._store(kind, "MODIFIED", obj)

    def _delete(self, kind: Kind, ns: str, name: str) -> None:
        """Remove the object (a namespace with everything in it), each removal a DELETED event."""
        doomed = [(kind.resource, ns if kind.namespaced else "", name)]
        if kind is NAMESPACES:
            doomed = [key for key in self._objects if key[0] != NAMESPACES.resource and key[1] == name] + doomed
        for key in doomed:
            obj = self._objects.pop(key)
            self._owners.pop(key, None)
            self._revision += 1
            if key[0] == DEPLOYMENTS.resource:
                self._derived_events(obj, None, key[1], self._history.pop(key, []))
            obj["metadata"]["resourceVersion"] = str(self._revision)
            self._events.append(WatchEvent(self._revision, "DELETED", key[0], key[1], obj))

    def _status_for(self, obj: JSON, current: JSON | None, ready: int | None = None) -> JSON:
        """The status the Deployment controller would settle on: counts, and its two conditions."""
        replicas = int(obj["spec"].get("replicas", 1))
        previous = (current or {}).get("status") or {}
        if ready is None:
            ready = replicas if self.auto_ready else int(previous.get("readyReplicas", 0))
        status: JSON = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        if ready < replicas:
            status["unavailableReplicas"] = replicas - ready
        status["conditions"] = deployment_conditions(obj, replicas, ready, previous.get("conditions") or [], _now())
        return status

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
    def _decoded(kind: Kind, body: Any, request: _Request) -> Any:
        """The body as the apiserver's decoder keeps it: fields its type lacks are dropped with a warning
        (`fieldValidation=Warn`, the default), dropped silently (`Ignore`) or refused (`Strict`, 400)."""
        if not isinstance(body, dict):
            return body
        kept, unknown = strip_unknown(body, kind.kind, kind.version)
        if not unknown:
            return body
        mode = request.query.get("fieldValidation", ["Warn"])[0]
        messages = [f'unknown field "{u.path}"' for u in unknown]
        if mode == "Strict":
            raise ApiError(400, f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                           f"strict decoding error: {', '.join(messages)}")
        if mode != "Ignore":
            request.warnings.extend(messages)
        return kept

    @staticmethod
    def _patched(current: JSON, request: _Request) -> Any:
        patched = apply_patch(current, request.content_type, request.body)
        body = request.body
        if isinstance(patched, dict) and isinstance(body, dict) and \
                "resourceVersion" not in (body.get("metadata") or {}):
            # A patch only carries a precondition when it names a resourceVersion itself.
            patched.setdefault("metadata", {}).pop("resourceVersion", None)
        return patched


def _hung_up(connection: socket.socket) -> Callable[[], bool]:
    """Whether the client closed its end (readable with nothing to read), checked without blocking.

    A watch's client sends nothing after its request, so over TLS the check may read (and drop) what
    arrives: a close_notify reads as b"", a partial record as "not yet".
    """

    def check() -> bool:
        try:
            pending = isinstance(connection, ssl.SSLSocket) and connection.pending() > 0
            readable, _, _ = select.select([connection], [], [], 0)
            if not readable and not pending:
                return False
            if not isinstance(connection, ssl.SSLSocket):
                return connection.recv(1, socket.MSG_PEEK) == b""
            connection.setblocking(False)
            try:
                return connection.recv(1) == b""
            except ssl.SSLWantReadError:
                return False
            finally:
                connection.setblocking(True)
        except (OSError, ValueError):
            return True

    return check


class _Handler(BaseHTTPRequestHandler):
    """Parses HTTP, applies faults and auth, and writes JSON, Status or watch answers; the server does the rest."""

    api: KubeApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    # Headers and body go out in two writes; with Nagle's algorithm and delayed ACKs each keep-alive
    # request would then wait ~40 ms for the body.
    disable_nagle_algorithm = True
    server_version = "tenantops-kube-api"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; the request log is the record."""

    def setup(self) -> None:
        """Over TLS, shake hands here, in the request's own thread, so a slow client holds up no one else."""
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError):
            self.close_connection = True  # a client that failed the handshake or went away mid-request

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

    def _raw_body(self) -> bytes:
        """The body as sent with Content-Length or, as kubectl sends it, `Transfer-Encoding: chunked`."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ApiError(400, "malformed chunked request body") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)  # the CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_body(self) -> Any:
        raw = self._raw_body()
        if not raw:
            return None
        if ssa.is_apply(self.headers.get("Content-Type")):
            return ssa.decode(raw)  # JSON, or YAML: the content type allows either
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
        payload: JSON | _Text | _Watch
        self.api._enter(1)
        try:
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
                    raise ApiError(code, f"injected fault: {code} {REASONS.get(code, '')}".strip(),
                                   headers=headers)
                code, payload, extra = self.api.handle(method, path, query, content_type, body,
                                                       self.headers.get("Accept"), self.headers.get("User-Agent"))
                headers.update(extra)
            except ApiError as exc:
                code, payload = exc.code, exc.status()
                headers.update(exc.headers)
            except Exception as exc:  # a bug in the stand-in must still answer, as an apiserver would
                code, payload = 500, ApiError(500, f"internal error: {exc!r}").status()
            self.api._record(RequestRecord(method, path, query, content_type, body, code, datetime.now(UTC)))
            if isinstance(payload, _Watch):
                self._stream(payload)
            else:
                self._respond(code, payload, headers)
        finally:
            self.api._enter(-1)

    def _respond(self, code: int, payload: JSON | _Text, headers: dict[str, str]) -> None:
        text = isinstance(payload, _Text)
        data = payload.text.encode() if isinstance(payload, _Text) else json.dumps(payload).encode()
        try:
            self.send_response(code, HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else None)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout); nothing to answer

    def _stream(self, watch: _Watch) -> None:
        """One JSON event per line, each its own chunk, until the watch ends; then the last chunk."""
        events = watch.stream(_hung_up(self.connection))
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            for event in events:
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            events.close()


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted, optionally seeded with `namespace/deployment=replicas` entries."""
    parser = argparse.ArgumentParser(description="A small Kubernetes API server (Deployments, scale, Leases).")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=0, help="0 = a free port (printed)")
    parser.add_argument("--seed", action="append", default=[], metavar="NS/NAME=REPLICAS")
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for kubectl pointing here")
    parser.add_argument("--token", help="demand this bearer token (kubectl sends one only with --tls)")
    parser.add_argument("--tls", action="store_true", help="serve https with a throwaway CA (in the kubeconfig)")
    args = parser.parse_args(argv)
    server = KubeApiServer(args.host, args.port, token=args.token, tls=args.tls)
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
        signal.signal(sig, lambda *_: from_signal(done.set))
    print(server.url, flush=True)
    if args.kubeconfig is not None:
        server.write_kubeconfig(args.kubeconfig)
        print(f"export KUBECONFIG={args.kubeconfig}", flush=True)
    try:
        done.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
