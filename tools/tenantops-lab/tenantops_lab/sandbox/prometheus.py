"""A real Prometheus (Debian's `prometheus` binary) on a free loopback port, with its own temporary TSDB.

Tests and the demo query the same server the controller queries in production, so PromQL, staleness and
`label_replace` behave exactly as they will for real. History is loaded with `backfill` before start,
through `promtool tsdb create-blocks-from openmetrics`; live series come from scrape targets.

Backfill gotchas, each handled here:
- the OpenMetrics file must end with a `# EOF` line, or promtool rejects it;
- OpenMetrics timestamps are seconds (floats), not milliseconds as in the Prometheus text format;
- label values must escape backslash, double quote and newline;
- the samples of one series must be in increasing time order, and a metric's lines contiguous;
- promtool cuts blocks of at most `--max-block-duration` (2h by default): long histories make many small
  blocks, so a longer duration is passed for long spans;
- samples older than the retention are deleted when Prometheus opens the TSDB, so history has to be
  shifted to end near "now" (and retention is generous here); series in the future are rejected.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tenantops_lab.sandbox.lifetime import bound_to_parent
from tenantops_lab.sandbox.ports import LOOPBACK, free_port

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

QUERY_HANDLERS = ("/api/v1/query", "/api/v1/query_range")


@dataclass(frozen=True)
class Series:
    """One time series to backfill: samples are `(unix seconds, value)`."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    samples: Sequence[tuple[float, float]] = ()


SeriesLike = Series | tuple[str, Mapping[str, str], Sequence[tuple[float, float]]]


