"""Choosing and trusting the Kubernetes API: TLS with a CA file and a token for --kube-url, skip-verify only when
asked, a kubeconfig context as kubectl --context; an API server that does not answer is named in one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from tests.cli.helpers import tenantops

from tenantops.act.kubeclient import KubeAccess, api_client, probe
from tenantops.config.settings import resolve_settings
from tenantops.endpoints import Unreachable
from tenantops_lab.sandbox.kube_api import KubeApiServer
from tenantops_lab.sandbox.kubeconfig import write_kubeconfig
from tenantops_lab.sandbox.ports import free_port

pytestmark = pytest.mark.integration
TOKEN = "kube-s3cret"


@pytest.fixture
def kube() -> Iterator[KubeApiServer]:
    with KubeApiServer(token=TOKEN, tls=True) as server:
        server.add_deployment("tenant-acme", "api", replicas=3)
        yield server


def access(**env: str) -> KubeAccess:
    return KubeAccess.from_settings(resolve_settings({}, env={f"TENANTOPS_{k.upper()}": v for k, v in env.items()}))


def replicas(target: KubeAccess) -> int:
    scale = client.AppsV1Api(api_client(target)).read_namespaced_deployment_scale("api", "tenant-acme")
    return int(scale.spec.replicas)


def test_kube_url_over_tls_with_ca_file_and_token(kube: KubeApiServer) -> None:
    assert kube.certificate is not None
    chosen = access(kube_url=kube.url, kube_ca_file=str(kube.certificate.ca), kube_token=TOKEN)
    assert kube.url.startswith("https://") and replicas(chosen) == 3
    assert TOKEN not in repr(chosen)


def test_untrusted_certificate_is_one_line_unless_skip_verify(kube: KubeApiServer) -> None:
    untrusted = access(kube_url=kube.url, kube_token=TOKEN)
    with pytest.raises(Unreachable) as caught:
        probe(api_client(untrusted))
    assert str(caught.value).startswith(f"TENANTOPS_KUBE_URL={kube.url}: TLS certificate not trusted")
    assert replicas(access(kube_url=kube.url, kube_token=TOKEN, kube_insecure_skip_verify="true")) == 3


def test_a_wrong_token_reaches_the_server(kube: KubeApiServer) -> None:
    assert kube.certificate is not None
    wrong = access(kube_url=kube.url, kube_ca_file=str(kube.certificate.ca), kube_token="guess")
    probe(api_client(wrong))  # answered (401 for the calls to report): not "unreachable"
    with pytest.raises(client.ApiException) as refused:
        replicas(wrong)
    assert refused.value.status == 401


def _two_contexts(kube: KubeApiServer, path: Path) -> Path:
    assert kube.certificate is not None
    write_kubeconfig(path, kube.url, token=TOKEN, certificate_authority=kube.certificate.ca, name="standin")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    closed = f"https://127.0.0.1:{free_port()}"
    document["clusters"].append({"name": "broken", "cluster": {"server": closed}})
    document["users"].append({"name": "broken", "user": {"token": "x"}})
    document["contexts"].append({"name": "broken", "context": {"cluster": "broken", "user": "broken"}})
    document["current-context"] = "broken"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_kube_context_chooses_among_the_kubeconfigs_contexts(kube: KubeApiServer, tmp_path: Path) -> None:
    kubeconfig = _two_contexts(kube, tmp_path / "kubeconfig")
    assert replicas(access(kubeconfig=str(kubeconfig), kube_context="standin")) == 3
    with pytest.raises(Unreachable) as current:
        probe(api_client(access(kubeconfig=str(kubeconfig))), setting="kubeconfig")
    assert current.value.reason == "connection refused"


def test_cli_names_the_context_that_does_not_answer(kube: KubeApiServer, tmp_path: Path) -> None:
    kubeconfig = _two_contexts(kube, tmp_path / "kubeconfig")
    result = tenantops("reconcile", "--once", "--kube-context", "broken", "--prometheus-url",
                       f"http://127.0.0.1:{free_port()}", "--state", str(tmp_path / "s.db"), cwd=tmp_path,
                       env={"TENANTOPS_KUBECONFIG": str(kubeconfig)})
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: TENANTOPS_KUBE_CONTEXT=https://127.0.0.1:") and last.endswith("connection refused")
