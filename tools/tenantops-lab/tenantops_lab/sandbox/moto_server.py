"""moto's AWS server, in a thread, on a free loopback port.

The controller talks to AWS through boto3 with an `endpoint_url`; pointing that at this server exercises
the real request/response path (serialisation, errors, pagination) rather than an in-process mock. The
server keeps state across tests of a session (starting it costs about a second), so tests call `reset()`.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from tenantops_lab.sandbox.ports import LOOPBACK, wait_closed

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class MotoServer:
    """moto's `ThreadedMotoServer`; context manager or `start()` / `stop()`."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.port: int | None = None
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("moto server is not started")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> MotoServer:
        if self._server is not None:
            return self
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request to stderr; that drowns test output and the demo's live view.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Port 0: the kernel picks the port while binding, so there is no race with other servers.
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        self._server = server
        self.port = int(server.get_host_and_port()[1])
        return self

    def stop(self) -> None:
        """Stop serving and release the port (moto's own stop leaves the socket open)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        wsgi = getattr(server, "_server", None)
        if wsgi is not None:
            wsgi.server_close()
        if self.port is not None:
            wait_closed(self.port)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _post(self, path: str, payload: Any | None = None) -> bytes:
        data = json.dumps(payload).encode() if payload is not None else b""
        request = urllib.request.Request(  # noqa: S310 - loopback URL built here
            f"{self.endpoint_url}{path}", data=data, method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            body: bytes = resp.read()
            return body

    def reset(self) -> None:
        """Forget every resource in every service (moto's `/moto-api/reset`)."""
        self._post("/moto-api/reset")

    def queue_cost_and_usage(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Queue `GetCostAndUsage` responses; each request consumes the next one, in order.

        Each item is one full response (`{"ResultsByTime": [...], "GroupDefinitions": [...], ...}`).
        """
        self._post("/moto-api/static/ce/cost-and-usage-results", {"results": list(results)})

    def env(self) -> dict[str, str]:
        """Environment for a process that should use this server (fake credentials, endpoint, region)."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "TENANTOPS_AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client bound to this server with fake credentials."""
        import boto3

        return boto3.client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )
