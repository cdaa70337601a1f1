"""kubectl, with a kubeconfig the test writes, works against the Kubernetes API stand-in: discovery,
lists across namespaces, scale, the three patch types, server-side apply, conflicts, validation and `get -w`."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tenantops_lab.sandbox.kube_api import KubeApiServer
from tenantops_lab.sandbox.kubeconfig import write_kubeconfig

pytestmark = pytest.mark.integration

NS = "tenant-acme"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def kubectl_env(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}


@pytest.fixture
def kubectl(kube_api: KubeApiServer, tmp_path: Path) -> Kubectl:
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    cache = tmp_path / "cache"

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["kubectl", "--cache-dir", str(cache), *args], input=stdin, capture_output=True,
                                text=True, env=kubectl_env(kubeconfig), timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


def table(output: str) -> list[dict[str, str]]:
    """kubectl's columns, cut where the header's columns start (a cell may be empty)."""
    lines = output.rstrip().splitlines()
    header = lines[0]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [{header[a:b].strip(): line[a:b].strip() for a, b in bounds} for line in lines[1:]]


def test_kubectl_lists_deployments_in_a_namespace_and_across_all(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    kube_api.add_deployment(NS, "api", replicas=2)
    kube_api.add_deployment("tenant-globex", "worker", replicas=3)
    rows = table(kubectl("get", "deployments", "-A").stdout)
    assert [(r["NAMESPACE"], r["NAME"], r["READY"]) for r in rows] == [
        (NS, "api", "2/2"), ("tenant-globex", "worker", "3/3")]
    assert [r["NAME"] for r in table(kubectl("get", "deploy", "-n", NS).stdout)] == ["api"]
    listed = json.loads(kubectl("get", "deploy", "-n", NS, "-o", "json").stdout)
    assert [d["spec"]["replicas"] for d in listed["items"]] == [2]
    assert kubectl("get", "deploy", "nope", "-n", NS, check=False).returncode == 1


def test_kubectl_discovers_the_served_resources(kubectl: Kubectl) -> None:
    rows = table(kubectl("api-resources").stdout)
    by_name = {r["NAME"]: r for r in rows}
    assert by_name["deployments"]["SHORTNAMES"] == "deploy" and by_name["deployments"]["APIVERSION"] == "apps/v1"
    assert by_name["leases"]["APIVERSION"] == "coordination.k8s.io/v1"
    assert {r["NAME"] for r in rows} == {"namespaces", "nodes", "pods", "services", "deployments", "replicasets",
                                         "leases", "events", "selfsubjectaccessreviews", "selfsubjectrulesreviews",
                                         "selfsubjectreviews"}
    assert "v1.31" in kubectl("version", "-o", "json").stdout


def test_kubectl_scale_goes_through_the_scale_subresource(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    kube_api.add_deployment(NS, "api", replicas=2)
    kube_api.clear_log()
    assert "scaled" in kubectl("scale", "deployment/api", "-n", NS, "--replicas=5").stdout
    assert kube_api.replicas(NS, "api") == 5
    [write] = kube_api.writes()
    assert write.path == f"/apis/apps/v1/namespaces/{NS}/deployments/api/scale" and write.method == "PATCH"
    # with a precondition kubectl reads the Scale and writes it back naming its resourceVersion
    result = kubectl("scale", "deployment/api", "-n", NS, "--current-replicas=4", "--replicas=1", check=False)
    assert result.returncode != 0 and kube_api.replicas(NS, "api") == 5
    kubectl("scale", "deployment/api", "-n", NS, "--current-replicas=5", "--replicas=1")
    assert kube_api.replicas(NS, "api") == 1


def test_kubectl_patches_strategic_merge_and_json(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    kube_api.add_deployment(NS, "api", cpu="100m", memory="128Mi")
    strategic = {"spec": {"template": {"spec": {"containers": [{"name": "api", "resources": {
        "limits": {"cpu": "500m", "memory": "256Mi"}}}]}}}}
    kubectl("patch", "deployment", "api", "-n", NS, "-p", json.dumps(strategic))
    [container] = kube_api.deployment(NS, "api")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.local/app:1"  # merged by name, not replaced
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"},
                                      "limits": {"cpu": "500m", "memory": "256Mi"}}
    ops = [{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", "value": "400m"}]
    kubectl("patch", "deployment", "api", "-n", NS, "--type=json", "-p", json.dumps(ops))
    kubectl("patch", "deployment", "api", "-n", NS, "--type=merge", "-p", '{"spec": {"replicas": 3}}')
    stored = kube_api.deployment(NS, "api")
    assert stored["spec"]["replicas"] == 3
    assert stored["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "400m"
    contents = [r.content_type for r in kube_api.writes()]
    assert contents == ["application/strategic-merge-patch+json", "application/json-patch+json",
                        "application/merge-patch+json"]


def test_kubectl_gets_422_for_requests_above_limits_and_nothing_changes(kube_api: KubeApiServer,
                                                                       kubectl: Kubectl) -> None:
    kube_api.add_deployment(NS, "api", cpu="100m", memory="128Mi", limits={"cpu": "200m", "memory": "256Mi"})
    before = kube_api.deployment(NS, "api")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "api", "resources": {
        "requests": {"memory": "1Gi"}}}]}}}}
    result = kubectl("patch", "deployment", "api", "-n", NS, "-p", json.dumps(patch), check=False)
    assert result.returncode == 1
    assert "spec.template.spec.containers[0].resources.requests" in result.stderr
    assert "must be less than or equal to memory limit of 256Mi" in result.stderr
    assert kube_api.deployment(NS, "api") == before
    failing_test = [{"op": "test", "path": "/spec/replicas", "value": 7}]
    result = kubectl("patch", "deployment", "api", "-n", NS, "--type=json", "-p", json.dumps(failing_test),
                     check=False)
    assert result.returncode == 1 and "test operation failed" in result.stderr


def test_kubectl_replace_with_a_stale_resource_version_is_a_conflict(kube_api: KubeApiServer,
                                                                     kubectl: Kubectl) -> None:
    kube_api.add_deployment(NS, "api", replicas=2)
    read = yaml.safe_load(kubectl("get", "deployment", "api", "-n", NS, "-o", "yaml").stdout)
    kube_api.set_replicas(NS, "api", 4)  # another writer lands between the read and the write
    read["spec"]["replicas"] = 9
    result = kubectl("replace", "-f", "-", stdin=yaml.safe_dump(read), check=False)
    assert result.returncode == 1
    assert "Operation cannot be fulfilled" in result.stderr and "the object has been modified" in result.stderr
    assert kube_api.replicas(NS, "api") == 4


def test_kubectl_creates_and_lists_leases_across_namespaces(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    kube_api.add_namespace("tenantops")
    kube_api.add_namespace("kube-system")
    for ns, holder in (("tenantops", "controller-0"), ("kube-system", "scheduler-1")):
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "leader", "namespace": ns},
                 "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15}}
        kubectl("create", "-f", "-", stdin=json.dumps(lease))
    rows = table(kubectl("get", "lease", "-A").stdout)
    assert [(r["NAMESPACE"], r["NAME"], r["HOLDER"]) for r in rows] == [
        ("kube-system", "leader", "scheduler-1"), ("tenantops", "leader", "controller-0")]
    assert kube_api.lease("tenantops", "leader")["spec"]["holderIdentity"] == "controller-0"


def read_lines_until(stream: subprocess.Popen[str], count: int, timeout: float) -> list[str]:
    """The first `count` lines the process prints, read on a thread so a silent process cannot hang the test."""
    lines: list[str] = []
    done = threading.Event()

    def reader() -> None:
        assert stream.stdout is not None
        for line in stream.stdout:
            lines.append(line.rstrip("\n"))
            if len(lines) >= count:
                break
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    done.wait(timeout)
    return lines


def test_kubectl_get_watch_prints_each_change(kube_api: KubeApiServer, tmp_path: Path) -> None:
    kube_api.add_deployment(NS, "api", replicas=2)
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    watcher = subprocess.Popen(
        ["kubectl", "--cache-dir", str(tmp_path / "cache"), "get", "deploy", "-n", NS, "-w", "--output-watch-events"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kubectl_env(kubeconfig))
    try:
        first = read_lines_until(watcher, 2, timeout=30)  # header + the current object
        assert first[0].split()[:3] == ["EVENT", "NAME", "READY"] and first[1].split()[:3] == ["ADDED", "api", "2/2"]
        deadline = time.monotonic() + 10
        while not any("watch" in r.query for r in kube_api.requests(method="GET")) and time.monotonic() < deadline:
            time.sleep(0.05)
        kube_api.set_replicas(NS, "api", 6)
        kube_api.add_deployment(NS, "worker", replicas=1)
        later = read_lines_until(watcher, 2, timeout=30)
        assert [line.split()[:3] for line in later] == [["MODIFIED", "api", "6/6"], ["ADDED", "worker", "1/1"]]
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
    [watch] = [r for r in kube_api.requests(method="GET") if "watch" in r.query]
    assert watch.query["resourceVersion"] != ["0"]  # from the list's revision: nothing between is missed


def test_kubeconfig_helper_writes_a_private_file_with_the_default_namespace(kube_api: KubeApiServer,
                                                                            tmp_path: Path) -> None:
    kube_api.add_deployment(NS, "api")
    kube_api.add_deployment("tenant-globex", "worker")
    path = kube_api.write_kubeconfig(tmp_path / "dir" / "config", namespace=NS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    run = ["kubectl", "--cache-dir", str(tmp_path / "cache"), "get", "deploy", "-o", "name"]
    listed = subprocess.run(run, capture_output=True, text=True, env=kubectl_env(path), timeout=60)
    assert listed.stdout.split() == ["deployment.apps/api"]  # the context's namespace, not all


def test_kubeconfig_carries_the_token_a_kubeconfig_reading_client_sends(tmp_path: Path) -> None:
    # kubectl sends a bearer token only over TLS; the Python client reads the same file and sends it.
    with KubeApiServer(token="s3cret") as server:
        server.add_deployment(NS, "api")
        good = server.write_kubeconfig(tmp_path / "good")
        assert yaml.safe_load(good.read_text())["users"][0]["user"] == {"token": "s3cret"}
        apps = client.AppsV1Api(config.new_client_from_config(str(good)))
        assert [d.metadata.name for d in apps.list_namespaced_deployment(NS).items] == ["api"]
        wrong = write_kubeconfig(tmp_path / "wrong", server.url, token="nope")
        with pytest.raises(ApiException) as caught:
            client.AppsV1Api(config.new_client_from_config(str(wrong))).list_namespaced_deployment(NS)
        assert caught.value.status == 401


def test_over_tls_kubectl_verifies_the_server_and_sends_the_token(tmp_path: Path) -> None:
    with KubeApiServer(token="s3cret", tls=True) as server:
        server.add_deployment(NS, "api")
        assert server.url.startswith("https://") and server.certificate is not None
        run = ["kubectl", "--cache-dir", str(tmp_path / "cache"), "get", "deploy", "-n", NS, "-o", "name"]
        good = server.write_kubeconfig(tmp_path / "good")
        assert subprocess.run(run, capture_output=True, text=True, env=kubectl_env(good),
                              timeout=60).stdout.split() == ["deployment.apps/api"]
        wrong = write_kubeconfig(tmp_path / "wrong", server.url, token="nope",
                                 certificate_authority=server.certificate.ca)
        denied = subprocess.run(run, capture_output=True, text=True, env=kubectl_env(wrong), timeout=60)
        assert denied.returncode == 1 and "Unauthorized" in denied.stderr
        untrusted = write_kubeconfig(tmp_path / "untrusted", server.url, token="s3cret")  # no CA: must not trust
        refused = subprocess.run(run, capture_output=True, text=True, env=kubectl_env(untrusted), timeout=60)
        assert refused.returncode == 1 and "certificate" in refused.stderr


def test_a_watch_over_tls_ends_when_kubectl_goes_away(tmp_path: Path) -> None:
    with KubeApiServer(token="s3cret", tls=True) as server:  # over https kubectl wants credentials
        server.add_deployment(NS, "api", replicas=2)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        watcher = subprocess.Popen(["kubectl", "--cache-dir", str(tmp_path / "cache"), "get", "deploy", "-n", NS,
                                    "-w"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=kubectl_env(kubeconfig))
        try:
            assert read_lines_until(watcher, 2, timeout=30)[1].split()[:2] == ["api", "2/2"]
            server.set_replicas(NS, "api", 3)
            assert read_lines_until(watcher, 1, timeout=30)[0].split()[:2] == ["api", "3/3"]
        finally:
            watcher.kill()
            watcher.wait(timeout=10)
        deadline = time.monotonic() + 10
        while server.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.in_flight == 0  # the idle stream noticed the hang-up without waiting for an event


def web(replicas_field: str = "replicas", replicas: int = 1, strategy: dict | None = None) -> str:
    spec: dict = {replicas_field: replicas, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}
    if strategy is not None:
        spec["strategy"] = strategy
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "web", "namespace": NS}, "spec": spec})


def test_kubectl_apply_creates_configures_and_the_server_validates_fields(kube_api: KubeApiServer,
                                                                          kubectl: Kubectl) -> None:
    kube_api.add_namespace(NS)
    assert "created" in kubectl("apply", "-f", "-", stdin=web(replicas=1)).stdout
    rolling = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    assert "configured" in kubectl("apply", "-f", "-", stdin=web(replicas=3, strategy=rolling)).stdout
    assert kube_api.replicas(NS, "web") == 3
    # a union field: switching the strategy's type drops rollingUpdate ($retainKeys in kubectl's patch)
    kubectl("apply", "-f", "-", stdin=web(replicas=3, strategy={"type": "Recreate"}))
    assert kube_api.deployment(NS, "web")["spec"]["strategy"] == {"type": "Recreate"}
    # kubectl's default --validate=strict: the server refuses a misspelt field and keeps the object
    refused = kubectl("apply", "-f", "-", stdin=web("replica", 5), check=False)
    assert refused.returncode == 1 and 'strict decoding error: unknown field "spec.replica"' in refused.stderr
    assert kube_api.replicas(NS, "web") == 3
    [strict] = [r for r in kube_api.requests(method="PATCH") if r.status == 400]
    assert strict.query["fieldValidation"] == ["Strict"]  # kubectl left validation to the server
    warned = kubectl("apply", "--validate=warn", "-f", "-", stdin=web("replica", 5))
    assert 'Warning: unknown field "spec.replica"' in warned.stderr
    assert "replica" not in kube_api.deployment(NS, "web")["spec"]  # dropped, as the apiserver's decoder does


def test_kubectl_apply_server_side_creates_and_meets_the_controllers_replicas(kube_api: KubeApiServer,
                                                                              kubectl: Kubectl) -> None:
    """`kubectl apply --server-side` was refused (415, "Server-side apply not available on the server"). It
    creates, merges, and a manifest naming `replicas` conflicts with the controller, which owns them through
    the scale subresource (field manager `tenantops`), as on a cluster, until --force-conflicts."""
    from tests.act.builders import scale_action

    from tenantops.act.kubernetes import KubernetesActuator

    kube_api.add_namespace(NS)
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "-", stdin=web(replicas=2)).stdout
    assert kube_api.replicas(NS, "web") == 2
    [create] = [r for r in kube_api.requests(method="PATCH") if r.status == 201]
    assert create.content_type == "application/apply-patch+yaml" and create.query["fieldManager"] == ["kubectl"]
    controller = KubernetesActuator.connect(kube_api.url)
    assert controller.apply(scale_action(NS, "web", 2, 5)).status.value == "applied"
    controller.close()
    refused = kubectl("apply", "--server-side", "-f", "-", stdin=web(replicas=2), check=False)
    assert refused.returncode == 1
    assert ('Apply failed with 1 conflict: conflict with "tenantops" with subresource "scale" using apps/v1: '
            ".spec.replicas") in refused.stderr
    assert kube_api.replicas(NS, "web") == 5
    # the same manifest without replicas applies and leaves the controller's count; a changed field merges
    manifest = yaml.safe_load(web(replicas=2))
    del manifest["spec"]["replicas"]
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"
    kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(manifest))
    stored = kube_api.deployment(NS, "web")
    assert stored["spec"]["replicas"] == 5 and stored["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    assert kubectl("diff", "--server-side", "-f", "-", stdin=yaml.safe_dump(manifest), check=False).returncode == 0
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=web(replicas=2))
    assert kube_api.replicas(NS, "web") == 2


def test_the_python_clients_apply_patch_takes_a_field_manager_and_answers_conflicts(kube_api: KubeApiServer) -> None:
    from tenantops.act.kubeclient import api_client

    kube_api.add_namespace(NS)
    apps = client.AppsV1Api(api_client(kube_api.url))
    body = yaml.safe_load(web(replicas=3))
    apps.patch_namespaced_deployment("web", NS, body, field_manager="pipeline",
                                     _content_type="application/apply-patch+yaml")
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 6}}, field_manager="tenantops")
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment("web", NS, body, field_manager="pipeline",
                                         _content_type="application/apply-patch+yaml")
    status = json.loads(caught.value.body)
    assert caught.value.status == 409 and status["reason"] == "Conflict"
    assert status["details"]["causes"] == [{"type": "FieldManagerConflict", "field": ".spec.replicas",
                                            "message": 'conflict with "tenantops" with subresource "scale" using '
                                                       "apps/v1"}]
    with pytest.raises(ApiException) as unnamed:
        apps.patch_namespaced_deployment("web", NS, body, _content_type="application/apply-patch+yaml")
    assert unnamed.value.status == 400 and "fieldManager is required" in unnamed.value.body
    apps.patch_namespaced_deployment("web", NS, body, field_manager="pipeline", force=True,
                                     _content_type="application/apply-patch+yaml")
    assert kube_api.replicas(NS, "web") == 3


def test_kubectl_get_pods_shows_each_deployments_replicas(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    """`kubectl get pods`, what a user types first to see what the controller scaled, was "the server
    doesn't have a resource type pods". A Deployment's pods follow its replicas and ready count, named as
    a ReplicaSet names them (the metrics policy reads the workload back from that name)."""
    kube_api.auto_ready = False
    kube_api.add_deployment(NS, "api", replicas=2)
    kube_api.set_ready(NS, "api", 2)
    kube_api.add_deployment("tenant-globex", "worker", replicas=1)
    kube_api.set_replicas(NS, "api", 3)  # scaled up: the new pod is not ready yet
    rows = table(kubectl("get", "pods", "-n", NS).stdout)
    assert sorted((r["READY"], r["STATUS"]) for r in rows) == [("0/1", "ContainerCreating"), ("1/1", "Running"),
                                                               ("1/1", "Running")]
    assert all(re.fullmatch(r"api-[a-z0-9]+-[a-z0-9]+", r["NAME"]) for r in rows)
    everywhere = table(kubectl("get", "po", "-A", "-l", "app=worker").stdout)
    assert [(r["NAMESPACE"], r["NAME"].split("-")[0]) for r in everywhere] == [("tenant-globex", "worker")]
    described = kubectl("describe", "pod", rows[0]["NAME"], "-n", NS).stdout
    assert "Controlled By:  ReplicaSet/api-" in described
    refused = kubectl("delete", "pod", rows[0]["NAME"], "-n", NS, check=False)
    assert refused.returncode == 1 and "MethodNotAllowed" in refused.stderr
    kube_api.set_replicas(NS, "api", 1)
    assert len(table(kubectl("get", "pods", "-n", NS).stdout)) == 1


def test_kubectl_get_rs_shows_the_replica_set_the_pods_name_as_their_owner(kube_api: KubeApiServer,
                                                                           kubectl: Kubectl) -> None:
    """The pods said "Controlled By: ReplicaSet/api-<hash>" while `kubectl get rs` answered that the server
    has no such resource type. Each Deployment's ReplicaSet follows its replicas and ready count, is owned by
    it, and is what `kubectl describe deploy` names as its NewReplicaSet; it is read-only."""
    kube_api.auto_ready = False
    kube_api.add_deployment(NS, "api", replicas=2)
    kube_api.set_ready(NS, "api", 2)
    kube_api.set_replicas(NS, "api", 3)
    [row] = table(kubectl("get", "rs", "-n", NS).stdout)
    assert (row["DESIRED"], row["CURRENT"], row["READY"]) == ("3", "3", "2")
    [pod_owner] = {p["metadata"]["ownerReferences"][0]["name"]
                   for p in json.loads(kubectl("get", "pods", "-n", NS, "-o", "json").stdout)["items"]}
    assert row["NAME"] == pod_owner
    replica_set = json.loads(kubectl("get", "rs", row["NAME"], "-n", NS, "-o", "json").stdout)
    [owner] = replica_set["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Deployment", "api",
                                                            kube_api.deployment(NS, "api")["metadata"]["uid"])
    described = kubectl("describe", "deploy", "api", "-n", NS).stdout
    assert f"NewReplicaSet:   {row['NAME']} (3/3 replicas created)" in described
    refused = kubectl("delete", "rs", row["NAME"], "-n", NS, check=False)
    assert refused.returncode == 1 and "MethodNotAllowed" in refused.stderr


def test_kubectl_describe_shows_the_defaulted_strategy_and_wait_sees_availability(kube_api: KubeApiServer,
                                                                                  kubectl: Kubectl) -> None:
    kube_api.add_deployment(NS, "api", replicas=2)
    described = kubectl("describe", "deployment/api", "-n", NS).stdout
    assert "StrategyType:           RollingUpdate" in described
    assert "25% max unavailable, 25% max surge" in described
    assert any(line.split()[:3] == ["Available", "True", "MinimumReplicasAvailable"]
               for line in described.splitlines())
    assert "condition met" in kubectl("wait", "--for=condition=Available", "deployment/api", "-n", NS,
                                      "--timeout=10s").stdout
    as_yaml = yaml.safe_load(kubectl("get", "deployment/api", "-n", NS, "-o", "yaml").stdout)
    assert as_yaml["spec"]["revisionHistoryLimit"] == 10 and as_yaml["spec"]["progressDeadlineSeconds"] == 600


def test_kubectl_wait_for_available_follows_the_rolling_updates_fence_post(kube_api: KubeApiServer,
                                                                          kubectl: Kubectl) -> None:
    # Four replicas under the default 25% maxUnavailable: available with three ready, not with two.
    kube_api.auto_ready = False
    kube_api.add_deployment(NS, "api", replicas=4)
    kube_api.set_ready(NS, "api", 2)
    waited = kubectl("wait", "--for=condition=Available", "deployment/api", "-n", NS, "--timeout=1s", check=False)
    assert waited.returncode != 0
    status = json.loads(kubectl("get", "deployment/api", "-n", NS, "-o", "json").stdout)["status"]
    available = next(c for c in status["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert status["unavailableReplicas"] == 2
    kube_api.set_ready(NS, "api", 3)
    assert "condition met" in kubectl("wait", "--for=condition=Available", "deployment/api", "-n", NS,
                                      "--timeout=10s").stdout
    recovered = json.loads(kubectl("get", "deployment/api", "-n", NS, "-o", "json").stdout)["status"]
    progressing = next(c for c in recovered["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "ReplicaSetUpdated"  # one replica still unavailable


def test_kubectl_delete_dry_run_deletes_nothing_and_preconditions_hold(kube_api: KubeApiServer,
                                                                       kubectl: Kubectl, tmp_path: Path) -> None:
    # kubectl puts `dryRun` in the DeleteOptions body, not in the query: it was read from the query only,
    # so `kubectl delete --dry-run=server` deleted for real (a namespace with every Deployment in it).
    kube_api.add_deployment(NS, "api", replicas=2)
    assert "(server dry run)" in kubectl("delete", "deployment/api", "-n", NS, "--dry-run=server").stdout
    assert "(server dry run)" in kubectl("delete", "namespace", NS, "--dry-run=server").stdout
    assert kube_api.replicas(NS, "api") == 2
    assert [r["NAME"] for r in table(kubectl("get", "deploy", "-n", NS).stdout)] == ["api"]
    apps = client.AppsV1Api(config.new_client_from_config(str(kube_api.write_kubeconfig(tmp_path / "python"))))
    stale = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1"))
    with pytest.raises(ApiException) as refused:
        apps.delete_namespaced_deployment("api", NS, body=stale)
    assert refused.value.status == 409 and "Precondition failed" in json.loads(refused.value.body)["message"]
    current = apps.read_namespaced_deployment("api", NS).metadata.resource_version
    apps.delete_namespaced_deployment(
        "api", NS, body=client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version=current)))
    assert kube_api.deployment(NS, "api") is None


def test_kubectl_create_dry_run_meets_an_existing_name_as_a_create_would(kube_api: KubeApiServer,
                                                                         kubectl: Kubectl) -> None:
    # A server dry run is the check before the real thing: it must refuse what the create would refuse.
    kube_api.add_deployment(NS, "api", replicas=2)
    manifest = yaml.safe_dump(kube_api.deployment(NS, "api"))
    refused = kubectl("create", "-f", "-", "--dry-run=server", stdin=manifest, check=False)
    assert refused.returncode == 1 and "AlreadyExists" in refused.stderr
    fresh = kubectl("create", "deployment", "web", "--image=nginx", "-n", NS, "--dry-run=server", "-o", "json")
    assert json.loads(fresh.stdout)["metadata"]["name"] == "web" and kube_api.deployment(NS, "web") is None


def test_kubectl_auth_can_i_and_whoami_answer(kubectl: Kubectl) -> None:
    """They answered "the server could not find the requested resource (/apis/authorization.k8s.io/v1/...)"."""
    assert kubectl("auth", "can-i", "patch", "deployments/scale", "-n", NS).stdout.strip() == "yes"
    listed = [line.split() for line in kubectl("auth", "can-i", "--list", "-n", NS).stdout.splitlines()[1:]]
    assert listed == [["*.*", "[]", "[]", "[*]"], ["[*]", "[]", "[*]"]]  # every resource; every non-resource URL
    assert "system:anonymous" in kubectl("auth", "whoami").stdout


def test_kubectl_logs_reads_a_deployments_pod(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    """It printed "the server could not find the requested resource (.../pods/<name>/log)" and exited 1."""
    kube_api.add_deployment(NS, "api", replicas=2)
    result = kubectl("logs", "-n", NS, "deploy/api", "--tail", "20")
    assert result.stdout == "" and "Found 2 pods" in result.stderr


def test_kubectl_get_nodes_and_describe_node_list_the_pods_on_it(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    """`kubectl get nodes` was "the server doesn't have a resource type nodes"."""
    kube_api.add_deployment(NS, "api", replicas=2)
    rows = table(kubectl("get", "nodes").stdout)
    assert [(r["NAME"], r["STATUS"]) for r in rows] == [("tenantops-lab", "Ready")]
    described = kubectl("describe", "node", "tenantops-lab").stdout
    assert "Non-terminated Pods:          (2 in total)" in described


def test_kubectl_cluster_info_names_the_control_plane(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    """It ended "error: the server doesn't have a resource type services" (exit 1)."""
    result = kubectl("cluster-info")
    assert f"is running at {kube_api.url}" in re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert kubectl("get", "svc", "-A").stderr.strip() == "No resources found"


def test_kubectl_get_pods_watch_prints_the_pods_a_scale_adds(kube_api: KubeApiServer, tmp_path: Path) -> None:
    """It printed the pods and then "Error from server (MethodNotAllowed)" (exit 1)."""
    kube_api.add_deployment(NS, "api", replicas=1)
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    watcher = subprocess.Popen(["kubectl", "--cache-dir", str(tmp_path / "cache"), "get", "pods", "-n", NS, "-w"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kubectl_env(kubeconfig))
    try:
        first = read_lines_until(watcher, 2, timeout=30)  # header + the one pod
        assert first[1].split()[1:3] == ["1/1", "Running"]
        deadline = time.monotonic() + 10
        while not any("watch" in r.query and r.path.endswith("/pods") for r in kube_api.requests(method="GET")) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        kube_api.set_replicas(NS, "api", 3)
        added = read_lines_until(watcher, 2, timeout=30)
        assert len(added) == 2 and all(line.split()[1:3] == ["1/1", "Running"] for line in added)
        assert {line.split()[0] for line in added}.isdisjoint({first[1].split()[0]})
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def test_kubectl_get_raw_health_checks_print_ok(kubectl: Kubectl) -> None:
    """They printed {"status": "ok"}: the apiserver's /healthz, /readyz and /livez answer the text "ok"."""
    for path in ("/healthz", "/readyz", "/livez"):
        assert kubectl("get", "--raw", path).stdout == "ok"


def test_kubectl_reads_a_deployments_status_subresource(kube_api: KubeApiServer, kubectl: Kubectl) -> None:
    """`kubectl get deploy X --subresource=status` was 404 NotFound."""
    kube_api.add_deployment(NS, "api", replicas=2)
    [row] = table(kubectl("get", "deploy", "api", "-n", NS, "--subresource=status").stdout)
    assert (row["NAME"], row["READY"]) == ("api", "2/2")
    shown = json.loads(kubectl("get", "deploy", "api", "-n", NS, "--subresource=status", "-o", "json").stdout)
    assert shown["status"]["readyReplicas"] == 2


def test_kubectl_prints_a_deployments_scale_subresource_with_the_apiservers_columns(kube_api: KubeApiServer,
                                                                                   kubectl: Kubectl) -> None:
    """`kubectl get deploy X --subresource=scale` printed only NAME and AGE (no Table was served)."""
    kube_api.add_deployment(NS, "api", replicas=3)
    assert table(kubectl("get", "deploy", "api", "-n", NS, "--subresource=scale").stdout) == [
        {"NAME": "api", "DESIRED": "3", "AVAILABLE": "3"}]
    shown = json.loads(kubectl("get", "deploy", "api", "-n", NS, "--subresource=scale", "-o", "json").stdout)
    assert (shown["kind"], shown["spec"]["replicas"]) == ("Scale", 3)


