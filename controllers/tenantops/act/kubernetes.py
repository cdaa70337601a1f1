"""Scales pooled tenants' Deployments through the `deployments/{name}/scale` subresource.

The scale subresource is used rather than patching the Deployment itself because it is the narrowest
permission that can change replicas (RBAC `get`/`patch` on `deployments/scale`), and it is what HPA and
`kubectl scale` use, so the controller composes with them.

Each apply reads first and writes nothing when the replicas already match (idempotence; a second pass
over the same plan makes no request but the read). The write carries the resourceVersion of that read,
so if someone scaled the Deployment in between, the server answers 409 and the actuator reads again
instead of overwriting a change it never saw. Throttling, server errors and timeouts are retried a
bounded number of times with backoff; whatever remains is a classified outcome, never an exception.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenantops.act.base import ActOutcome, OutcomeStatus
from tenantops.act.kubeclient import KubeTarget, api_client
from tenantops.act.retry import (
    CallCounter,
    CallFailed,
    Classified,
    ErrorClass,
    RetryPolicy,
    call_with_retry,
    finish,
    status_of,
)
from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind

log = logging.getLogger(__name__)

FIELD_MANAGER = "tenantops"


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def classify_kube_error(exc: BaseException) -> Classified | None:
    """Map client errors to what the caller should do; None for exceptions that are not API failures."""
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        what = f"HTTP {status} {exc.reason or ''}".strip()
        if status == 409:
            return Classified(ErrorClass.CONFLICT, what)
        if status == 429 or status >= 500 or status == 0:
            return Classified(ErrorClass.TRANSIENT, what, _retry_after(exc.headers))
        return Classified(ErrorClass.PERMANENT, what)
    if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
        return Classified(ErrorClass.TRANSIENT, f"{type(exc).__name__}: {exc}")
    return None


class KubernetesActuator:
    """Applies scale actions to Deployments in tenant namespaces."""

    kind = TargetKind.KUBERNETES

    def __init__(self, apps: client.AppsV1Api, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._apps = apps
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    @classmethod
    def connect(cls, url: KubeTarget = None, *, token: str | None = None, retry: RetryPolicy | None = None,
                sleep: Callable[[float], None] = time.sleep) -> KubernetesActuator:
        """From a URL or a `KubeAccess` (`KubeAccess.from_settings`), or, when None, in-cluster / kubeconfig."""
        return cls(client.AppsV1Api(api_client(url, token=token)), retry=retry, sleep=sleep)

    @property
    def api_client(self) -> client.ApiClient:
        api: client.ApiClient = self._apps.api_client
        return api

    @property
    def apps(self) -> client.AppsV1Api:
        """The connection, shared with the live replica reader (one pool, one set of credentials)."""
        return self._apps

    def close(self) -> None:
        self._apps.api_client.close()

    @property
    def call_deadline(self) -> float:
        """Seconds one `apply` may take at most: a read and a write, each as long as its retry policy lets a
        request take (`RetryPolicy.deadline`). Its requests, retried and repeated after conflicts, start only
        while they can end within it."""
        return 2 * self._retry.deadline

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _namespace(target: ScaleTarget) -> str:
        if not target.namespace:
            raise CallFailed(Classified(ErrorClass.PERMANENT, "a Deployment target needs a namespace"), 0)
        return target.namespace

    def _read(self, target: ScaleTarget, counter: CallCounter) -> client.V1Scale:
        namespace = self._namespace(target)
        return call_with_retry(
            lambda: self._apps.read_namespaced_deployment_scale(
                target.name, namespace, _request_timeout=self._retry.timeout),
            classify_kube_error, self._retry, sleep=self._sleep, counter=counter)

    def _write(self, target: ScaleTarget, body: dict[str, Any], counter: CallCounter) -> None:
        namespace = self._namespace(target)
        call_with_retry(
            lambda: self._apps.patch_namespaced_deployment_scale(
                target.name, namespace, body, field_manager=FIELD_MANAGER, _request_timeout=self._retry.timeout),
            classify_kube_error, self._retry, sleep=self._sleep, counter=counter)

    def current(self, target: ScaleTarget) -> int | None:
        """Desired replicas of the Deployment now; None when it does not exist.

        Transient failures that outlast the retries raise CallFailed: the caller cannot tell "absent"
        from "unknown" otherwise.
        """
        try:
            scale = self._read(target, CallCounter())
        except CallFailed as failed:
            cause = failed.__cause__
            if isinstance(cause, ApiException) and cause.status == 404:
                return None
            raise
        return int(scale.spec.replicas or 0) if scale.spec is not None else 0

    # ------------------------------------------------------------------ writing

    def apply(self, action: ScaleAction, *, dry_run: bool = False) -> ActOutcome:
        """Read, compare, write with the read's resourceVersion; re-read on conflict. Never raises for
        API failures: the outcome says what happened."""
        target = action.target
        counter = CallCounter.within(self.call_deadline)
        observed: int | None = None
        uid: str | None = None  # the Deployment's, from the scale read (what its Events name)
        if target.kind is not TargetKind.KUBERNETES:
            return finish(action, OutcomeStatus.FAILED, None, counter,
                          f"target kind {target.kind} is not handled by the Kubernetes actuator", log)
        if action.desired < 0:
            return finish(action, OutcomeStatus.FAILED, None, counter, "desired replicas below zero", log)
        try:
            for round_ in range(self._retry.conflicts + 1):
                scale = self._read(target, counter)
                observed = int(scale.spec.replicas or 0) if scale.spec is not None else 0
                uid = scale.metadata.uid if scale.metadata is not None else None
                if observed == action.desired:
                    detail = "already at desired replicas" if round_ == 0 else \
                        "another writer set the desired replicas meanwhile"
                    return finish(action, OutcomeStatus.UNCHANGED, observed, counter, detail, log, uid=uid)
                if dry_run:
                    return finish(action, OutcomeStatus.DRY_RUN, observed, counter,
                                  f"would scale {observed} -> {action.desired}", log, uid=uid)
                version = scale.metadata.resource_version if scale.metadata is not None else None
                body = {"metadata": {"resourceVersion": version},
                        "spec": {"replicas": action.desired}}
                try:
                    self._write(target, body, counter)
                except CallFailed as failed:
                    if failed.classified.kind is not ErrorClass.CONFLICT:
                        raise
                    log.info("act: %s changed since it was read (%s); reading it again", target,
                             failed.classified.detail,
                             extra={"event": "act.conflict", "target": str(target), "tenant": action.tenant})
                    continue
                note = "" if observed == action.current else \
                    f" (the decision saw {action.current}; the target had {observed})"
                return finish(action, OutcomeStatus.APPLIED, observed, counter,
                              f"scaled {observed} -> {action.desired}{note}", log, written=action.desired, uid=uid)
            return finish(action, OutcomeStatus.RETRYABLE, observed, counter,
                          f"still conflicting after {self._retry.conflicts + 1} read-write rounds", log, uid=uid)
        except CallFailed as failed:
            return finish(action, status_of(failed), observed, counter, failed.classified.detail, log, uid=uid)
