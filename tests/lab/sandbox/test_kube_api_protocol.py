"""The stand-in's API protocol through the official Python client and raw HTTP: discovery, watch with
resourceVersion, chunked request bodies, selectors and the apiserver's validation."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tenantops.act.kubeclient import api_client
from tenantops_lab.sandbox.kube_api import KubeApiServer
from tenantops_lab.sandbox.kube_errors import ApiError
from tenantops_lab.sandbox.kube_fields import strip_unknown
from tenantops_lab.sandbox.kube_patch import strategic_merge_patch
from tenantops_lab.sandbox.kube_watch import EventLog, WatchEvent, field_selector, follow, label_selector

pytestmark = pytest.mark.integration

NS = "tenant-acme"


def apps(server: KubeApiServer) -> client.AppsV1Api:
    return client.AppsV1Api(api_client(server.url))


def later(seconds: float, *actions: object) -> threading.Thread:
    def run() -> None:
        for action in actions:
            time.sleep(seconds)
            action()  # type: ignore[operator]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_discovery_names_groups_resources_and_the_scale_subresource(kube_api: KubeApiServer) -> None:
    api = api_client(kube_api.url)
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name: g.preferred_version.group_version for g in client.ApisApi(api).get_api_versions().groups}
    assert groups == {"apps": "apps/v1", "coordination.k8s.io": "coordination.k8s.io/v1",
                      "authorization.k8s.io": "authorization.k8s.io/v1",
                      "authentication.k8s.io": "authentication.k8s.io/v1"}
    resources = {r.name: r for r in client.AppsV1Api(api).get_api_resources().resources}
    assert resources["deployments"].short_names == ["deploy"] and "watch" in resources["deployments"].verbs
    scale = resources["deployments/scale"]
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    assert {r.name for r in client.CoreV1Api(api).get_api_resources().resources} == {"namespaces", "nodes", "pods",
                                                                                  "pods/log", "services", "events"}
    assert client.VersionApi(api).get_code().git_version.startswith("v1.31")


def test_python_client_watch_streams_changes_after_the_lists_resource_version(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, "api", replicas=2)
    kube_api.add_deployment("tenant-globex", "api", replicas=1)  # another namespace: not in this watch
    listed = apps(kube_api).list_namespaced_deployment(NS)
    assert int(listed.metadata.resource_version) == kube_api.revision
    later(0.2, lambda: kube_api.set_replicas(NS, "api", 7), lambda: kube_api.set_replicas("tenant-globex", "api", 3),
          lambda: kube_api.add_deployment(NS, "worker", replicas=1))
    events = []
    for event in watch.Watch().stream(apps(kube_api).list_namespaced_deployment, NS,
                                      resource_version=listed.metadata.resource_version, timeout_seconds=2):
        events.append((event["type"], event["object"].metadata.name, event["object"].spec.replicas))
    assert events == [("MODIFIED", "api", 7), ("ADDED", "worker", 1)]


def test_watch_without_a_resource_version_starts_with_the_current_objects(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, "api", replicas=2)
    kube_api.add_deployment(NS, "worker", replicas=1)
    later(0.2, lambda: kube_api.set_replicas(NS, "worker", 4))
    events = [(e["type"], e["object"].metadata.name, e["object"].spec.replicas)
              for e in watch.Watch().stream(apps(kube_api).list_namespaced_deployment, NS,
                                            field_selector="metadata.name=worker", timeout_seconds=1)]
    assert events == [("ADDED", "worker", 1), ("MODIFIED", "worker", 4)]


def test_cluster_wide_watch_of_leases_sees_every_namespace_and_deletions(kube_api: KubeApiServer) -> None:
    coordination = client.CoordinationV1Api(api_client(kube_api.url))
    for ns in ("tenantops", "kube-system"):
        kube_api.add_namespace(ns)
    start = str(kube_api.revision)

    def create(ns: str) -> None:
        coordination.create_namespaced_lease(ns, client.V1Lease(metadata=client.V1ObjectMeta(name="leader"),
                                                                spec=client.V1LeaseSpec(holder_identity=ns)))

    later(0.2, lambda: create("tenantops"), lambda: create("kube-system"),
          lambda: coordination.delete_namespaced_lease("leader", "tenantops"))
    events = [(e["type"], e["object"].metadata.namespace)
              for e in watch.Watch().stream(coordination.list_lease_for_all_namespaces, resource_version=start,
                                            timeout_seconds=2)]
    assert events == [("ADDED", "tenantops"), ("ADDED", "kube-system"), ("DELETED", "tenantops")]
    assert [lease.metadata.namespace for lease in coordination.list_lease_for_all_namespaces().items] == [
        "kube-system"]


def test_a_watch_from_compacted_history_is_410_expired(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, "api")
    old = str(kube_api.revision - 1)
    kube_api.compact()
    with pytest.raises(ApiException) as caught:
        list(watch.Watch().stream(apps(kube_api).list_namespaced_deployment, NS, resource_version=old,
                                  timeout_seconds=2))
    assert caught.value.status == 410 and "too old resource version" in caught.value.reason


def test_stop_ends_an_open_watch_promptly() -> None:
    server = KubeApiServer().start()
    server.add_deployment(NS, "api")
    ended = threading.Event()

    def consume() -> None:
        for _ in watch.Watch().stream(apps(server).list_namespaced_deployment, NS, timeout_seconds=60):
            pass
        ended.set()

    threading.Thread(target=consume, daemon=True).start()
    deadline = time.monotonic() + 5
    while server.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert ended.wait(5) and time.monotonic() - started < 3


def raw(server: KubeApiServer, method: str, path: str, chunks: list[bytes], content_type: str) -> tuple[int, dict]:
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request(method, path, body=iter(chunks), encode_chunked=True,
                           headers={"Content-Type": content_type, "Transfer-Encoding": "chunked"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_chunked_request_bodies_are_read_whole(kube_api: KubeApiServer) -> None:
    kube_api.add_deployment(NS, "api", replicas=1)
    body = json.dumps({"spec": {"replicas": 6}}).encode()
    status, scale = raw(kube_api, "PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/api/scale",
                        [body[:5], body[5:11], body[11:]], "application/merge-patch+json")
    assert status == 200 and scale["spec"]["replicas"] == 6 and kube_api.replicas(NS, "api") == 6
    [record] = kube_api.writes()
    assert record.body == {"spec": {"replicas": 6}}
    status, _ = raw(kube_api, "PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/api/scale",
                    [b'{"spec": '], "application/merge-patch+json")
    assert status == 400 and kube_api.replicas(NS, "api") == 6


def deployment(requests: dict[str, str], limits: dict[str, str], labels: dict[str, str] | None = None) -> dict:
    labels = labels or {"app": "web"}
    return {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [
            {"name": "web", "image": "web:1", "resources": {"requests": requests, "limits": limits}}]}}}}


def test_requests_above_limits_are_422_with_the_field_named(kube_api: KubeApiServer) -> None:
    kube_api.add_namespace(NS)
    with pytest.raises(ApiException) as caught:
        apps(kube_api).create_namespaced_deployment(NS, deployment({"cpu": "1500m"}, {"cpu": "1"}))
    status = json.loads(caught.value.body)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    [cause] = status["details"]["causes"]
    assert cause["field"] == "spec.template.spec.containers[0].resources.requests"
    assert "must be less than or equal to cpu limit of 1" in cause["message"]
    assert apps(kube_api).list_namespaced_deployment(NS).items == []
    created = apps(kube_api).create_namespaced_deployment(NS, deployment({"cpu": "1"}, {"cpu": "1", "memory": "1Gi"}))
    assert created.spec.template.spec.containers[0].resources.requests == {"cpu": "1", "memory": "1Gi"}  # defaulted


def test_a_selector_that_does_not_select_the_template_and_bad_quantities_are_422(kube_api: KubeApiServer) -> None:
    kube_api.add_namespace(NS)
    for body, field in ((deployment({}, {}, labels={"app": "other"}), "spec.template.metadata.labels"),
                        (deployment({"memory": "lots"}, {}), "spec.template.spec.containers[0].resources.requests")):
        with pytest.raises(ApiException) as caught:
            apps(kube_api).create_namespaced_deployment(NS, body)
        assert caught.value.status == 422
        causes = json.loads(caught.value.body)["details"]["causes"]
        assert causes[0]["field"].startswith(field)


def test_seeding_a_request_above_its_limit_is_refused_too(kube_api: KubeApiServer) -> None:
    with pytest.raises(ApiError) as caught:
        kube_api.add_deployment(NS, "api", cpu="2", limits={"cpu": "1"})
    assert caught.value.code == 422 and kube_api.deployment(NS, "api") is None


def obj(labels: dict[str, str], name: str = "x", namespace: str = "ns") -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


def test_label_selectors_of_every_operator() -> None:
    labeled = obj({"app": "api", "tier": "web", "app.kubernetes.io/name": "tenantops"})
    for text, expected in [("app=api", True), ("app==api,tier=web", True), ("app!=api", False),
                           ("tier in (web, db)", True), ("tier notin (web)", False), ("tier", True),
                           ("!tier", False), ("missing", False), ("!missing", True),
                           ("app.kubernetes.io/name=tenantops", True), ("", True)]:
        assert label_selector(text)(labeled) is expected, text
    with pytest.raises(ApiError) as caught:
        label_selector("app=(")
    assert caught.value.code == 400


def test_field_selectors_name_and_namespace_only() -> None:
    assert field_selector("metadata.name=x,metadata.namespace=ns")(obj({}))
    assert not field_selector("metadata.name!=x")(obj({}))
    with pytest.raises(ApiError) as caught:
        field_selector("spec.replicas=1")
    assert caught.value.code == 400 and "field label not supported" in caught.value.message


label_values = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,6}[a-z0-9])?", fullmatch=True)


@given(st.dictionaries(st.sampled_from(["app", "tier", "team"]), label_values, max_size=3),
       st.sampled_from(["app", "tier", "team"]), label_values)
def test_equality_and_inequality_selectors_partition_every_object(labels: dict[str, str], key: str,
                                                                   value: str) -> None:
    target = obj(labels)
    assert label_selector(f"{key}={value}")(target) != label_selector(f"{key}!={value}")(target)


def test_the_python_client_verifies_the_stand_ins_tls_certificate() -> None:
    with KubeApiServer(tls=True) as server:
        server.add_deployment(NS, "api")
        assert server.certificate is not None
        trusted = client.Configuration()
        trusted.host, trusted.ssl_ca_cert = server.url, str(server.certificate.ca)
        assert [d.metadata.name for d in client.AppsV1Api(client.ApiClient(trusted)).list_namespaced_deployment(
            NS).items] == ["api"]
        untrusted = client.Configuration()
        untrusted.host, untrusted.retries = server.url, False
        with pytest.raises(Exception, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            client.AppsV1Api(client.ApiClient(untrusted)).list_namespaced_deployment(NS)
    assert not server.certificate  # the throwaway CA is deleted with the server


def test_unknown_fields_are_found_where_the_apiserver_finds_them() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "labelz": {}},
                  "spec": {"replicas": 1, "template": {"spec": {"containers": [
                      {"name": "a", "image": "a:1", "resource": {}}, {"name": "b", "image": "b:1"}]}}},
                  "status": {"readyReplicas": 1}}
    kept, unknown = strip_unknown(deployment, "Deployment", "v1")
    assert [u.path for u in unknown] == ["metadata.labelz", "spec.template.spec.containers[0].resource"]
    assert "labelz" not in kept["metadata"] and "resource" not in kept["spec"]["template"]["spec"]["containers"][0]
    assert kept["status"] == {"readyReplicas": 1} and kept["spec"]["replicas"] == 1
    assert strip_unknown({"spec": {"holderIdentity": "a", "holder": "b"}}, "Lease", "v1")[1][0].path == "spec.holder"


def test_strategic_merge_directives_kubectl_apply_sends() -> None:
    strategy = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}
    patch = {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}
    assert strategic_merge_patch(strategy, patch) == {"strategy": {"type": "Recreate"}}
    ordered = {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}], "containers": [{"name": "b", "x": 1}]}
    assert strategic_merge_patch({"containers": [{"name": "a"}]}, ordered) == {
        "containers": [{"name": "a"}, {"name": "b", "x": 1}]}
    finalizers = {"$deleteFromPrimitiveList/finalizers": ["x"]}
    assert strategic_merge_patch({"finalizers": ["x", "y"]}, finalizers) == {"finalizers": ["y"]}


def test_history_keeps_the_last_events_and_a_watch_from_before_them_is_410() -> None:
    log = EventLog(threading.RLock(), capacity=3)
    for revision in range(1, 11):
        log.append(WatchEvent(revision, "MODIFIED", "deployments", NS, {}))
    assert [e.revision for e in log.after(7)] == [8, 9, 10]
    with pytest.raises(ApiError) as caught:
        log.after(6)  # events 7 and earlier are gone: a watcher this far behind must relist
    assert caught.value.code == 410 and caught.value.reason == "Expired"
    stopping = threading.Event()
    with pytest.raises(ApiError):
        list(follow(log, 2, lambda e: True, deadline=time.monotonic() + 1, stopping=stopping, gone=lambda: False,
                    clock=time.monotonic))


def test_bad_watch_parameters_are_400(kube_api: KubeApiServer) -> None:
    kube_api.add_namespace(NS)
    for query in ("watch=1&resourceVersion=abc", "watch=1&timeoutSeconds=soon"):
        status, body = raw(kube_api, "GET", f"/apis/apps/v1/namespaces/{NS}/deployments?{query}", [], "")
        assert status == 400 and body["reason"] == "BadRequest"


def test_self_subject_reviews_answer_as_an_always_allow_apiserver(kube_api: KubeApiServer) -> None:
    """`kubectl auth can-i`, `auth can-i --list` and `auth whoami` create these reviews; the stand-in answered
    404 to each. They are answered (201) and never stored; any other verb on them is 405."""
    api = api_client(kube_api.url)
    authz = client.AuthorizationV1Api(api)
    access = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            namespace=NS, verb="patch", group="apps", resource="deployments", subresource="scale"))))
    assert access.status.allowed is True and access.spec.resource_attributes.subresource == "scale"
    rules = authz.create_self_subject_rules_review(client.V1SelfSubjectRulesReview(
        spec=client.V1SelfSubjectRulesReviewSpec(namespace=NS)))
    assert [(r.verbs, r.api_groups, r.resources) for r in rules.status.resource_rules] == [(["*"], ["*"], ["*"])]
    assert rules.status.incomplete is False
    who = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    assert who.status.user_info.username == "system:anonymous"  # no token demanded: anonymous, as the apiserver
    assert kube_api.writes() and kube_api.revision == 0  # answered, nothing stored

    with pytest.raises(ApiException) as neither:  # exactly one of the two attribute kinds
        authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec()))
    assert neither.value.status == 422 and json.loads(neither.value.body)["reason"] == "Invalid"
    with pytest.raises(ApiException) as no_namespace:
        authz.create_self_subject_rules_review(client.V1SelfSubjectRulesReview(
            spec=client.V1SelfSubjectRulesReviewSpec()))
    assert no_namespace.value.status == 400
    listed = api.call_api("GET", f"{kube_api.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    assert listed.status == 405 and json.loads(listed.read())["reason"] == "MethodNotAllowed"


def test_self_subject_review_names_the_admin_when_a_token_is_demanded() -> None:
    with KubeApiServer(token="s3cret") as kube:
        api = api_client(kube.url, token="s3cret")
        who = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    assert who.status.user_info.username == "admin" and "system:masters" in who.status.user_info.groups


def test_the_python_client_reads_pods_running_and_being_created() -> None:
    """A pod's container status lacked `imageID`, which the client's model requires: listing pods raised."""
    with KubeApiServer(auto_ready=False) as kube:
        kube.add_deployment(NS, "api", replicas=2, image="registry.local:5000/app:1")
        kube.set_ready(NS, "api", 1)
        core = client.CoreV1Api(api_client(kube.url))
        listed = core.list_pod_for_all_namespaces().items
        statuses = sorted((pod.status.container_statuses[0] for pod in listed), key=lambda s: not s.ready)
        running, creating = statuses
        assert running.image_id.startswith("registry.local:5000/app@sha256:")
        assert running.container_id.startswith("containerd://")
        assert (creating.image_id, creating.container_id, creating.state.waiting.reason) == \
            ("", None, "ContainerCreating")
        one = core.read_namespaced_pod(listed[0].metadata.name, NS)
        assert one.spec.node_name == "tenantops-lab"


def test_a_pods_log_is_text_and_the_kubelets_refusals_are_its_400s() -> None:
    """`kubectl logs` read `pods/<name>/log`, which answered 404 for a pod `get pods` had just listed."""
    with KubeApiServer(auto_ready=False) as kube:
        kube.add_deployment(NS, "api", replicas=2)
        kube.set_ready(NS, "api", 1)
        core = client.CoreV1Api(api_client(kube.url))
        running, creating = sorted(core.list_namespaced_pod(NS).items,
                                   key=lambda pod: not pod.status.container_statuses[0].ready)
        assert core.read_namespaced_pod_log(running.metadata.name, NS) == ""  # nothing runs in it: no output
        assert core.read_namespaced_pod_log(running.metadata.name, NS, container="api") == ""
        with pytest.raises(ApiException) as waiting:
            core.read_namespaced_pod_log(creating.metadata.name, NS)
        assert waiting.value.status == 400
        assert "is waiting to start: ContainerCreating" in json.loads(waiting.value.body)["message"]
        with pytest.raises(ApiException) as wrong:
            core.read_namespaced_pod_log(running.metadata.name, NS, container="sidecar")
        assert wrong.value.status == 400
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_pod_log("api-nope-nope", NS)
        assert missing.value.status == 404 and json.loads(missing.value.body)["reason"] == "NotFound"
        logs = {r.name: r for r in core.get_api_resources().resources}["pods/log"]
        assert (logs.kind, logs.verbs) == ("Pod", ["get"])


def test_pods_are_selected_by_the_apiservers_pod_field_labels() -> None:
    """`--field-selector status.phase=Running` (and `kubectl describe node`'s `spec.nodeName=`) was 400
    "field label not supported"."""
    with KubeApiServer(auto_ready=False) as kube:
        kube.add_deployment(NS, "api", replicas=3)
        kube.set_ready(NS, "api", 2)
        core = client.CoreV1Api(api_client(kube.url))

        def names(selector: str) -> int:
            return len(core.list_pod_for_all_namespaces(field_selector=selector).items)

        assert names("status.phase=Running") == 2 and names("status.phase!=Running") == 1
        assert names("spec.nodeName=tenantops-lab,status.phase!=Failed,status.phase!=Succeeded") == 3
        assert names("spec.nodeName=elsewhere") == 0
        with pytest.raises(ApiException) as unknown:
            names("spec.containers=api")
        assert unknown.value.status == 400


def test_the_node_the_pods_name_is_listed_and_read() -> None:
    """Pods said `spec.nodeName: tenantops-lab`, but `kubectl get nodes` answered that the server has no such
    resource type, and a client reading the pod's node got 404."""
    with KubeApiServer() as kube:
        kube.add_deployment(NS, "api", replicas=1)
        core = client.CoreV1Api(api_client(kube.url))
        pod = core.list_namespaced_pod(NS).items[0]
        nodes = core.list_node().items
        assert [n.metadata.name for n in nodes] == [pod.spec.node_name]
        node = core.read_node(pod.spec.node_name)
        assert [(c.type, c.status) for c in node.status.conditions] == [("Ready", "True")]
        assert pod.status.host_ip in {a.address for a in node.status.addresses if a.type == "InternalIP"}
        with pytest.raises(ApiException) as missing:
            core.read_node("elsewhere")
        assert missing.value.status == 404 and json.loads(missing.value.body)["reason"] == "NotFound"
        with pytest.raises(ApiException) as write:
            core.delete_node(pod.spec.node_name)
        assert write.value.status == 405


def test_services_are_served_and_there_are_none() -> None:
    """`kubectl get svc` and `kubectl cluster-info` (which lists kube-system's services) were "the server
    doesn't have a resource type services"; nothing is exposed, so the lists are empty and a name is 404."""
    with KubeApiServer() as kube:
        kube.add_deployment(NS, "api", replicas=1)
        core = client.CoreV1Api(api_client(kube.url))
        assert core.list_service_for_all_namespaces().items == []
        cluster = core.list_namespaced_service("kube-system", label_selector="kubernetes.io/cluster-service=true")
        assert cluster.items == []
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_service("api", NS)
        assert missing.value.status == 404 and json.loads(missing.value.body)["details"]["kind"] == "services"


def test_a_pod_watch_sees_pods_come_go_and_get_ready_as_the_deployment_is_scaled() -> None:
    """`kubectl get pods -w` was 405 MethodNotAllowed: pods were listed but could not be watched."""
    with KubeApiServer(auto_ready=False) as kube:
        kube.add_deployment(NS, "api", replicas=1)
        kube.set_ready(NS, "api", 1)
        kube.add_deployment("tenant-globex", "api", replicas=1)  # another namespace: not in this watch
        core = client.CoreV1Api(api_client(kube.url))
        listed = core.list_namespaced_pod(NS)
        [first] = [p.metadata.name for p in listed.items]
        later(0.2, lambda: kube.set_replicas(NS, "api", 2), lambda: kube.set_ready(NS, "api", 2),
              lambda: kube.set_replicas("tenant-globex", "api", 3), lambda: kube.set_replicas(NS, "api", 1))
        events = [(e["type"], e["object"].metadata.name, e["object"].status.phase)
                  for e in watch.Watch().stream(core.list_namespaced_pod, NS, timeout_seconds=2,
                                                resource_version=listed.metadata.resource_version)]
    [(added, second, pending), (modified, ready, running), (deleted, gone, _)] = events
    assert (added, pending, modified, ready, running, deleted) == ("ADDED", "Pending", "MODIFIED", second,
                                                                   "Running", "DELETED")
    assert second != first and gone == second  # the first pod was untouched by all of it


def test_a_replica_set_watch_follows_its_counts() -> None:
    with KubeApiServer() as kube:
        kube.add_deployment(NS, "api", replicas=1)
        start = str(kube.revision)
        later(0.2, lambda: kube.set_replicas(NS, "api", 4))
        events = [(e["type"], e["object"].spec.replicas) for e in watch.Watch().stream(
            client.AppsV1Api(api_client(kube.url)).list_namespaced_replica_set, NS, resource_version=start,
            timeout_seconds=1)]
    assert events == [("MODIFIED", 4)]


def test_the_status_subresource_reads_the_deployment_and_writes_only_its_status(kube_api: KubeApiServer) -> None:
    """`deployments/{name}/status` was 404: `kubectl get --subresource=status` and a controller's
    `replace_namespaced_deployment_status` had nothing to talk to."""
    kube_api.add_deployment(NS, "api", replicas=2)
    api = apps(kube_api)
    read = api.read_namespaced_deployment_status("api", NS)
    assert (read.kind, read.spec.replicas, read.status.ready_replicas) == ("Deployment", 2, 2)
    patched = api.patch_namespaced_deployment_status(
        "api", NS, {"spec": {"replicas": 9}, "status": {"readyReplicas": 1, "replicas": 2}})
    assert (patched.spec.replicas, patched.status.ready_replicas) == (2, 1)  # the spec it named is dropped
    assert patched.metadata.resource_version != read.metadata.resource_version
    old = read.metadata.resource_version
    stale = client.V1Deployment(metadata=client.V1ObjectMeta(name="api", resource_version=old),
                                spec=read.spec, status=read.status)
    with pytest.raises(ApiException) as conflict:
        api.replace_namespaced_deployment_status("api", NS, stale)
    assert conflict.value.status == 409 and json.loads(conflict.value.body)["reason"] == "Conflict"
    with pytest.raises(ApiException) as missing:
        api.read_namespaced_deployment_status("nope", NS)
    assert missing.value.status == 404


def test_openapi_v3_documents_carry_each_served_kinds_schema(kube_api: KubeApiServer) -> None:
    """The group versions' documents name their kinds' schemas, with the apiserver's extensions, and each
    document's URL hash changes with it (kubectl caches a document by its URL)."""
    _, root = raw(kube_api, "GET", "/openapi/v3", [], "application/json")
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert "hash=tenantops" not in url
    _, document = raw(kube_api, "GET", url, [], "application/json")
    schemas = document["components"]["schemas"]
    gvks = {tuple(sorted(g.items())) for s in schemas.values() for g in s.get("x-kubernetes-group-version-kind", [])}
    assert gvks == {(("group", "apps"), ("kind", k), ("version", "v1")) for k in ("Deployment", "ReplicaSet")}
    deployment_spec = schemas["io.k8s.api.apps.v1.DeploymentSpec"]
    assert deployment_spec["properties"]["replicas"]["type"] == "integer"
    assert deployment_spec["required"] == ["selector", "template"]
    containers = schemas["io.k8s.api.apps.v1.PodSpec"]["properties"]["containers"]
    assert (containers["x-kubernetes-patch-merge-key"], containers["items"]["allOf"][0]["$ref"]) == (
        "name", "#/components/schemas/io.k8s.api.apps.v1.Container")
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document))
    assert set(refs) <= set(schemas)  # every reference resolves within the document


