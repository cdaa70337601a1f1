"""Kubernetes Events of the controller's writes, recorded on the Deployment through the real client against
the API stand-in, and read back as people read them: `kubectl get events` and `kubectl describe deploy`."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tenantops.act.base import ActOutcome, OutcomeStatus
from tenantops.act.kube_events import MAX_MESSAGE, EventRecorder, EventSpec, events_of, scale_event
from tenantops.act.kubeclient import api_client
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.act.requests import PatchOutcome
from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind
from tenantops.structs.requests import RequestPatch
from tenantops_lab.sandbox.kube_api import KubeApiServer

from .builders import scale_action

pytestmark = pytest.mark.integration

NS = "tenant-acme"


def _events(server: KubeApiServer, namespace: str = NS) -> list[Any]:
    """The Events the recorder sent (not the stand-in's deployment controller's ScalingReplicaSet ones)."""
    return [e for e in client.CoreV1Api(api_client(server.url)).list_namespaced_event(namespace).items
            if e.source.component != "deployment-controller"]


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _kubectl(server: KubeApiServer, tmp_path: Path, *args: str) -> str:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    done = subprocess.run(["kubectl", "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                          text=True, env=env, timeout=60, check=True)
    return done.stdout


def test_events_are_only_for_writes_made_or_refused_on_deployments() -> None:
    action = scale_action(NS, "api", 2, 4)
    assert scale_event(ActOutcome(action, OutcomeStatus.UNCHANGED)) is None
    assert scale_event(ActOutcome(action, OutcomeStatus.DRY_RUN)) is None
    applied = scale_event(ActOutcome(action, OutcomeStatus.APPLIED, observed=2))
    assert applied == EventSpec(NS, "api", "Normal", "SuccessfulRescale", "New size: 4; reason: test: test scale")
    failed = scale_event(ActOutcome(action, OutcomeStatus.RETRYABLE, detail="503 from the API server"))
    assert failed is not None and (failed.type, failed.reason) == ("Warning", "FailedRescale")
    assert failed.message.endswith("error: 503 from the API server")
    asg = ScaleAction("acme", "api", ScaleTarget(TargetKind.ASG, "acme-api", region="eu-west-1"), 2, 4, "r", "why")
    assert scale_event(ActOutcome(asg, OutcomeStatus.APPLIED)) is None  # not a Kubernetes object
    long = scale_action(NS, "api", 2, 4)
    long = ScaleAction(long.tenant, long.workload, long.target, 2, 4, "predictive", "x" * 5000)
    cut = scale_event(ActOutcome(long, OutcomeStatus.APPLIED))
    assert cut is not None and len(cut.message) == MAX_MESSAGE


def test_patch_events_name_the_requests_before_and_after() -> None:
    patch = RequestPatch("acme", "api", NS, "api", {"cpu": "250m"}, "p90 of 7 days")
    outcome = PatchOutcome(patch, OutcomeStatus.APPLIED, before={"api": {"cpu": "500m"}},
                           after={"api": {"cpu": "250m"}})
    [event] = events_of([], [outcome, PatchOutcome(patch, OutcomeStatus.UNCHANGED)])
    assert (event.reason, event.message) == ("SuccessfulUpdateRequests",
                                             "Requests set: api: cpu 250m (were api: cpu 500m)")


def test_a_rescale_event_shows_in_kubectl_describe_and_get_events(kube_api: KubeApiServer, tmp_path: Path) -> None:
    kube_api.add_deployment(NS, "api", replicas=2)
    uid = kube_api.deployment(NS, "api")["metadata"]["uid"]
    # The outcome as the scaler makes it: its read of the Deployment's scale carries the uid the Event names.
    scaled = KubernetesActuator.connect(kube_api.url).apply(scale_action(NS, "api", 2, 4))
    assert scaled.status is OutcomeStatus.APPLIED
    recorder = EventRecorder(api_client(kube_api.url), instance="controller-0")
    try:
        recorder.submit(events_of([scaled], []))
        _wait_for(lambda: recorder.sent == 1)
    finally:
        recorder.close()
    [event] = _events(kube_api)
    assert event.involved_object.uid == uid and event.involved_object.kind == "Deployment"
    assert (event.type, event.reason, event.reporting_instance) == ("Normal", "SuccessfulRescale", "controller-0")
    described = _kubectl(kube_api, tmp_path, "describe", "deploy", "api", "-n", NS)
    assert "SuccessfulRescale" in described and "New size: 4; reason: test: test scale" in described
    listed = _kubectl(kube_api, tmp_path, "get", "events", "-n", NS)
    header, *rows = listed.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    [row] = [r for r in rows if "SuccessfulRescale" in r]
    assert row.split()[1:4] == ["Normal", "SuccessfulRescale", "deployment/api"]
    everywhere = _kubectl(kube_api, tmp_path, "get", "events", "-A").splitlines()
    assert everywhere[0].split()[0] == "NAMESPACE" and everywhere[1].split()[0] == NS


def test_a_refused_event_is_counted_and_the_next_one_is_still_sent(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, "api", replicas=4)
    kube_api.inject(f"/api/v1/namespaces/{NS}/events", 403, count=1, method="POST")
    recorder = EventRecorder(api_client(kube_api.url), instance="controller-0")
    try:
        applied = ActOutcome(scale_action(NS, "api", 2, 4), OutcomeStatus.APPLIED)
        recorder.submit(events_of([applied, applied], []))
        _wait_for(lambda: recorder.sent + recorder.failed == 2)
    finally:
        recorder.close()
    assert (recorder.sent, recorder.failed) == (1, 1)
    assert len(_events(kube_api)) == 1


def test_submit_never_blocks_a_full_queue_drops(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, "api", replicas=4)
    kube_api.inject(f"/api/v1/namespaces/{NS}/events", "hang", count=1, method="POST", hang_seconds=3.0)
    recorder = EventRecorder(api_client(kube_api.url), instance="controller-0", size=2, timeout=2.0)
    try:
        applied = ActOutcome(scale_action(NS, "api", 2, 4), OutcomeStatus.APPLIED)
        started = time.monotonic()
        recorder.submit(events_of([applied] * 10, []))
        assert time.monotonic() - started < 1.0
        assert recorder.dropped >= 7  # one on the hung call, two queued, the rest dropped
    finally:
        recorder.close(timeout=10.0)


def test_the_stand_in_refuses_an_event_about_another_namespace(kube_api: KubeApiServer) -> None:
    kube_api.add_namespace(NS)
    core = client.CoreV1Api(api_client(kube_api.url))
    body = {"metadata": {"name": "x.1"}, "involvedObject": {"kind": "Deployment", "name": "api",
                                                            "namespace": "tenant-other"}, "type": "Normal"}
    with pytest.raises(client.exceptions.ApiException) as caught:
        core.create_namespaced_event(NS, body)  # type: ignore[arg-type]
    assert caught.value.status == 422 and "does not match event.namespace" in str(caught.value.body)
