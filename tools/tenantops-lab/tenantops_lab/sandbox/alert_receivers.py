"""The two alert receivers the controller posts to, run locally: an HTTP webhook receiver that records
every JSON POST, and Debian's `prometheus-alertmanager` on a free loopback port with temporary storage.

Both are real servers (the controller's senders speak HTTP to them exactly as to production ones), so a
test counts what arrived rather than what the sender meant to send.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from tenantops_lab.sandbox.lifetime import bound_to_parent
from tenantops_lab.sandbox.ports import LOOPBACK, free_port

# A route to nowhere: Alertmanager keeps, groups and deduplicates the alerts; the tests read its API.
BLACKHOLE = """
route:
  receiver: blackhole
receivers:
  - name: blackhole
"""


class WebhookReceiver:
    """Records every JSON POST as (path, body); answers `status` (a 500 stands for an outage).

    With `basic_auth=(user, password)` it demands that `Authorization: Basic` header, as an ingress or
    Alertmanager's web config does, and answers 401 (recording nothing) without it.
    """

    def __init__(self, *, basic_auth: tuple[str, str] | None = None) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.status = 200
        self.unauthorised = 0
        receiver = self
        wanted = None if basic_auth is None else \
            "Basic " + base64.b64encode(":".join(basic_auth).encode()).decode("ascii")

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if wanted is not None and self.headers.get("Authorization") != wanted:
                    receiver.unauthorised += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="alerts"')
                    self.end_headers()
                    return
                receiver.posts.append((self.path, json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def alertmanager_alerts(url: str, query: str = "") -> list[dict[str, Any]]:
    """`GET /api/v2/alerts` of the Alertmanager at `url` (with `query`, e.g. `active=true`)."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts{'?' + query if query else ''}", timeout=5) as r:  # noqa: S310
        got: list[dict[str, Any]] = json.loads(r.read())
    return got


def alertmanager_binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


class AlertmanagerServer:
    """Debian's Alertmanager on a free loopback port, clustering off, storage in a temporary directory."""

    def __init__(self, config: str = BLACKHOLE, start_timeout: float = 20.0) -> None:
        self.config = config
        self.start_timeout = start_timeout
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> AlertmanagerServer:
        binary = alertmanager_binary()
        if binary is None:
            raise RuntimeError("prometheus-alertmanager is not installed (scripts/setup.sh installs it)")
        self._dir = tempfile.TemporaryDirectory(prefix="tenantops-alertmanager-")
        base = Path(self._dir.name)
        (base / "am.yml").write_text(self.config, encoding="utf-8")
        port = free_port()
        self._proc = subprocess.Popen(
            bound_to_parent([binary, f"--config.file={base / 'am.yml'}", f"--storage.path={base / 'data'}",
                             f"--web.listen-address={LOOPBACK}:{port}", "--cluster.listen-address="]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://{LOOPBACK}:{port}"
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        return self
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    err = self._proc.stderr.read() if self._proc.stderr and self._proc.poll() is not None else b""
                    self.stop()
                    raise RuntimeError(f"alertmanager did not start: {err!r}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stderr is not None:
                self._proc.stderr.close()
            self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> AlertmanagerServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
