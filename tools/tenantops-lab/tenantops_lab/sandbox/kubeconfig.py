"""A kubeconfig for a local Kubernetes API (the stand-in), so kubectl and kubeconfig-reading clients use it.

    from tenantops_lab.sandbox.kubeconfig import write_kubeconfig
    write_kubeconfig(Path("/tmp/standin.yaml"), kube.url)   # KUBECONFIG=/tmp/standin.yaml kubectl get deploy

One cluster, one user and one context, all named `tenantops-standin`, made current. A token, when given,
is the user's bearer token (kubectl sends it only over https, and over https without one it asks for a
username); a CA certificate, when given, is embedded
as `certificate-authority-data`; a namespace, when given, is the context's default namespace. The file is
written with mode 0600, as kubectl writes its own (it may hold a token).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

NAME = "tenantops-standin"


def kubeconfig(server: str, *, token: str | None = None, namespace: str | None = None,
               certificate_authority: Path | None = None, name: str = NAME) -> dict[str, Any]:
    """The kubeconfig document for `server` (an `http://` or `https://` URL)."""
    cluster: dict[str, str] = {"server": server}
    if certificate_authority is not None:
        cluster["certificate-authority-data"] = base64.b64encode(certificate_authority.read_bytes()).decode()
    context: dict[str, str] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    user: dict[str, str] = {"token": token} if token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: Path, server: str, *, token: str | None = None, namespace: str | None = None,
                     certificate_authority: Path | None = None, name: str = NAME) -> Path:
    """Write the kubeconfig for `server` to `path` (parents created, mode 0600) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = kubeconfig(server, token=token, namespace=namespace, certificate_authority=certificate_authority,
                          name=name)
    text = yaml.safe_dump(document, sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)
    return path