def test_kubectl_explain_reads_the_served_kinds_schemas(kubectl: Kubectl) -> None:
    """`kubectl explain` failed: "GVK ... not found in OpenAPI schema" (the documents carried no schemas)."""
    replicas = kubectl("explain", "deployment.spec.replicas").stdout
    assert "FIELD: replicas <integer>" in replicas and "Number of desired pods." in replicas
    containers = kubectl("explain", "pods.spec.containers").stdout
    assert "FIELD: containers <[]Container>" in containers and "image\t<string>" in containers
    assert "holderIdentity\t<string>" in kubectl("explain", "lease.spec").stdout
    assert "involvedObject\t<ObjectReference> -required-" in kubectl("explain", "events").stdout
    missing = kubectl("explain", "deployment.spec.replica", check=False)
    assert missing.returncode == 1 and 'field "replica" does not exist' in missing.stderr


def test_kubectl_rollout_history_and_undo_go_back_through_the_replica_sets(kube_api: KubeApiServer,
                                                                           kubectl: Kubectl) -> None:
    """`kubectl rollout undo` was "no rollout history found": only the current ReplicaSet was derived, and
    nothing carried a revision."""
    kube_api.add_deployment(NS, "api", replicas=2, image="registry.local/app:1")
    assert "no rollout history found" in kubectl("rollout", "undo", "deploy/api", "-n", NS, check=False).stderr
    for image in ("registry.local/app:2", "registry.local/app:3"):
        kubectl("set", "image", "deploy/api", f"api={image}", "-n", NS)
    history = table(kubectl("rollout", "history", "deploy/api", "-n", NS).stdout.split("\n", 1)[1])
    assert [r["REVISION"] for r in history] == ["1", "2", "3"]
    assert "registry.local/app:2" in kubectl("rollout", "history", "deploy/api", "-n", NS, "--revision=2").stdout

    def image() -> str:
        return str(kube_api.deployment(NS, "api")["spec"]["template"]["spec"]["containers"][0]["image"])

    kubectl("rollout", "undo", "deploy/api", "-n", NS)  # to the previous revision, 2, which becomes 4
    assert image() == "registry.local/app:2"
    history = table(kubectl("rollout", "history", "deploy/api", "-n", NS).stdout.split("\n", 1)[1])
    assert [r["REVISION"] for r in history] == ["1", "3", "4"]
    replica_sets = {r["NAME"]: r["DESIRED"] for r in table(kubectl("get", "rs", "-n", NS).stdout)}
    assert sorted(replica_sets.values()) == ["0", "0", "2"]  # one ReplicaSet per template: the old ones at 0
    kubectl("rollout", "undo", "deploy/api", "-n", NS, "--to-revision=1")
    assert image() == "registry.local/app:1"
    assert kube_api.deployment(NS, "api")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "5"
    described = kubectl("describe", "deploy", "api", "-n", NS).stdout
    [new] = re.findall(r"NewReplicaSet:\s+(\S+) \(2/2 replicas created\)", described)
    assert new in replica_sets and "OldReplicaSets:" in described
    assert "revision 9" in kubectl("rollout", "undo", "deploy/api", "-n", NS, "--to-revision=9", check=False).stderr
    assert "successfully rolled out" in kubectl("rollout", "status", "deploy/api", "-n", NS).stdout


