"""Kubernetes Events for the writes the controller made: what `kubectl describe deploy` and `kubectl get
events` show, as they show the HPA's rescales.

The audit log is the record of every decision; Events are the cluster's own view of the few that changed
a Deployment, where the people who run the cluster look first. One Event per scale write made
(`SuccessfulRescale`, "New size: 4; reason: ...", the HPA's reason and message form) or refused
(`FailedRescale`, Warning), and per right-sizing patch (`SuccessfulUpdateRequests` / `FailedUpdateRequests`),
on the Deployment itself (`involvedObject` with its uid, which `kubectl describe` selects by; the uid is
the one the actuator's own read of the Deployment found, carried on its outcome, so recording an Event is
one call).

Events are best effort and never hold the pass: `EventRecorder.submit` only puts the event on a bounded
queue (dropped and counted when full, as client-go's broadcaster drops), and one daemon thread sends them
with a short timeout. A refused or failed Event is logged without the request's headers and dropped; it is
never retried, and nothing else depends on it. Dry-run passes write nothing, so they record no Event.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenantops.act.base import ActOutcome, OutcomeStatus
from tenantops.act.kubeclient import KubeAccess, api_client
from tenantops.act.requests import PatchOutcome
from tenantops.structs.plan import TargetKind

log = logging.getLogger(__name__)

COMPONENT = "tenantops"
MAX_MESSAGE = 1024  # the apiserver keeps at most 1 KiB of an event's note (events.k8s.io); longer is cut
QUEUE_SIZE = 1000
TIMEOUT_SECONDS = 5.0
FAILED = (OutcomeStatus.FAILED, OutcomeStatus.RETRYABLE)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One Event to record about a Deployment."""

    namespace: str
    name: str  # the Deployment's
    type: str  # Normal or Warning
    reason: str
    message: str
    uid: str | None = None  # the Deployment's, as its actuator read it


def _cut(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def scale_event(outcome: ActOutcome) -> EventSpec | None:
    """The Event of one scale outcome, or None (nothing written, not a Deployment, a dry run)."""
    action = outcome.action
    target = action.target
    if target.kind is not TargetKind.KUBERNETES or not target.namespace:
        return None
    if outcome.status is OutcomeStatus.APPLIED:
        size = outcome.written if outcome.written is not None else action.desired
        return EventSpec(target.namespace, target.name, "Normal", "SuccessfulRescale",
                         _cut(f"New size: {size}; reason: {action.rule}: {action.reason}"), outcome.uid)
    if outcome.status in FAILED:
        return EventSpec(target.namespace, target.name, "Warning", "FailedRescale",
                         _cut(f"New size: {action.desired}; reason: {action.rule}: {action.reason}; "
                              f"error: {outcome.detail or outcome.status.value}"), outcome.uid)
    return None


def _requests(values: Any) -> str:
    return "; ".join(f"{container}: " + ", ".join(f"{k} {v}" for k, v in sorted(dict(req).items()))
                     for container, req in sorted(dict(values).items()))


def patch_event(outcome: PatchOutcome) -> EventSpec | None:
    """The Event of one right-sizing patch outcome, or None (unchanged, a dry run)."""
    patch = outcome.patch
    namespace, name = patch.namespace, patch.deployment
    if not namespace or not name:
        return None
    if outcome.status is OutcomeStatus.APPLIED:
        capped = f"; held at the limit: {', '.join(outcome.capped)}" if outcome.capped else ""
        return EventSpec(namespace, name, "Normal", "SuccessfulUpdateRequests",
                         _cut(f"Requests set: {_requests(outcome.after)} (were {_requests(outcome.before)}){capped}"),
                         outcome.uid)
    if outcome.status in FAILED:
        return EventSpec(namespace, name, "Warning", "FailedUpdateRequests",
                         _cut(f"Requests not set: {outcome.detail or outcome.status.value}"), outcome.uid)
    return None


def events_of(outcomes: Iterable[ActOutcome], patches: Iterable[PatchOutcome]) -> list[EventSpec]:
    """The Events of one pass's outcomes, scale writes first."""
    found = [scale_event(o) for o in outcomes] + [patch_event(p) for p in patches]
    return [e for e in found if e is not None]


class EventRecorder:
    """Sends `EventSpec`s as core/v1 Events from one daemon thread; `submit` never blocks."""

    @classmethod
    def connect(cls, access: KubeAccess, *, instance: str) -> EventRecorder:
        """On the cluster the actuators write to (the same `KubeAccess`)."""
        return cls(api_client(access), instance=instance)

    def __init__(self, api: client.ApiClient, *, instance: str, size: int = QUEUE_SIZE,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self._core = client.CoreV1Api(api)
        self._instance = instance
        self._timeout = timeout
        self._queue: queue.Queue[EventSpec | None] = queue.Queue(maxsize=size)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="kube-events", daemon=True)
        self._thread.start()

    def submit(self, events: Iterable[EventSpec]) -> None:
        for event in events:
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self.dropped += 1
                log.warning("kube events: queue full; event %s for %s/%s dropped", event.reason,
                            event.namespace, event.name, extra={"event": "kube_events.dropped"})

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (within `timeout`: an Event left unsent at shutdown costs nothing the audit
        log does not hold, and the pod's grace period is the notification worker's), then stop the thread."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(queue.Full):  # full: the thread is a daemon, and goes with the process
            self._queue.put_nowait(None)
        self._thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self._send(event)
                self.sent += 1
            except Exception as exc:  # an Event is best effort: log, count, go on
                self.failed += 1
                status = exc.status if isinstance(exc, ApiException) else type(exc).__name__
                log.warning("kube events: %s for %s/%s not recorded (%s)", event.reason, event.namespace,
                            event.name, status, extra={"event": "kube_events.failed"})

    def _send(self, event: EventSpec) -> None:
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Event",
            # client-go's recorder names an event `<object>.<unix nanoseconds in hex>`
            "metadata": {"name": f"{event.name}.{time.time_ns():x}", "namespace": event.namespace},
            "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": event.namespace,
                               "name": event.name, **({"uid": event.uid} if event.uid else {})},
            "type": event.type, "reason": event.reason, "message": event.message,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT, "reportingInstance": self._instance,
            "firstTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": 1,
        }
        # A plain dict: the client sends it as it is (its CoreV1Event model would send eventTime as null).
        self._core.create_namespaced_event(event.namespace, body, _request_timeout=self._timeout)  # type: ignore[arg-type]
