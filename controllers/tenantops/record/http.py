"""One small HTTP port: `/healthz` (the loop is alive), `/readyz` (it has completed a pass on a valid
configuration) and `/metrics`. Every other path is 404 and every other method 405: the controller holds
cloud credentials, so its listening surface stays as small as this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)


class Health:
    """What the probes answer from: updated by the runner, read by the HTTP thread.

    Live means the loop has ticked within `stall_after` seconds (a wedged pass makes Kubernetes restart
    the pod); ready means a pass has completed since start on a valid configuration.
    """

    def __init__(self, stall_after: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after = stall_after
        self._clock = clock
        self._lock = threading.Lock()
        self._heartbeat = clock()
        self._ready = False
        self._reason = "no pass completed yet"

    @classmethod
    def for_interval(cls, interval_seconds: float, clock: Callable[[], float] = time.monotonic) -> Health:
        """Liveness for a loop of this interval: stalled after three intervals (at least a minute more than
        one) without a tick. Nothing the pass waits on may take that long (queries share a deadline of a
        third of the interval; notifications run on their own thread), so a pass that does is wedged, and
        a restart is the remedy; a generous multiple would leave a wedged controller unscaled for minutes."""
        return cls(stall_after=max(3 * interval_seconds, interval_seconds + 60.0), clock=clock)

    def beat(self) -> None:
        with self._lock:
            self._heartbeat = self._clock()

    def set_ready(self, ready: bool, reason: str = "") -> None:
        with self._lock:
            self._ready, self._reason = ready, reason

    def live(self) -> tuple[bool, str]:
        with self._lock:
            age = self._clock() - self._heartbeat
        if age > self.stall_after:
            return False, f"loop stalled for {age:.0f}s"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        with self._lock:
            return self._ready, ("ok" if self._ready else self._reason)


class _Handler(BaseHTTPRequestHandler):
    server_version = "tenantops"
    sys_version = ""
    health: ClassVar[Health]
    registry: ClassVar[CollectorRegistry]

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _refuse(self) -> None:
        self._send(405, b"method not allowed\n", "text/plain; charset=utf-8", head=False)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _serve(self, *, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            # Content negotiation as Prometheus scrapes: OpenMetrics when the Accept header asks for it
            # (exemplars, `_created`, `# EOF`), else the classic text format.
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, encoder(self.registry), content_type, head)
        elif path in ("/healthz", "/readyz"):
            ok, reason = (self.health.live if path == "/healthz" else self.health.ready)()
            self._send(200 if ok else 503, f"{reason}\n".encode(), "text/plain; charset=utf-8", head)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8", head)

    def _send(self, status: int, body: bytes, content_type: str, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s", format % args)


class HealthServer:
    """Serves the three paths on `host:port` from a daemon thread; `port=0` picks a free one."""

    def __init__(self, health: Health, registry: CollectorRegistry, host: str = "0.0.0.0", port: int = 8080) -> None:
        handler = type("Handler", (_Handler,), {"health": health, "registry": registry})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="tenantops-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