def test_kubectl_describe_and_get_events_show_the_deployment_controllers_scaling(kube_api: KubeApiServer,
                                                                                  kubectl: Kubectl) -> None:
    """`kubectl describe deploy` read "Events: <none>" after a scale, where a cluster shows ScalingReplicaSet."""
    kube_api.add_deployment(NS, "api", replicas=2)
    kubectl("scale", "deploy/api", "-n", NS, "--replicas=5")
    described = kubectl("describe", "deploy", "api", "-n", NS).stdout
    assert re.search(r"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set "
                     r"api-\w+ from 2 to 5", described)
    rows = table(kubectl("get", "events", "-n", NS).stdout)
    assert [(r["REASON"], r["OBJECT"]) for r in rows] == [("ScalingReplicaSet", "deployment/api")] * 2


def test_kubectl_rollout_status_waits_for_the_updated_replicas_to_be_available(tmp_path: Path) -> None:
    with KubeApiServer(auto_ready=False) as kube:
        kube.add_deployment(NS, "api", replicas=3)
        kube.set_ready(NS, "api", 1)
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")

        def become_ready() -> None:
            for ready in (2, 3):
                time.sleep(1.0)
                kube.set_ready(NS, "api", ready)

        threading.Thread(target=become_ready, daemon=True).start()
        result = subprocess.run(["kubectl", "rollout", "status", "deploy/api", "-n", NS, "--timeout=20s"],
                                capture_output=True, text=True, env=kubectl_env(kubeconfig), timeout=60)
    assert result.returncode == 0, result.stderr
    *waiting, done = result.stdout.splitlines()
    assert done == 'deployment "api" successfully rolled out'
    step = r"rollout to finish: (\d) of 3 updated replicas are available"
    counts = [int(n) for n in re.findall(step, "\n".join(waiting))]
    assert counts and counts == sorted(set(counts)) and len(counts) == len(waiting)  # it waited, and saw each step