def escape_label_value(value: str) -> str:
    """Escape a label value for the text exposition formats (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def openmetrics_lines(series: Iterable[SeriesLike]) -> Iterator[str]:
    """OpenMetrics text lines that promtool accepts (grouped by metric, ending in `# EOF`), one at a time,
    so a backfill of millions of samples is streamed to disk rather than held as one string."""
    by_name: dict[str, list[Series]] = {}
    for item in series:
        s = item if isinstance(item, Series) else Series(item[0], item[1], item[2])
        if not _METRIC_NAME.match(s.name):
            raise ValueError(f"invalid metric name {s.name!r}")
        for label in s.labels:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} on metric {s.name!r}")
        by_name.setdefault(s.name, []).append(s)
    for name, members in by_name.items():
        for s in members:
            selector = ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in sorted(s.labels.items()))
            prefix = f"{name}{{{selector}}}" if selector else name
            last = -math.inf
            for ts, value in sorted(s.samples, key=lambda sample: sample[0]):
                if ts == last:
                    continue  # a duplicate timestamp would make promtool fail the whole block
                last = ts
                yield f"{prefix} {_format_value(value)} {ts:.3f}\n"
    yield "# EOF\n"


def openmetrics_text(series: Iterable[SeriesLike]) -> str:
    """Render series as OpenMetrics text that promtool accepts (grouped by metric, ending in `# EOF`)."""
    return "".join(openmetrics_lines(series))


class PrometheusError(RuntimeError):
    """Prometheus or promtool failed; the message carries the tail of its log."""


def _stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


class PrometheusServer:
    """Prometheus on `127.0.0.1:<free port>`; use as a context manager or call `start()` / `stop()`.

    `targets` are `host:port` strings scraped every `scrape_interval` under job `tenantops-sandbox`.
    `retention` must cover any backfilled history.
    """

    def __init__(
        self,
        targets: Sequence[str] = (),
        *,
        scrape_interval: str = "15s",
        retention: str = "3650d",
        enable_lifecycle: bool = False,
        enable_admin_api: bool = False,
        extra_args: Sequence[str] = (),
        binary: str = "prometheus",
        promtool: str = "promtool",
        ready_timeout: float = 30.0,
    ) -> None:
        self.targets = list(targets)
        self.scrape_interval = scrape_interval
        self.retention = retention
        self.enable_lifecycle = enable_lifecycle
        self.enable_admin_api = enable_admin_api
        self.extra_args = list(extra_args)
        self.binary = binary
        self.promtool = promtool
        self.ready_timeout = ready_timeout
        self.port: int | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="tenantops-prometheus-"))
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir()
        self.config_path = self.workdir / "prometheus.yml"
        self.log_path = self.workdir / "prometheus.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        # The finalizer (also run at interpreter exit) stops the process even when a test forgets to.
        self._holder: list[subprocess.Popen[bytes] | None] = [None]
        self._finalizer = weakref.finalize(self, PrometheusServer._cleanup, self._holder, self.workdir)

    @staticmethod
    def _cleanup(holder: list[subprocess.Popen[bytes] | None], workdir: Path) -> None:
        proc = holder[0]
        if proc is not None:
            _stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("Prometheus is not started")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def config(self) -> dict[str, Any]:
        """The generated prometheus.yml: global scrape interval and one static job for `targets`."""
        cfg: dict[str, Any] = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "scrape_configs": [],
        }
        if self.targets:
            cfg["scrape_configs"].append({
                "job_name": "tenantops-sandbox",
                "honor_labels": True,
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval if _seconds(self.scrape_interval) < 10 else "10s",
                "static_configs": [{"targets": list(self.targets)}],
            })
        return cfg

    def start(self) -> PrometheusServer:
        if self.running:
            return self
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        last_error: Exception | None = None
        for _ in range(3):  # a freed port can be taken by someone else before we bind it
            self.port = free_port()
            try:
                self._spawn()
                return self
            except PrometheusError as exc:
                last_error = exc
                if "address already in use" not in str(exc):
                    break
        raise last_error or PrometheusError("Prometheus did not start")

    def _spawn(self) -> None:
        args = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--log.level=warn",
        ]
        if self.enable_lifecycle:
            args.append("--web.enable-lifecycle")
        if self.enable_admin_api:
            args.append("--web.enable-admin-api")
        args.extend(self.extra_args)
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(bound_to_parent(args), stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        self._holder[0] = self._proc
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._close_log()
                raise PrometheusError(f"prometheus exited with {self._proc.returncode}: {self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise PrometheusError(f"prometheus not ready within {self.ready_timeout}s: {self.log_tail()}")

    def _ready(self) -> bool:
        try:
            with _open(f"{self.url}/-/ready", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Terminate, then kill after a grace period; safe to call twice. The TSDB dir is kept until close."""
        if self._proc is not None:
            _stop_process(self._proc)
        self._close_log()

    def close(self) -> None:
        """Stop and delete the temporary TSDB and config."""
        self.stop()
        self._finalizer()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- data ----------------------------------------------------------------------------------------

    def backfill(self, series: Iterable[SeriesLike], *, max_block_duration: str | None = None) -> Path:
        """Write series as TSDB blocks into the data dir; must be called before `start()`.

        Returns the OpenMetrics file written (kept for debugging). Without `max_block_duration`, one long
        enough to hold the whole span in a few blocks is chosen.
        """
        if self.running:
            raise RuntimeError("backfill before start(): a running Prometheus does not load new blocks")
        materialised = [s if isinstance(s, Series) else Series(s[0], s[1], s[2]) for s in series]
        source = self.workdir / f"backfill-{time.monotonic_ns()}.om"
        with source.open("w", encoding="utf-8") as handle:
            handle.writelines(openmetrics_lines(materialised))
        if max_block_duration is None:
            firsts = [min(ts for ts, _ in s.samples) for s in materialised if s.samples]
            lasts = [max(ts for ts, _ in s.samples) for s in materialised if s.samples]
            span_h = (max(lasts) - min(firsts)) / 3600 if firsts else 0
            max_block_duration = "2h" if span_h <= 4 else f"{min(24 * 31, max(2, math.ceil(span_h / 4)))}h"
        proc = subprocess.run(
            [self.promtool, "tsdb", "create-blocks-from", "openmetrics",
             f"--max-block-duration={max_block_duration}", str(source), str(self.data_dir)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise PrometheusError(f"promtool failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return source

    def get_json(self, path: str, params: Mapping[str, str] | None = None, timeout: float = 10.0) -> Any:
        """GET an API path and return its `data`, raising PrometheusError on an error response."""
        import json

        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with _open(f"{self.url}{path}{query}", timeout=timeout) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            raise PrometheusError(f"{path}: HTTP {exc.code}: {exc.read()[:500]!r}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"{path}: {body}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns the `result` list."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.get_json("/api/v1/query", params)
        result: list[dict[str, Any]] = data["result"]
        return result

    def request_counts(self) -> dict[str, float]:
        """Prometheus's own `prometheus_http_requests_total`, summed per handler, read from its /metrics.

        Reading /metrics is not itself a query, so the count is exact for asserting "one query per metric
        per pass"-style limits.
        """
        with _open(f"{self.url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        counts: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            if family.name != "prometheus_http_requests":
                continue
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    handler = sample.labels.get("handler", "")
                    counts[handler] = counts.get(handler, 0.0) + sample.value
        return counts

    def query_count(self) -> int:
        """How many instant and range queries this server has answered so far."""
        counts = self.request_counts()
        return int(sum(counts.get(h, 0.0) for h in QUERY_HANDLERS))

    def wait_for_series(self, promql: str, timeout: float = 30.0, min_results: int = 1) -> list[dict[str, Any]]:
        """Poll an instant query until it returns at least `min_results` series (e.g. after the first scrape)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if len(result) >= min_results or time.monotonic() > deadline:
                return result
            time.sleep(0.2)


def _open(url: str, timeout: float) -> Any:
    """urlopen for the http:// loopback URLs this module builds itself (never a user-given scheme)."""
    if not url.startswith("http://"):
        raise ValueError(f"refusing non-http URL {url!r}")
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - scheme checked above


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", duration.strip())
    if not match:
        raise ValueError(f"invalid duration {duration!r}")
    return float(match.group(1)) * units[match.group(2)]
