"""A tiny fault-injecting HTTP proxy in front of a real Prometheus (or a webhook receiver).

The controller talks to the proxy's URL; `mode` decides what each query gets: the real answer, a
refused connection (`down`: the listening socket is closed), an answer slower than the source's timeout,
an HTTP error, an empty result, or the real result with its values or timestamps rewritten (NaN, Inf,
negative, stale). `hold` parks matching requests until released, so a test can kill a process mid-pass.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tenantops_lab.sandbox.ports import free_port

MODES = ("ok", "down", "slow", "500", "503", "empty", "nan", "inf", "negative", "stale", "hold")


class FaultProxy:
    def __init__(self, upstream: str, *, slow_seconds: float = 1.5) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        self.mode = "ok"
        self.slow_seconds = slow_seconds
        self.requests = 0
        self.held = threading.Event()  # set when a request is parked in "hold" mode
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str) -> None:
        assert mode in MODES, mode
        if mode == "down":
            self._close()
        elif self._server is None:
            self._open()
        self.mode = mode

    def start(self) -> FaultProxy:
        self._open()
        return self

    def stop(self) -> None:
        self._release.set()
        self._close()

    def _open(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def do_GET(self) -> None:
                proxy._serve(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                proxy._serve(self, self.rfile.read(length))

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _serve(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        self.requests += 1
        mode = self.mode
        if mode == "hold":
            self.held.set()
            self._release.wait(60)
            return
        if mode == "slow":
            self._release.wait(self.slow_seconds)
        if mode in ("500", "503"):
            self._reply(handler, int(mode), {"status": "error", "errorType": "internal", "error": "injected"})
            return
        content_type = handler.headers.get("Content-Type", "application/json")
        request = urllib.request.Request(  # noqa: S310 - the upstream is the test's own http:// Prometheus
            self.upstream + handler.path, data=body, method=handler.command, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
                status, doc = resp.status, json.loads(resp.read() or b"{}")  # a webhook answers 200 empty
        except urllib.error.HTTPError as exc:
            status, doc = exc.code, json.loads(exc.read() or b"{}")
        # Series answers only: a scalar (`time()`, Prometheus' clock) is passed through as it is.
        if mode != "ok" and isinstance(doc.get("data"), dict) and doc["data"].get("resultType") in SERIES:
            doc["data"]["result"] = _rewrite(doc["data"].get("result", []), mode)
        with contextlib.suppress(OSError):  # the client gave up (slow mode): nothing to answer
            self._reply(handler, status, doc)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, doc: Any) -> None:
        data = json.dumps(doc).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


SERIES = ("matrix", "vector")


def _rewrite(result: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    if mode == "empty":
        return []
    replacement = {"nan": "NaN", "inf": "+Inf", "negative": "-5"}.get(mode)
    for series in result:
        points = series.get("values") or ([series["value"]] if "value" in series else [])
        rewritten = []
        for ts, value in points:
            if mode == "stale":
                rewritten.append([float(ts) - 3600, value])
            elif replacement is not None and not math.isnan(float(value)):
                rewritten.append([ts, replacement])
            else:
                rewritten.append([ts, value])
        if "values" in series:
            series["values"] = rewritten
        elif rewritten:
            series["value"] = rewritten[0]
    return result
