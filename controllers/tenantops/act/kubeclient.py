"""How the controller connects to a Kubernetes API server.

An explicit URL (`TENANTOPS_KUBE_URL`, used with the local API stand-in and in tests) wins; otherwise the
pod's service account (in-cluster), then the user's kubeconfig. urllib3's own retries are switched off
because the actuators and the leader elector count and bound their retries themselves; two layers of
retry would multiply the wait on an overloaded API server.
"""

from __future__ import annotations

import logging

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from tenantops.endpoints import Unreachable, unreachable

log = logging.getLogger(__name__)


class KubeConnectError(RuntimeError):
    """No way to reach a cluster was found: no URL, not in a pod, no usable kubeconfig."""


def api_client(url: str | None = None, *, token: str | None = None, verify_ssl: bool = True) -> client.ApiClient:
    """An ApiClient for `url` (optionally with a bearer token), or from the environment when url is None."""
    configuration = client.Configuration()
    if url:
        configuration.host = url.rstrip("/")
        configuration.verify_ssl = verify_ssl
        if token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
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
    return client.ApiClient(configuration)


def probe(api: client.ApiClient, *, timeout: float = 5.0) -> None:
    """Ask the API server its version; Unreachable (one line naming the setting) when it does not answer.

    For one-shot commands, so that an API server that is down is said once before the pass instead of as
    a failed outcome per workload; the controller loop does not probe (its actions report their outcome).
    """
    host = api.configuration.host
    try:
        client.VersionApi(api).get_code(_request_timeout=timeout)
    except Exception as exc:
        down = unreachable("TENANTOPS_KUBE_URL", host, exc)
        if down is not None:
            raise down from None
        # The server answered (an error status is for the calls themselves to report).


__all__ = ["KubeConnectError", "Unreachable", "api_client", "probe"]
