"""The Kubernetes API stand-in behaves like an apiserver for the paths tenantops uses, through the real client."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenantops.act.kubeclient import api_client
from tenantops_lab.sandbox.kube_api import ApiError, KubeApiServer, json_merge_patch, json_patch, strategic_merge_patch
from tenantops_lab.sandbox.kube_patch import MERGE_KEYS

from .builders import apps_api

NS, NAME = "tenant-acme", "api"
SCALE_PATH = f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}/scale"

pytestmark = pytest.mark.integration


def status_of(exc: ApiException) -> dict:
    import json

    return json.loads(exc.body)


def test_scale_subresource_reads_and_patches_and_bumps_resource_version(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, NAME, replicas=2)
    apps = apps_api(kube_api)
    scale = apps.read_namespaced_deployment_scale(NAME, NS)
    assert scale.kind == "Scale" and scale.api_version == "autoscaling/v1"
    assert scale.spec.replicas == 2 and scale.status.selector == "app=api"
    before = int(scale.metadata.resource_version)

    patched = apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 5}})
    assert patched.spec.replicas == 5
    assert int(patched.metadata.resource_version) > before
    assert kube_api.replicas(NS, NAME) == 5
    deployment = apps.read_namespaced_deployment(NAME, NS)
    assert deployment.status.ready_replicas == 5 and deployment.metadata.generation == 2


def test_put_scale_with_stale_resource_version_is_a_conflict_status(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, NAME, replicas=2)
    apps = apps_api(kube_api)
    scale = apps.read_namespaced_deployment_scale(NAME, NS)
    kube_api.set_replicas(NS, NAME, 3)  # another writer moves the object on
    scale.spec.replicas = 4
    with pytest.raises(ApiException) as caught:
        apps.replace_namespaced_deployment_scale(NAME, NS, scale)
    assert caught.value.status == 409
    body = status_of(caught.value)
    assert body["kind"] == "Status" and body["reason"] == "Conflict" and body["code"] == 409
    assert kube_api.replicas(NS, NAME) == 3

    fresh = apps.read_namespaced_deployment_scale(NAME, NS)
    fresh.spec.replicas = 4
    assert apps.replace_namespaced_deployment_scale(NAME, NS, fresh).spec.replicas == 4


def test_patch_naming_a_stale_resource_version_conflicts_and_one_without_does_not(kube_api: KubeApiServer) -> None:
    created = kube_api.add_deployment(NS, NAME, replicas=1)
    kube_api.set_replicas(NS, NAME, 2)
    apps = apps_api(kube_api)
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "spec": {"replicas": 9}}
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment_scale(NAME, NS, stale)
    assert caught.value.status == 409
    assert apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 9}}).spec.replicas == 9


def test_container_resources_patch_by_strategic_merge_json_merge_and_json_patch(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, NAME, cpu="100m", memory="128Mi")
    apps = apps_api(kube_api)
    strategic = {"spec": {"template": {"spec": {"containers": [
        {"name": NAME, "resources": {"requests": {"cpu": "300m"}}}]}}}}
    d = apps.patch_namespaced_deployment(NAME, NS, strategic)
    container = d.spec.template.spec.containers[0]
    assert container.image == "registry.local/app:1"  # kept: merged by container name
    assert container.resources.requests == {"cpu": "300m", "memory": "128Mi"}

    merge = {"spec": {"template": {"spec": {"containers": [
        {"name": NAME, "image": "registry.local/app:2", "resources": {"requests": {"cpu": "50m"}}}]}}}}
    d = apps.patch_namespaced_deployment(NAME, NS, merge, _content_type="application/merge-patch+json")
    container = d.spec.template.spec.containers[0]
    assert container.resources.requests == {"cpu": "50m"}  # JSON merge replaces the whole list
    assert container.resources.limits is None

    ops = [{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", "value": "75m"}]
    d = apps.patch_namespaced_deployment(NAME, NS, ops)
    assert d.spec.template.spec.containers[0].resources.requests == {"cpu": "75m"}
    contents = [r.content_type for r in kube_api.writes()]
    assert contents == ["application/strategic-merge-patch+json", "application/merge-patch+json",
                        "application/json-patch+json"]


def test_invalid_replicas_get_422_invalid_and_nothing_changes(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, NAME, replicas=2)
    apps = apps_api(kube_api)
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": -1}})
    assert caught.value.status == 422 and status_of(caught.value)["reason"] == "Invalid"
    assert kube_api.replicas(NS, NAME) == 2


def test_missing_objects_are_404_not_found_status(kube_api: KubeApiServer) -> None:
    kube_api.add_namespace(NS)
    apps = apps_api(kube_api)
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_deployment_scale("nope", NS)
    body = status_of(caught.value)
    assert caught.value.status == 404 and body["reason"] == "NotFound"
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


def test_create_list_and_already_exists(kube_api: KubeApiServer) -> None:
    kube_api.add_namespace(NS)
    apps = apps_api(kube_api)
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="web:1")]))))
    created = apps.create_namespaced_deployment(NS, body)
    assert created.metadata.uid and created.metadata.namespace == NS
    with pytest.raises(ApiException) as caught:
        apps.create_namespaced_deployment(NS, body)
    assert caught.value.status == 409 and status_of(caught.value)["reason"] == "AlreadyExists"
    assert [d.metadata.name for d in apps.list_namespaced_deployment(NS).items] == ["web"]
    assert [d.metadata.name for d in apps.list_deployment_for_all_namespaces().items] == ["web"]
    core = client.CoreV1Api(apps.api_client)
    assert [n.metadata.name for n in core.list_namespace().items] == [NS]


def test_injected_faults_answer_the_next_n_matching_requests_then_stop(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, NAME)
    apps = apps_api(kube_api)
    kube_api.inject(SCALE_PATH, 429, count=2, method="GET")
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            apps.read_namespaced_deployment_scale(NAME, NS)
        assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "1"
        assert status_of(caught.value)["reason"] == "TooManyRequests"
    assert apps.read_namespaced_deployment_scale(NAME, NS).spec.replicas == 1
    kube_api.inject("/apis/apps/v1/*", 500)
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_deployment(NAME, NS)
    assert caught.value.status == 500 and status_of(caught.value)["reason"] == "InternalError"
    assert [r.status for r in kube_api.requests(path_prefix="/apis/apps")] == [429, 429, 200, 500]


def test_a_hanging_request_times_out_the_client_and_is_not_applied(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, NAME, replicas=1)
    apps = apps_api(kube_api)
    kube_api.inject(SCALE_PATH, "hang", method="PATCH", hang_seconds=5)
    started = time.monotonic()
    with pytest.raises(Exception, match=r"timed out|Timeout"):
        apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 3}}, _request_timeout=0.2)
    assert time.monotonic() - started < 2
    assert kube_api.replicas(NS, NAME) == 1


def test_stop_releases_a_hanging_request_promptly() -> None:
    server = KubeApiServer().start()
    server.add_deployment(NS, NAME)
    server.inject(SCALE_PATH, "hang", hang_seconds=60)
    apps = apps_api(server)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            apps.read_namespaced_deployment_scale(NAME, NS, _request_timeout=10)
        except Exception as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 5
    while server.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.in_flight == 1
    started = time.monotonic()
    server.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 3
    assert errors and isinstance(errors[0], ApiException) and errors[0].status == 504


def test_bearer_token_is_required_when_configured() -> None:
    with KubeApiServer(token="s3cret") as server:
        server.add_deployment(NS, NAME)
        with pytest.raises(ApiException) as caught:
            apps_api(server).read_namespaced_deployment_scale(NAME, NS)
        assert caught.value.status == 401
        authorised = client.AppsV1Api(api_client(server.url, token="s3cret"))
        assert authorised.read_namespaced_deployment_scale(NAME, NS).spec.replicas == 1


def test_leases_create_replace_and_conflict(kube_api: KubeApiServer) -> None:
    kube_api.add_namespace("tenantops")
    leases = client.CoordinationV1Api(api_client(kube_api.url))
    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="leader"),
                           spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15))
    created = leases.create_namespaced_lease("tenantops", lease)
    created.spec.holder_identity = "b"
    replaced = leases.replace_namespaced_lease("leader", "tenantops", created)
    assert replaced.spec.holder_identity == "b"
    created.spec.holder_identity = "c"  # still carries the first resourceVersion
    with pytest.raises(ApiException) as caught:
        leases.replace_namespaced_lease("leader", "tenantops", created)
    assert caught.value.status == 409
    assert kube_api.lease("tenantops", "leader")["spec"]["holderIdentity"] == "b"


def test_lease_times_are_decoded_as_the_apiserver_decodes_micro_time(kube_api: KubeApiServer) -> None:
    """renewTime/acquireTime are metav1.MicroTime: six fractional digits and a zone, or 400 BadRequest.

    The client library's own ApiClient writes a whole-second datetime without its fraction, which a real
    apiserver refuses; the project's client always sends the fraction, and the stored value is UTC with `Z`.
    """
    from datetime import UTC, datetime, timedelta, timezone

    kube_api.add_namespace("tenantops")
    whole_second = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    def lease(name: str) -> client.V1Lease:
        return client.V1Lease(metadata=client.V1ObjectMeta(name=name),
                              spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15,
                                                      renew_time=whole_second))

    library = client.ApiClient(client.Configuration(host=kube_api.url))
    with pytest.raises(ApiException) as caught:
        client.CoordinationV1Api(library).create_namespaced_lease("tenantops", lease("plain"))
    assert caught.value.status == 400 and status_of(caught.value)["reason"] == "BadRequest"
    assert "2006-01-02T15:04:05.000000Z07:00" in status_of(caught.value)["message"]
    assert kube_api.lease("tenantops", "plain") is None

    leases = client.CoordinationV1Api(api_client(kube_api.url))
    leases.create_namespaced_lease("tenantops", lease("leader"))
    assert kube_api.lease("tenantops", "leader")["spec"]["renewTime"] == "2026-01-01T12:00:00.000000Z"
    east = timezone(timedelta(hours=2))
    leases.patch_namespaced_lease("leader", "tenantops", {"spec": {"acquireTime": "2026-01-01T14:00:00.250000+02:00"}})
    assert kube_api.lease("tenantops", "leader")["spec"]["acquireTime"] == "2026-01-01T12:00:00.250000Z"
    read = leases.read_namespaced_lease("leader", "tenantops")
    assert read.spec.acquire_time == datetime(2026, 1, 1, 14, 0, 0, 250000, tzinfo=east)
    for bad in ("2026-01-01T12:00:00Z", "2026-01-01T12:00:00.123Z", "2026-01-01T12:00:00.000000", "yesterday"):
        with pytest.raises(ApiException) as caught:
            leases.patch_namespaced_lease("leader", "tenantops", {"spec": {"renewTime": bad}},
                                          _content_type="application/merge-patch+json")
        assert caught.value.status == 400, bad


def test_lists_page_with_limit_and_continue_and_kubectl_reads_every_page(kube_api: KubeApiServer,
                                                                        tmp_path) -> None:
    import os
    import shutil
    import subprocess

    for i in range(7):
        kube_api.add_deployment(f"tenant-{i % 3}", f"app-{i}")
    apps = apps_api(kube_api)
    first = apps.list_deployment_for_all_namespaces(limit=3)
    assert len(first.items) == 3 and first.metadata.remaining_item_count == 4 and first.metadata._continue
    second = apps.list_deployment_for_all_namespaces(limit=3, _continue=first.metadata._continue)
    last = apps.list_deployment_for_all_namespaces(limit=3, _continue=second.metadata._continue)
    names = [(d.metadata.namespace, d.metadata.name) for page in (first, second, last) for d in page.items]
    assert names == sorted(names) and len(set(names)) == 7 and last.metadata._continue is None
    assert first.metadata.resource_version == second.metadata.resource_version == last.metadata.resource_version
    assert len(apps.list_namespaced_deployment("tenant-0", limit=2).items) == 2
    with pytest.raises(ApiException) as caught:
        apps.list_deployment_for_all_namespaces(limit=3, _continue="not-a-token")
    assert caught.value.status == 400
    if shutil.which("kubectl") is None:
        return
    config = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    out = subprocess.run(["kubectl", "get", "deployments", "-A", "--chunk-size=2", "--no-headers"],
                         env={**os.environ, "KUBECONFIG": str(config)}, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert len(out.splitlines()) == 7
    assert len(kube_api.requests(method="GET", path_prefix="/apis/apps/v1/deployments")) >= 4 + 4


def test_concurrent_writers_never_lose_an_update(kube_api: KubeApiServer) -> None:
    """Optimistic concurrency holds under threads: every successful PUT saw the latest version."""
    kube_api.add_deployment(NS, NAME, replicas=0)
    successes: list[int] = []

    def bump() -> None:
        apps = apps_api(kube_api)
        for _ in range(5):
            while True:
                scale = apps.read_namespaced_deployment_scale(NAME, NS)
                scale.spec.replicas += 1
                try:
                    apps.replace_namespaced_deployment_scale(NAME, NS, scale)
                except ApiException as exc:
                    assert exc.status == 409
                    continue
                successes.append(1)
                break

    workers = [threading.Thread(target=bump) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(successes) == 15
    assert kube_api.replicas(NS, NAME) == 15


# Keyed lists ("env") and `$` directives are where strategic merge differs from JSON merge, by design.
keys = st.text(max_size=4).filter(lambda k: k not in MERGE_KEYS and not k.startswith("$"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(keys, json_values, max_size=4)


@given(json_objects, json_objects)
def test_json_merge_patch_is_idempotent(target: dict, patch: dict) -> None:
    once = json_merge_patch(target, patch)
    assert json_merge_patch(once, patch) == once


@given(json_objects, json_objects)
def test_strategic_merge_equals_json_merge_without_keyed_lists(target: dict, patch: dict) -> None:
    assert strategic_merge_patch(target, patch) == json_merge_patch(target, patch)


@given(st.lists(st.integers(), max_size=6), st.integers(min_value=0, max_value=6), st.integers())
def test_json_patch_add_then_remove_restores_the_list(items: list[int], index: int, value: int) -> None:
    index = min(index, len(items))
    doc = {"xs": items}
    added = json_patch(doc, [{"op": "add", "path": f"/xs/{index}", "value": value}])
    assert added["xs"][index] == value and len(added["xs"]) == len(items) + 1
    assert json_patch(added, [{"op": "remove", "path": f"/xs/{index}"}]) == doc


def test_json_patch_test_op_failure_is_invalid() -> None:
    with pytest.raises(ApiError) as caught:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert caught.value.code == 422


def test_replace_dry_run_label_selector_and_delete(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, NAME, replicas=1, labels={"app": "api", "tier": "web"})
    kube_api.add_deployment(NS, "worker", replicas=1, labels={"app": "worker"})
    apps = apps_api(kube_api)
    assert [d.metadata.name for d in apps.list_namespaced_deployment(NS, label_selector="tier=web").items] == [NAME]

    current = apps.read_namespaced_deployment(NAME, NS)
    current.spec.replicas = 4
    replaced = apps.replace_namespaced_deployment(NAME, NS, current)
    assert replaced.spec.replicas == 4 and replaced.metadata.generation == 2

    revision = kube_api.revision
    preview = apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 9}}, dry_run="All")
    assert preview.spec.replicas == 9
    assert kube_api.replicas(NS, NAME) == 4 and kube_api.revision == revision

    apps.delete_namespaced_deployment("worker", NS)
    assert kube_api.deployment(NS, "worker") is None
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_deployment("worker", NS)
    assert caught.value.status == 404


def test_unsupported_patch_type_and_unknown_paths(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, NAME)
    apps = apps_api(kube_api)
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 2}},
                                               _content_type="application/apply-patch+yaml")
    assert caught.value.status == 415
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(apps.api_client).read_namespaced_pod("p", NS)
    assert caught.value.status == 404
    assert kube_api.replicas(NS, NAME) == 1


@pytest.mark.slow
def test_module_runs_as_a_server_process_and_stops_on_sigterm() -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "tenantops_lab.sandbox.kube_api", "--seed", f"{NS}/{NAME}=3"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        apps = client.AppsV1Api(api_client(url))
        assert apps.read_namespaced_deployment_scale(NAME, NS).spec.replicas == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
