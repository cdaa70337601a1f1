"""Applies right-sizing patches: per-pod CPU and memory requests of a tenant's Deployment.

One strategic-merge patch of the pod template per Deployment, naming the container, so other
containers, limits and every other field are left alone. The patch carries the resourceVersion of the
read it was computed from: if someone changed the Deployment in between, the server answers 409 and
the patch is recomputed from a fresh read instead of overwriting a change it never saw. Writing the
same requests twice makes no second write (idempotent), and a dry run reads but never writes.

With several containers in the pod, the pod's recommended request is split between them in
proportion to their current requests (the usage history is per pod, not per container), and each
container is then checked on its own: the API server refuses a container whose request exceeds its
limit (422), so where a new request would, the limit is raised by the same factor as the request
(`RequestPatch.raise_limits`), or else the request is capped at the limit and the outcome says so. No
request or raised limit goes past the namespace's per-container maximum (`RequestPatch.ceilings`, the
tier's LimitRange `max`), which the API server enforces on every new pod.
Quantities are read with the Kubernetes client's parser (`.5`, `1e3`, `1Pi` are all valid); a value
that still cannot be read fails that patch with the reason instead of raising.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenantops.act.base import OutcomeStatus
from tenantops.act.kubeclient import KubeTarget, api_client
from tenantops.act.retry import CallCounter, spent_detail
from tenantops.config.kinds.common import parse_quantity
from tenantops.quantities import quantity
from tenantops.structs.requests import RequestPatch

log = logging.getLogger(__name__)

FIELD_MANAGER = "tenantops"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"


@dataclass(frozen=True, slots=True)
class PatchOutcome:
    patch: RequestPatch
    status: OutcomeStatus
    before: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # container -> requests read
    after: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # container -> requests written
    detail: str = ""
    attempts: int = 1
    limits: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # container -> limits written
    capped: tuple[str, ...] = ()  # requests held at their limit because the limit may not be raised
    uid: str | None = None  # the Deployment's, when it was read (what its Kubernetes Events name)


def _same(resource: str, a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    try:
        return abs(parse_quantity(a) - parse_quantity(b)) <= (1e-3 if resource == "cpu" else 1.0)
    except ValueError:
        return False


def _resources(container: Any, kind: str) -> dict[str, str]:
    resources = container.resources
    values = getattr(resources, kind, None) if resources is not None else None
    return {str(k): str(v) for k, v in (values or {}).items()}


def split_requests(
    containers: Iterable[Any], workload: str, wanted: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """Per-container requests that sum to the pod-level `wanted` values.

    One container, or one named like the workload: it gets everything. Otherwise each container gets a
    share proportional to its current request of that resource (equal shares when none is set).
    """
    items = list(containers)
    names = [str(c.name) for c in items]
    if len(items) == 1 or workload in names:
        chosen = names[0] if len(items) == 1 else workload
        return {chosen: dict(wanted)}
    out: dict[str, dict[str, str]] = {name: {} for name in names}
    for resource, text in wanted.items():
        total = parse_quantity(text)
        current = []
        for c in items:
            value = _resources(c, "requests").get(resource)
            current.append(parse_quantity(value) if value else 0.0)
        weights = current if sum(current) > 0 else [1.0] * len(items)
        for name, weight in zip(names, weights, strict=True):
            if weight <= 0:  # a container without a request of this resource keeps having none
                continue
            share = total * weight / sum(weights)
            out[name][resource] = quantity(resource, share)
    return out


def _per_container(containers: Iterable[Any], patch: RequestPatch) -> dict[str, dict[str, str]]:
    """The patch's own per-container requests for the containers the pod has, else the pod's split."""
    items = list(containers)
    names = {str(c.name) for c in items}
    explicit = {n: dict(r) for n, r in patch.containers.items() if n in names}
    return explicit or split_requests(items, patch.workload, patch.requests)


@dataclass(frozen=True, slots=True)
class ContainerChange:
    """What one container gets: its requests, the limits that must move with them, and what was capped."""

    requests: dict[str, str]
    limits: dict[str, str]
    capped: list[str]


def fit_to_limits(containers: Iterable[Any], wanted: Mapping[str, Mapping[str, str]], *,
                  raise_limits: bool, ceilings: Mapping[str, str] | None = None) -> dict[str, ContainerChange]:
    """Each container's new requests kept at or below its limits and the namespace's ceilings (see the
    module docstring).

    A raised limit grows by the factor its request grew (never to less than the request), and never past
    the ceiling; lowering a request leaves its limit alone. A request above the ceiling (the LimitRange's
    per-container `max`) is held at it: the API server would refuse every new pod of the rollout, and the
    Deployment would stall half-rolled. Raises ValueError naming the container for an unreadable quantity.
    """
    by_name = {str(c.name): c for c in containers}
    out: dict[str, ContainerChange] = {}
    for name, requests in wanted.items():
        container = by_name[name]
        old_requests, old_limits = _resources(container, "requests"), _resources(container, "limits")
        change = ContainerChange(dict(requests), {}, [])
        for resource, text in requests.items():
            try:
                new = parse_quantity(text)
                limit = parse_quantity(old_limits[resource]) if resource in old_limits else None
                old = parse_quantity(old_requests[resource]) if resource in old_requests else None
                ceiling_text = (ceilings or {}).get(resource)
                ceiling = parse_quantity(ceiling_text) if ceiling_text is not None else None
            except ValueError as exc:
                raise ValueError(f"container {name}: {resource}: {exc}") from None
            if ceiling is not None and new > ceiling:
                new = ceiling
                change.requests[resource] = str(ceiling_text)
                change.capped.append(f"{name} {resource} request capped at the namespace's per-container maximum "
                                     f"{ceiling_text} (wanted {text})")
            if limit is None or new <= limit:
                continue
            if raise_limits:
                factor = new / old if old else new / limit
                raised = quantity(resource, max(new, limit * factor))  # rounded up to a millicore or a Mi
                # The ceiling as written where the rounded limit would pass it (a 2G ceiling is 1907.3Mi).
                if ceiling is not None and parse_quantity(raised) > ceiling:
                    raised = str(ceiling_text)
                change.limits[resource] = raised
            else:
                change.requests[resource] = old_limits[resource]
                change.capped.append(f"{name} {resource} request capped at its limit {old_limits[resource]} "
                                     f"(wanted {text})")
        out[name] = change
    return out


class RequestsActuator:
    """Reads and patches Deployments' container requests through the official Kubernetes client."""

    def __init__(self, apps: client.AppsV1Api, *, attempts: int = 3, backoff: float = 0.2,
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 10.0) -> None:
        self._apps = apps
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep
        self._timeout = timeout

    @classmethod
    def connect(cls, url: KubeTarget = None, *, token: str | None = None) -> RequestsActuator:
        """From an explicit API URL (TENANTOPS_KUBE_URL), else in-cluster, else the kubeconfig."""
        return cls(client.AppsV1Api(api_client(url, token=token)))

    def close(self) -> None:
        self._apps.api_client.close()

    @property
    def call_deadline(self) -> float:
        """Seconds one `apply` may take at most, what the fence asks the Lease to outlast: every attempt's
        read and patch timing out, with the backoff between attempts. A request is started only while it
        can end within it."""
        backoff = sum(self._backoff * 2.0 ** (n - 1) for n in range(1, self._attempts))
        return float(self._attempts * 2 * self._timeout + backoff)

    def apply(self, patch: RequestPatch, *, dry_run: bool = False) -> PatchOutcome:
        """Read, compare, patch with the read's resourceVersion; never raises for API failures. The outcome
        carries the Deployment's uid from the last read (None when it was never read)."""
        read: dict[str, str | None] = {}
        outcome = self._attempts_of(patch, dry_run, read)
        return replace(outcome, uid=read.get("uid"))

    def _attempts_of(self, patch: RequestPatch, dry_run: bool, read: dict[str, str | None]) -> PatchOutcome:
        attempts = 0
        before: dict[str, dict[str, str]] = {}
        counter = CallCounter.within(self.call_deadline)
        last = ""
        while True:
            attempts += 1
            if not counter.fits(self._timeout):
                return self._done(patch, OutcomeStatus.RETRYABLE, before, {}, spent_detail(last), attempts - 1)
            try:
                deployment = self._apps.read_namespaced_deployment(
                    patch.deployment, patch.namespace, _request_timeout=self._timeout)
                read["uid"] = getattr(deployment.metadata, "uid", None)
                pod_spec = deployment.spec.template.spec if deployment.spec is not None else None
                containers = (pod_spec.containers if pod_spec is not None else None) or []
                if not containers:
                    return self._done(patch, OutcomeStatus.FAILED, {}, {}, "the Deployment has no containers",
                                      attempts)
                before = {str(c.name): _resources(c, "requests") for c in containers}
                try:
                    changes = fit_to_limits(containers, _per_container(containers, patch),
                                            raise_limits=patch.raise_limits, ceilings=patch.ceilings)
                except ValueError as exc:
                    return self._done(patch, OutcomeStatus.FAILED, before, {}, str(exc), attempts)
                wanted = {n: c.requests for n, c in changes.items()}
                limits = {n: c.limits for n, c in changes.items() if c.limits}
                capped = tuple(note for c in changes.values() for note in c.capped)
                now_limits = {str(c.name): _resources(c, "limits") for c in containers}
                if all(_same(r, before.get(n, {}).get(r), q) for n, reqs in wanted.items() for r, q in reqs.items()) \
                        and all(_same(r, now_limits.get(n, {}).get(r), q) for n, lim in limits.items()
                                for r, q in lim.items()):
                    return self._done(patch, OutcomeStatus.UNCHANGED, before, wanted, "requests already as desired",
                                      attempts, limits, capped)
                note = f"; {'; '.join(capped)}" if capped else ""
                if limits:
                    note += f"; limits raised with the requests: {limits}"
                if dry_run:
                    return self._done(patch, OutcomeStatus.DRY_RUN, before, wanted, f"would set {wanted}{note}",
                                      attempts, limits, capped)
                if not counter.fits(self._timeout):
                    return self._done(patch, OutcomeStatus.RETRYABLE, before, {}, spent_detail(last), attempts)
                body = {
                    "metadata": {"resourceVersion": getattr(deployment.metadata, "resource_version", None)},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": name, "resources": {"requests": reqs, **({"limits": limits[name]}
                                                                         if name in limits else {})}}
                        for name, reqs in wanted.items()
                    ]}}},
                }
                self._apps.patch_namespaced_deployment(
                    patch.deployment, patch.namespace, body, field_manager=FIELD_MANAGER,
                    _content_type=STRATEGIC_MERGE, _request_timeout=self._timeout)
                return self._done(patch, OutcomeStatus.APPLIED, before, wanted, f"set {wanted}{note}", attempts,
                                  limits, capped)
            except ApiException as exc:
                status = int(exc.status or 0)
                transient = status in (409, 429) or status >= 500 or status == 0
                if status == 404:
                    return self._done(patch, OutcomeStatus.FAILED, before, {}, "Deployment not found", attempts)
                if not transient:
                    return self._done(patch, OutcomeStatus.FAILED, before, {}, f"HTTP {status} {exc.reason}",
                                      attempts)
                if attempts >= self._attempts:
                    return self._done(patch, OutcomeStatus.RETRYABLE, before, {},
                                      f"HTTP {status} {exc.reason} after {attempts} attempts", attempts)
                last = f"HTTP {status} {exc.reason}"
                if status != 409:  # a conflict needs a fresh read, not a wait
                    self._wait(counter, attempts)
            except (OSError, TimeoutError, urllib3.exceptions.HTTPError) as exc:
                if attempts >= self._attempts:
                    return self._done(patch, OutcomeStatus.RETRYABLE, before, {},
                                      f"{type(exc).__name__}: {exc}"[:300], attempts)
                last = f"{type(exc).__name__}: {exc}"[:300]
                self._wait(counter, attempts)

    def _wait(self, counter: CallCounter, attempts: int) -> None:
        """The backoff before the next attempt, or none when the attempt could not end in time after it
        (the loop then ends the call as retryable)."""
        delay = self._backoff * 2 ** (attempts - 1)
        if counter.fits(delay + self._timeout):
            self._sleep(delay)

    @staticmethod
    def _done(patch: RequestPatch, status: OutcomeStatus, before: Mapping[str, Mapping[str, str]],
              after: Mapping[str, Mapping[str, str]], detail: str, attempts: int,
              limits: Mapping[str, Mapping[str, str]] | None = None, capped: tuple[str, ...] = ()) -> PatchOutcome:
        level = logging.WARNING if status in (OutcomeStatus.FAILED, OutcomeStatus.RETRYABLE) else logging.INFO
        log.log(level, "rightsize: %s %s/%s: %s", status, patch.namespace, patch.deployment, detail,
                extra={"event": f"rightsize.{status}", "tenant": patch.tenant, "workload": patch.workload})
        return PatchOutcome(patch, status, before, after, detail, attempts, dict(limits or {}), capped)
