"""The deploy/ manifests: valid against the Kubernetes schemas, least-privilege RBAC, consistent with
each other, with the catalogue, with the settings the controller reads, and with the Dockerfile."""

from __future__ import annotations

import copy
import importlib.util
import re
from dataclasses import fields
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tenantops.config import load_config
from tenantops.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.31.0"
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def load_docs() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


DOCS = load_docs()


def of_kind(kind: str) -> list[dict]:
    return [d for d in DOCS if d["kind"] == kind]


def the(kind: str, name: str) -> dict:
    [doc] = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    return doc


def render_module():
    spec = importlib.util.spec_from_file_location("deploy_render", DEPLOY / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata'].get('namespace', '')}/"
                                                   f"{d['metadata']['name']}")
def test_every_manifest_is_valid_against_the_kubernetes_schema(doc: dict) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    bad = copy.deepcopy(the("Deployment", "tenantops-controller"))
    bad["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_rbac_is_least_privilege() -> None:
    roles = of_kind("Role") + of_kind("ClusterRole")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for key in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(key, []), (role["metadata"]["name"], key)
            assert not {"secrets", "pods", "pods/exec", "deployments"} & set(rule["resources"])
            assert not {"delete", "deletecollection", "escalate", "bind", "impersonate", "watch"} & set(rule["verbs"])
            assert "nonResourceURLs" not in rule
    scaler = the("ClusterRole", "tenantops-scaler")
    assert scaler["rules"] == [{"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]}]
    leases = the("Role", "tenantops-leases")
    assert leases["metadata"]["namespace"] == "tenantops"
    assert leases["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                "verbs": ["get", "list", "create", "update"]}]
    assert of_kind("ClusterRoleBinding") == []  # the scaler role is granted per namespace, never cluster-wide


def test_scaler_is_bound_in_each_pooled_tenant_namespace_only() -> None:
    catalog = yaml.safe_load((ROOT / "stacks" / "dev.catalog.yaml").read_text())
    pooled = {f"tenant-{t['id']}" for t in catalog["tenants"] if t["isolation"] == "pool"}
    bindings = [b for b in of_kind("RoleBinding") if b["roleRef"]["name"] == "tenantops-scaler"]
    assert {b["metadata"]["namespace"] for b in bindings} == pooled
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "ClusterRole"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "tenantops-controller",
                                        "namespace": "tenantops"}]


def test_generated_manifests_are_up_to_date() -> None:
    rendered = render_module().render(ROOT / "stacks" / "dev.catalog.yaml", ROOT / "policies")
    for name, content in rendered.items():
        assert (DEPLOY / name).read_text() == content, f"deploy/{name} is stale: run python deploy/render.py"


def test_configmaps_hold_a_configuration_the_controller_accepts(tmp_path: Path) -> None:
    catalog_dir, policies_dir = tmp_path / "catalog", tmp_path / "policies"
    catalog_dir.mkdir()
    policies_dir.mkdir()
    for name, text in the("ConfigMap", "tenantops-catalog")["data"].items():
        (catalog_dir / name).write_text(text)
    for name, text in the("ConfigMap", "tenantops-policies")["data"].items():
        (policies_dir / name).write_text(text)
    config = load_config(catalog_dir / "catalog.yaml", policies_dir)
    assert len(config.tenants) >= 1


def controller() -> tuple[dict, dict]:
    deployment = the("Deployment", "tenantops-controller")
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
    known = {f"TENANTOPS_{f.name.upper()}" for f in fields(Settings)}
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


def test_deployment_image_is_the_one_the_dockerfile_documents() -> None:
    header = (ROOT / "Dockerfile").read_text().splitlines()[0]
    match = re.search(r"docker build -t (\S+) \.", header)
    assert match
    _, container = controller()
    assert container["image"] == match.group(1)


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


def test_replicas_beyond_one_only_run_with_leader_election() -> None:
    deployment, container = controller()
    assert deployment["spec"]["replicas"] > 1
    assert "--leader-elect" in container["args"], "several replicas without a Lease would all scale tenants"
