"""How the controller connects to a Kubernetes API server.

An explicit URL (`TENANTOPS_KUBE_URL`: the local API stand-in, tests, or a cluster reached without a
kubeconfig) wins, over https with `TENANTOPS_KUBE_CA_FILE` (or the system CAs; skip-verify only when asked)
and `TENANTOPS_KUBE_TOKEN`. Otherwise a chosen kubeconfig context (`--kube-context`, `TENANTOPS_KUBECONFIG`)
is used as kubectl would; with neither, the pod's service account (in-cluster), then the kubeconfig's
current context. urllib3's own retries are switched off because the actuators and the leader elector count
and bound their retries themselves; two layers of retry would multiply the wait on an overloaded API server.

Times go out with six fractional digits always (`ApiClient`): the client library writes a datetime with
`isoformat()`, which drops the fraction when it is zero, and the apiserver decodes a Lease's `renewTime`
and `acquireTime` (metav1.MicroTime) with a layout that demands it, so a renewal at a whole second would be
refused with 400 and the leader would stand down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from pydantic import SecretStr

from tenantops.endpoints import Unreachable, unreachable

log = logging.getLogger(__name__)


class KubeConnectError(RuntimeError):
    """No way to reach a cluster was found: no URL, not in a pod, no usable kubeconfig."""


@dataclass(frozen=True)
class KubeAccess:
    """Which API server, and how to trust and authenticate to it (all unset: in-cluster, then kubeconfig)."""

    url: str | None = None
    token: SecretStr | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    context: str | None = None
    kubeconfig: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> KubeAccess:
        return cls(url=settings.kube_url, token=settings.kube_token, ca_file=settings.kube_ca_file,
                   insecure_skip_verify=settings.kube_insecure_skip_verify, context=settings.kube_context,
                   kubeconfig=settings.kubeconfig)

    @property
    def setting(self) -> str:
        """The setting an error about this connection names."""
        if self.url:
            return "TENANTOPS_KUBE_URL"
        return "TENANTOPS_KUBE_CONTEXT" if self.context else "kubeconfig"


class ApiClient(client.ApiClient):
    """The client library's ApiClient, sending every datetime as RFC3339 with microseconds.

    metav1.MicroTime parses exactly `2006-01-02T15:04:05.000000Z07:00`; metav1.Time (whole seconds)
    accepts a fraction as well, so one format serves both.
    """

    def sanitize_for_serialization(self, obj: Any) -> Any:
        if isinstance(obj, datetime) and obj.tzinfo is not None:
            return obj.isoformat(timespec="microseconds")
        return super().sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]


KubeTarget = str | KubeAccess | None
"""A URL (the older spelling), a full `KubeAccess`, or None for in-cluster / kubeconfig."""


def api_client(target: KubeTarget = None, *, token: str | None = None, verify_ssl: bool = True) -> client.ApiClient:
    """An ApiClient for `target`: a URL (optionally with a bearer token) or a `KubeAccess`."""
    access = target if isinstance(target, KubeAccess) else \
        KubeAccess(url=target, token=SecretStr(token) if token else None, insecure_skip_verify=not verify_ssl)
    configuration = client.Configuration()
    if access.url:
        configuration.host = access.url.rstrip("/")
        configuration.verify_ssl = not access.insecure_skip_verify
        configuration.ssl_ca_cert = access.ca_file
        if access.token is not None:
            configuration.api_key = {"BearerToken": access.token.get_secret_value()}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
    elif access.context or access.kubeconfig:
        try:  # a context someone chose: never silently the pod's own service account instead
            config.load_kube_config(config_file=access.kubeconfig, context=access.context,  # type: ignore[no-untyped-call]
                                    client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            raise KubeConnectError(f"kubeconfig {access.kubeconfig or '~/.kube/config'} context "
                                   f"{access.context or '(current)'}: {exc}") from None
        log.info("kubernetes: using kubeconfig context %s", access.context or "(current)",
                 extra={"kube_context": access.context, "kubeconfig": access.kubeconfig})
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            log.info("kubernetes: using the in-cluster service account")
        except ConfigException:
            try:
                config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                log.info("kubernetes: using the kubeconfig's current context")
            except (ConfigException, OSError) as exc:
                raise KubeConnectError(
                    "no Kubernetes API: set TENANTOPS_KUBE_URL, run in a pod, or provide a kubeconfig "
                    f"({exc})"
                ) from None
    configuration.retries = False
    return ApiClient(configuration)


def probe(api: client.ApiClient, *, setting: str = "TENANTOPS_KUBE_URL", timeout: float = 5.0) -> None:
    """Ask the API server its version; Unreachable (one line naming the setting) when it does not answer.

    For one-shot commands, so that an API server that is down is said once before the pass instead of as
    a failed outcome per workload; the controller loop does not probe (its actions report their outcome).
    """
    host = api.configuration.host
    try:
        client.VersionApi(api).get_code(_request_timeout=timeout)
    except Exception as exc:
        down = unreachable(setting, host, exc)
        if down is not None:
            raise down from None
        # The server answered (an error status is for the calls themselves to report).


__all__ = ["ApiClient", "KubeAccess", "KubeConnectError", "KubeTarget", "Unreachable", "api_client", "probe"]