def test_a_deployment_keeps_a_replica_set_per_revision_up_to_its_history_limit() -> None:
    with KubeApiServer() as kube:
        kube.add_deployment(NS, "api", replicas=3)
        api = apps(kube)
        api.patch_namespaced_deployment("api", NS, {"spec": {"revisionHistoryLimit": 2}})
        for tag in range(2, 6):
            api.patch_namespaced_deployment("api", NS, {"spec": {"template": {"spec": {"containers": [
                {"name": "api", "image": f"registry.local/app:{tag}"}]}}}})
        deployment = api.read_namespaced_deployment("api", NS)
        sets = api.list_namespaced_replica_set(NS).items
    revision = "deployment.kubernetes.io/revision"
    assert deployment.metadata.annotations[revision] == "5"
    by_revision = {rs.metadata.annotations[revision]: rs for rs in sets}
    assert sorted(by_revision) == ["3", "4", "5"]  # the current one and two old ones
    assert [by_revision[r].spec.replicas for r in ("3", "4", "5")] == [0, 0, 3]
    assert {rs.metadata.owner_references[0].uid for rs in sets} == {deployment.metadata.uid}
    assert by_revision["5"].spec.template.spec.containers[0].image == "registry.local/app:5"


def test_the_deployment_controllers_scaling_events_name_each_replica_set_it_scales() -> None:
    with KubeApiServer() as kube:
        kube.add_deployment(NS, "api", replicas=2)
        kube.set_replicas(NS, "api", 3)
        apps(kube).patch_namespaced_deployment("api", NS, {"spec": {"template": {"spec": {"containers": [
            {"name": "api", "image": "registry.local/app:2"}]}}}})
        kube.set_replicas(NS, "api", 3)  # no change: no event
        uid = kube.deployment(NS, "api")["metadata"]["uid"]
        sets = {rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs.metadata.name
                for rs in apps(kube).list_namespaced_replica_set(NS).items}
        events = client.CoreV1Api(api_client(kube.url)).list_namespaced_event(
            NS, field_selector="involvedObject.name=api").items
    assert {(e.involved_object.kind, e.involved_object.uid, e.reason, e.type, e.source.component)
            for e in events} == {("Deployment", uid, "ScalingReplicaSet", "Normal", "deployment-controller")}
    assert [e.message for e in events] == [  # listed in name order, which is the order they happened
        f"Scaled up replica set {sets['1']} from 0 to 2", f"Scaled up replica set {sets['1']} from 2 to 3",
        f"Scaled up replica set {sets['2']} from 0 to 3", f"Scaled down replica set {sets['1']} from 3 to 0"]
