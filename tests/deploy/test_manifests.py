"""The deploy/ manifests, as `kubectl kustomize` builds each overlay: valid against the Kubernetes schemas,
least-privilege RBAC, consistent with each other, with the stack's catalogue, with the settings the
controller reads, and with the Dockerfile."""

from __future__ import annotations

import copy
import functools
import importlib.util
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tenantops.config import load_config
from tenantops.config.settings import setting_variables
from tenantops.structs.naming import CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, POOLED_TENANT_ROLES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.31.0"
OVERLAYS = ("dev", "prod")
# Custom resources of the Prometheus Operator: not in the Kubernetes schemas, checked by their own tests.
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}


@functools.cache
def build(overlay: str) -> tuple[dict, ...]:
    """The overlay's objects exactly as `kubectl kustomize` (kubectl's built-in kustomize) renders them."""
    out = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
                         capture_output=True, text=True, check=True).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def of_kind(kind: str, overlay: str = "dev") -> list[dict]:
    return [d for d in build(overlay) if d["kind"] == kind]


def the(kind: str, name: str, overlay: str = "dev") -> dict:
    [doc] = [d for d in of_kind(kind, overlay) if d["metadata"]["name"] == name]
    return doc


def render_module():
    spec = importlib.util.spec_from_file_location("deploy_render", DEPLOY / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def built_docs() -> list[tuple[str, dict]]:
    """Every built object the Kubernetes schemas cover (the operator's kinds have their own test)."""
    return [(overlay, doc) for overlay in OVERLAYS for doc in build(overlay) if doc["kind"] not in OPERATOR_KINDS]


def test_both_overlays_build() -> None:
    for overlay in OVERLAYS:
        kinds = {d["kind"] for d in build(overlay)}
        assert {"Namespace", "ServiceAccount", "ClusterRole", "Role", "RoleBinding", "ConfigMap", "Deployment",
                "Service"} <= kinds, (overlay, kinds)


@pytest.mark.parametrize(("overlay", "doc"), built_docs(),
                         ids=lambda v: v if isinstance(v, str) else
                         f"{v['kind']}/{v['metadata'].get('namespace', '')}/{v['metadata']['name']}")
def test_every_built_object_is_valid_against_the_kubernetes_schema(overlay: str, doc: dict) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    bad = copy.deepcopy(the("Deployment", "tenantops-controller"))
    bad["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_every_manifest_file_is_listed_in_its_kustomization() -> None:
    kustomizations = sorted(DEPLOY.rglob("kustomization.yaml"))
    assert {p.parent.relative_to(DEPLOY).as_posix() for p in kustomizations} >= {
        "base", "overlays/dev", "overlays/prod", "components/monitoring"}
    for kustomization in kustomizations:
        data = yaml.safe_load(kustomization.read_text())
        listed = set(data.get("resources", [])) | {p["path"] for p in data.get("patches", []) if "path" in p}
        local = {p.name for p in kustomization.parent.glob("*.yaml") if p.name != "kustomization.yaml"}
        assert local <= listed, (kustomization, local - listed)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rbac_is_least_privilege(overlay: str) -> None:
    roles = of_kind("Role", overlay) + of_kind("ClusterRole", overlay)
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for key in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(key, []), (role["metadata"]["name"], key)
            assert not {"secrets", "pods", "pods/exec"} & set(rule["resources"])
            if "deployments" in rule["resources"]:  # right-sizing's read-and-patch, the live count's list
                assert role["metadata"]["name"] in ("tenantops-rightsizer", "tenantops-replica-reader")
            assert not {"delete", "deletecollection", "escalate", "bind", "impersonate", "watch"} & set(rule["verbs"])
            assert "nonResourceURLs" not in rule
    scaler = the("ClusterRole", "tenantops-scaler", overlay)
    assert scaler["rules"] == [{"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]}]
    rightsizer = the("ClusterRole", "tenantops-rightsizer", overlay)
    assert rightsizer["rules"] == [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}]
    reader = the("ClusterRole", "tenantops-replica-reader", overlay)
    assert reader["rules"] == [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}]
    events = the("ClusterRole", "tenantops-events", overlay)
    assert events["rules"] == [{"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]
    leases = the("Role", "tenantops-leases", overlay)
    assert leases["metadata"]["namespace"] == "tenantops"
    assert leases["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                "verbs": ["get", "list", "create", "update"]}]
    assert of_kind("ClusterRoleBinding", overlay) == []  # the scaler role is granted per namespace, never cluster-wide


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_tenant_roles_exist_here_and_their_bindings_are_left_to_pulumi(overlay: str) -> None:
    """The pool component binds POOLED_TENANT_ROLES in each tenant namespace (tests/infra); the ClusterRoles
    and the ServiceAccount they name are these."""
    cluster_roles = {r["metadata"]["name"] for r in of_kind("ClusterRole", overlay)}
    assert set(POOLED_TENANT_ROLES) <= cluster_roles
    account = the("ServiceAccount", CONTROLLER_SERVICE_ACCOUNT, overlay)
    assert account["metadata"]["namespace"] == CONTROLLER_NAMESPACE
    assert the("Deployment", "tenantops-controller", overlay)["spec"]["template"]["spec"]["serviceAccountName"] == \
        CONTROLLER_SERVICE_ACCOUNT
    bindings = [b for b in of_kind("RoleBinding", overlay) if b["roleRef"]["name"] in POOLED_TENANT_ROLES]
    assert bindings == []  # one owner per object: Pulumi creates them with the tenant's namespace


def test_generated_manifests_are_up_to_date() -> None:
    rendered = render_module().render(ROOT / "stacks", ROOT / "policies")
    for name, content in rendered.items():
        assert (DEPLOY / name).read_text() == content, f"deploy/{name} is stale: run python deploy/render.py"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_configmaps_hold_the_stacks_configuration_the_controller_accepts(overlay: str, tmp_path: Path) -> None:
    catalog_dir, policies_dir = tmp_path / "catalog", tmp_path / "policies"
    catalog_dir.mkdir()
    policies_dir.mkdir()
    for name, text in the("ConfigMap", "tenantops-catalog", overlay)["data"].items():
        (catalog_dir / name).write_text(text)
    for name, text in the("ConfigMap", "tenantops-policies", overlay)["data"].items():
        (policies_dir / name).write_text(text)
    config = load_config(catalog_dir / "catalog.yaml", policies_dir)
    stack = load_config(ROOT / "stacks" / f"{overlay}.catalog.yaml", ROOT / "policies")
    assert [t.id for t in config.tenants] == [t.id for t in stack.tenants] and config.tenants


def controller(overlay: str = "dev") -> tuple[dict, dict]:
    deployment = the("Deployment", "tenantops-controller", overlay)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


def test_controller_runs_non_root_with_a_read_only_root_filesystem() -> None:
    deployment, container = controller()
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        assert mount["name"] in volumes
        if mount["mountPath"] in writable:
            assert "emptyDir" in volumes[mount["name"]] or "persistentVolumeClaim" in volumes[mount["name"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    state_dir = str(Path(env["TENANTOPS_STATE"]).parent)
    assert state_dir in writable and "/tmp" in writable
    assert env["MPLCONFIGDIR"].startswith("/tmp") and env["HOME"] == "/tmp"


def test_controller_probes_resources_and_serviceaccount() -> None:
    deployment, container = controller()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["port"] in ports
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == \
        the("ServiceAccount", "tenantops-controller")["metadata"]["name"]
    env = {e["name"]: e for e in container["env"]}
    assert str(ports["http"]) == env["TENANTOPS_HTTP_PORT"]["value"]


def test_every_tenantops_variable_is_a_setting_the_controller_reads() -> None:
    _, container = controller()
    known = setting_variables()
    names = [e["name"] for e in container["env"] if e["name"].startswith("TENANTOPS_")]
    assert names and set(names) <= known, set(names) - known
    for entry in container["env"]:
        if entry["name"] == "TENANTOPS_SMTP_PASSWORD":
            assert "secretKeyRef" in entry["valueFrom"] and "value" not in entry


def test_config_volumes_match_the_configmaps_and_paths() -> None:
    deployment, container = controller()
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    catalog_map = volumes["catalog"]["configMap"]["name"]
    assert "catalog.yaml" in the("ConfigMap", catalog_map)["data"]
    assert env["TENANTOPS_CATALOG"] == f"{mounts['catalog']}/catalog.yaml"
    assert env["TENANTOPS_POLICIES"] == mounts["policies"]
    the("ConfigMap", volumes["policies"]["configMap"]["name"])


def test_service_selects_the_controller_pods_on_the_metrics_port() -> None:
    deployment, container = controller()
    service = the("Service", "tenantops-controller")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    [port] = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    assert service["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"


def dockerfile_final_stage() -> list[str]:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    return lines[starts[-1]:]


def test_dockerfile_runs_tenantops_as_the_deployments_non_root_user() -> None:
    stage = dockerfile_final_stage()
    [user] = [line.split()[1] for line in stage if line.startswith("USER ")]
    uid = user.split(":")[0]
    assert uid.isdigit() and uid != "0"
    deployment, _ = controller()
    assert int(uid) == deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert 'ENTRYPOINT ["tenantops"]' in stage
    assert stage[0].startswith("FROM python:3.11-slim")


def test_dev_image_is_the_one_the_dockerfile_documents_and_prod_pulls_a_released_tag() -> None:
    header = (ROOT / "Dockerfile").read_text().splitlines()[0]
    match = re.search(r"docker build -t (\S+) \.", header)
    assert match
    _, dev = controller("dev")
    assert dev["image"] == match.group(1)
    _, prod = controller("prod")
    name, _, tag = prod["image"].rpartition(":")
    assert name.endswith("/" + match.group(1).split(":")[0]) and "/" in name.split("/", 1)[1]
    assert tag and tag != "latest"


def test_each_overlay_reads_its_own_prometheus() -> None:
    urls = {}
    for overlay in OVERLAYS:
        _, container = controller(overlay)
        [url] = [e["value"] for e in container["env"] if e["name"] == "TENANTOPS_PROMETHEUS_URL"]
        assert url.startswith("http://") and url.endswith(".monitoring.svc:9090"), url
        urls[overlay] = url
    assert urls["dev"] != urls["prod"]
    assert "kube-prometheus-stack" in urls["prod"]


def test_monitoring_component_scrapes_the_service_and_its_rules_pass_promtool(tmp_path: Path) -> None:
    assert not of_kind("ServiceMonitor", "dev")
    service = the("Service", "tenantops-controller", "prod")
    monitor = the("ServiceMonitor", "tenantops-controller", "prod")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == service["metadata"]["annotations"]["prometheus.io/path"]
    rule = the("PrometheusRule", "tenantops-controller", "prod")
    for obj in (monitor, rule):
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"  # the chart's default selector
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check = subprocess.run(["promtool", "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    assert alerts and all(r["annotations"]["summary"] and r["labels"]["severity"] for r in alerts)
    assert any(f'job="{service["metadata"]["name"]}"' in r["expr"] for r in alerts)


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "sum("}]}]}))
    assert subprocess.run(["promtool", "check", "rules", str(rules_file)], capture_output=True).returncode != 0


def test_dockerfile_copies_only_what_dockerignore_lets_through() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            sources.extend(parts[:-1])
    assert sources
    for source in sources:
        top = source.rstrip("/").split("/")[0]
        assert (ROOT / source).exists(), source
        assert top not in ignored, source
    assert {"tests", ".git", "infra"} <= ignored


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_beyond_one_only_run_with_leader_election_on_a_shared_store(overlay: str) -> None:
    [deployment] = [d for d in of_kind("Deployment", overlay) if d["metadata"]["name"] == "tenantops-controller"]
    [container] = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "controller"]
    env = {e["name"]: e for e in container.get("env", [])}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    if deployment["spec"]["replicas"] > 1:
        assert "--leader-elect" in container["args"], "several replicas without a Lease would all scale tenants"
        # Each replica on a private SQLite file would forget everything at a failover.
        assert env["TENANTOPS_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "tenantops-database",
                                                                              "key": "url"}
    else:
        # One replica: SQLite on a claim, and never two pods on it at once.
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert volumes["state"] == {"name": "state", "persistentVolumeClaim": {"claimName": "tenantops-state"}}
        assert the("PersistentVolumeClaim", "tenantops-state", overlay)["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_failover_time_the_readme_states_is_the_lease_duration_the_controller_uses(tmp_path: Path) -> None:
    """deploy/README.md says how long the other replica waits; `tenantops run --leader-elect` derives the
    Lease duration from the shipped ControllerPolicy (`lease_duration`), so the two must agree."""
    from tenantops.engine.lease import lease_duration

    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"after the Lease expires \(three pass intervals with their jitter, at least 15 s: "
                       r"(\d+) s with the shipped ControllerPolicy\)", text)
    assert stated is not None, "deploy/README.md no longer states the failover time"
    policies = tmp_path / "policies"
    policies.mkdir()
    for name, body in the("ConfigMap", "tenantops-policies", "prod")["data"].items():
        (policies / name).write_text(body)
    controller = load_config(ROOT / "stacks" / "prod.catalog.yaml", policies).policies.controller
    assert int(stated[1]) == lease_duration(controller.interval_seconds, controller.jitter_seconds)


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector.get("matchLabels")) and selector["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_drain_leaves_one_of_several_replicas_running_and_never_blocks(overlay: str) -> None:
    """Several replicas are a failover only if a node drain cannot evict them all at once and one node's
    loss does not take them all; and a budget must never leave a drain nothing it may evict."""
    deployment = the("Deployment", "tenantops-controller", overlay)
    replicas, pod = deployment["spec"]["replicas"], deployment["spec"]["template"]
    budgets = [b for b in of_kind("PodDisruptionBudget", overlay)
               if _selects(b["spec"]["selector"], pod["metadata"]["labels"])]
    for budget in budgets:
        spec = budget["spec"]
        allowed = spec["maxUnavailable"] if "maxUnavailable" in spec else replicas - spec["minAvailable"]
        assert 1 <= allowed < max(replicas, 2), budget
    if replicas > 1:
        assert budgets, "a drain may evict every replica at once"
        spread = pod["spec"].get("topologySpreadConstraints", [])
        assert any(c["topologyKey"] == "kubernetes.io/hostname" and c["maxSkew"] == 1
                   and _selects(c["labelSelector"], pod["metadata"]["labels"]) for c in spread)
