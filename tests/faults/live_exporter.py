"""A live exporter for the fault suite: what cAdvisor, kube-state-metrics and an app would expose for one
pooled workload, computed at each scrape, so Prometheus stamps every sample with its own clock.

Backfilled history cannot stand in here: data written ahead of Prometheus' now would answer a query
for the future that a real Prometheus cannot. The replica gauges read the Kubernetes API stand-in's live
count at each scrape, as kube-state-metrics reads the API server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POD = "{workload}-7d9f8b6c5-x2x9k"


class LiveExporter:
    """`/metrics` for `tenant`/`workload`: `requests_per_second` may be changed while it runs."""

    def __init__(self, tenant: str, workload: str, replicas: Callable[[], int], requests_per_second: float,
                 cpu_per_replica: float = 0.05) -> None:
        self.tenant, self.workload = tenant, workload
        self.replicas = replicas
        self.requests_per_second = requests_per_second
        self.cpu_per_replica = cpu_per_replica
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._requests = 0.0
        self._cpu = 0.0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def render(self) -> str:
        with self._lock:
            now = time.monotonic()
            replicas = self.replicas()
            self._requests += self.requests_per_second * (now - self._last)
            self._cpu += self.cpu_per_replica * replicas * (now - self._last)
            self._last = now
            ns, pod = f"tenant-{self.tenant}", POD.format(workload=self.workload)
            cont = f'namespace="{ns}",pod="{pod}",container="app"'
            return "\n".join([
                f'http_requests_total{{tenant="{self.tenant}",workload="{self.workload}"}} {self._requests}',
                f'kube_deployment_spec_replicas{{namespace="{ns}",deployment="{self.workload}"}} {replicas}',
                f'kube_deployment_status_replicas_ready{{namespace="{ns}",deployment="{self.workload}"}} {replicas}',
                f"container_cpu_usage_seconds_total{{{cont}}} {self._cpu}",
                f"container_memory_working_set_bytes{{{cont}}} {2.0**28 * replicas}",
                f'kube_pod_container_resource_requests{{{cont},resource="cpu"}} {0.25 * replicas}',
                f'kube_pod_container_resource_requests{{{cont},resource="memory"}} {2.0**28 * replicas}',
                "",
            ])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
