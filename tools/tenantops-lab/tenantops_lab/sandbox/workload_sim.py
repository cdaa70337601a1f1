"""A workload simulator: recorded traces replayed as tenants' pods, exposed as real Prometheus metrics.

Each workload of the catalogue replays a window of a recorded trace, time-compressed (`speed` trace
minutes per wall second), as CPU demand in cores. The demand is spread over the replicas the controller
set (read back through `replicas_source`: the Kubernetes API stand-in for pooled tenants, the Auto
Scaling groups in moto for silo tenants); new replicas serve only after `startup_seconds`, as real pods
do. `/metrics` carries the series the default metrics policy queries, in the shapes the standard
exporters use: cAdvisor `container_cpu_usage_seconds_total` and `container_memory_working_set_bytes` per
pod, kube-state-metrics `kube_deployment_spec_replicas`, `kube_deployment_status_replicas_ready` and
`kube_pod_container_resource_requests`, and `http_requests_total{tenant,workload,code}` (200 for requests
served; 503 for those arriving while no pod is ready, as an ingress in front of a workload scaled to zero
counts them).
Pods that go away stop being exported, so Prometheus marks their series stale as it would in a cluster.

The simulator also measures the controller from outside: a "load change" starts when a workload's demand
moves outside the tolerance band around its current replicas, and ends when the replica count moves that
way (`LatencyTracker`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tenantops_lab.sandbox.ports import LOOPBACK

log = logging.getLogger(__name__)

Key = tuple[str, str]
"""(tenant id, workload name)."""

ReplicasSource = Callable[[], Mapping[Key, int | None]]
"""Returns the replica count the controller has set for each workload (None or absent: unchanged)."""

ReadySink = Callable[[Key, int], None]
"""Told when a workload's count of ready replicas changes (so a Deployment's status can follow)."""

BURST = 2.0
"""Pods burst to a CPU limit of twice their request, then saturate."""

RPS_PER_CORE = 20.0
"""Requests per second one core of demand serves when a spec does not say what one replica serves."""


# -- choosing what each workload replays ------------------------------------------------------------------


def smooth(values: npt.NDArray[np.float64], width: int = 5) -> npt.NDArray[np.float64]:
    """Centred moving average; a replayed trace is judged on its shape, not on single-sample spikes."""
    if width <= 1 or len(values) < width:
        return values.astype(np.float64)
    kernel = np.ones(width) / width
    padded = np.pad(values.astype(np.float64), (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def swing_score(window: npt.NDArray[np.float64]) -> float:
    """How clearly a window rises to a peak and falls again: min(rise, fall) relative to the peak, in [0, 1].

    The peak must lie in the middle 60% of the window, so a replay shows both a scale-up and a scale-down.
    """
    n = len(window)
    if n < 5:
        return 0.0
    lo, hi = int(n * 0.2), max(int(n * 0.8), int(n * 0.2) + 1)
    peak_at = lo + int(np.argmax(window[lo:hi]))
    peak = float(window[peak_at])
    if peak <= 0:
        return 0.0
    rise = (peak - float(window[: peak_at + 1].min())) / peak
    fall = (peak - float(window[peak_at:].min())) / peak
    return max(0.0, min(rise, fall))


def best_windows(demand: npt.NDArray[np.float64], length: int, count: int,
                 max_candidates: int = 2000, busy: bool = False) -> list[int]:
    """Start offsets of `count` non-overlapping windows of `length` steps with the clearest up-and-down swing.

    With `busy`, a window's swing is weighted by how close its peak comes to the trace's 95th percentile,
    so a swing in a quiet night does not win over one in the busy hours (a replay scaled to the trace's
    usual level would show the quiet one as a flat line). Deterministic for a given trace, so a demo
    replays the same load every time.
    """
    if length >= len(demand):
        return [0] * count
    smoothed = smooth(demand)
    level = float(np.percentile(smoothed, 95)) if busy else 0.0
    stride = max(1, (len(demand) - length) // max_candidates)
    offsets = range(0, len(demand) - length, stride)

    def score(offset: int) -> float:
        window = smoothed[offset:offset + length]
        weight = min(1.0, float(window.max()) / level) if level > 0 else 1.0
        return swing_score(window) * weight

    ranked = sorted(offsets, key=lambda o: (-score(o), o))
    chosen: list[int] = []
    for offset in ranked:
        if all(abs(offset - c) >= length for c in chosen):
            chosen.append(offset)
        if len(chosen) == count:
            break
    while len(chosen) < count:  # a short trace: reuse its best window
        chosen.append(chosen[0] if chosen else 0)
    return chosen


def peak_replicas(min_replicas: int, max_replicas: int) -> int:
    """Replicas the replayed peak should need: well inside the range, so neither bound hides a decision."""
    return max(1, min(max_replicas, max(min_replicas + 2, round(0.6 * max_replicas))))


def needed_replicas(demand_cores: float, cpu_request: float, target_utilization: float,
                    min_replicas: int, max_replicas: int) -> int:
    """Replicas that hold utilisation of requested CPU at the target (what a perfect autoscaler would set)."""
    if demand_cores <= 0:
        return min_replicas
    raw = math.ceil(demand_cores / (cpu_request * target_utilization) - 1e-9)
    return max(min_replicas, min(max_replicas, raw))


@dataclass(frozen=True)
class WorkloadSpec:
    """What one simulated workload replays and how big its pods are."""

    tenant: str
    workload: str
    isolation: str
    cpu_request: float  # cores per replica
    memory_request: float  # bytes per replica
    min_replicas: int
    max_replicas: int
    target_utilization: float
    demand: npt.NDArray[np.float64]  # cores per trace minute
    trace: str = ""
    offset: int = 0  # trace minute the window starts at
    initial_replicas: int = 1
    history: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # cores per minute before
    history_looped: bool = False  # the recording was shorter than the history and was looped
    # Requests per second one replica serves at its full CPU request: the tier's `requests` capacity, so a
    # replica's worth of CPU demand is a replica's worth of requests and the two signals agree (above all
    # at zero replicas, where the 503s are the only signal). None: RPS_PER_CORE per core.
    requests_per_replica: float | None = None

    @property
    def key(self) -> Key:
        return (self.tenant, self.workload)

    @property
    def requests_per_core(self) -> float:
        """Requests per second per core of demand (served or, with no pod ready, refused)."""
        if self.requests_per_replica is None or self.cpu_request <= 0:
            return RPS_PER_CORE
        return self.requests_per_replica / self.cpu_request

    def demand_at(self, trace_minutes: float) -> float:
        """Demand (cores) at a fractional trace minute, linearly interpolated; held at the window's ends."""
        steps = np.arange(len(self.demand), dtype=np.float64)
        return float(np.interp(trace_minutes, steps, self.demand))


def scaled_window(trace: npt.NDArray[np.float64], offset: int, length: int, peak_cores: float,
                  reference: float | None = None) -> npt.NDArray[np.float64]:
    """The window rescaled so its smoothed peak (or `reference`, in trace units) is `peak_cores` (traces
    come in incomparable units)."""
    window = smooth(trace[offset:offset + length])
    peak = reference if reference is not None else (float(window.max()) if len(window) else 0.0)
    if peak <= 0:
        return np.zeros(max(1, len(window)))
    return np.clip(window / peak * peak_cores, 0.0, None)


# -- measuring the controller from outside -------------------------------------------------------------


@dataclass(frozen=True)
class LatencySample:
    tenant: str
    workload: str
    direction: str  # "up" or "down"
    seconds: float
    started_at: float
    acted_at: float
    replicas_from: int
    replicas_to: int


@dataclass
class _Pending:
    direction: int
    since: float
    replicas: int


class LatencyTracker:
    """From "the load now needs a different replica count" to "the replica count moved that way".

    A change starts when the replicas the load needs leave the tolerance band around the current count
    (as the HPA's 10% tolerance does); it ends when the count moves in that direction. If the load comes
    back into the band first, or the count moves the other way, the change is dropped, not counted.
    Pure: times are passed in.
    """

    def __init__(self, tolerance: float = 0.1) -> None:
        self.tolerance = tolerance
        self.samples: list[LatencySample] = []
        self._pending: dict[Key, _Pending] = {}

    def observe(self, key: Key, now: float, demand_cores: float, replicas: int, spec: WorkloadSpec) -> None:
        pending = self._pending.get(key)
        if pending is not None and replicas != pending.replicas:
            moved = 1 if replicas > pending.replicas else -1
            if moved == pending.direction:
                self.samples.append(LatencySample(
                    key[0], key[1], "up" if moved > 0 else "down", now - pending.since, pending.since, now,
                    pending.replicas, replicas))
            del self._pending[key]
            pending = None
        need = needed_replicas(demand_cores, spec.cpu_request, spec.target_utilization,
                               spec.min_replicas, spec.max_replicas)
        direction = self._direction(demand_cores, replicas, need, spec)
        if direction == 0:
            self._pending.pop(key, None)
        elif pending is None or pending.direction != direction:
            self._pending[key] = _Pending(direction, now, replicas)

    def _direction(self, demand_cores: float, replicas: int, need: int, spec: WorkloadSpec) -> int:
        if need == replicas:
            return 0
        if replicas <= 0:
            return 1 if need > 0 else 0
        ratio = demand_cores / (replicas * spec.cpu_request * spec.target_utilization)
        if abs(ratio - 1.0) <= self.tolerance:
            return 0
        return 1 if need > replicas else -1

    def pending(self) -> dict[Key, float]:
        return {key: p.since for key, p in self._pending.items()}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# -- the running simulator -----------------------------------------------------------------------------


def _hash(text: str, length: int) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # as Kubernetes' SafeEncodeString: no vowels, no 0/1/3
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def working_set(spec: WorkloadSpec, utilization: Any) -> Any:
    """A pod's memory working set: a base plus a share growing with CPU utilisation (scalar or array)."""
    return spec.memory_request * (0.35 + 0.3 * np.minimum(utilization, 2.0))


def pod_name(spec: WorkloadSpec, serial: str) -> str:
    """`<workload>-<replica set hash>-<pod hash>`, as a Deployment names its pods (the metrics policy's
    `pod` regex maps it back to the workload)."""
    pod = _hash(f"{spec.tenant}/{spec.workload}/{serial}", 5)
    return f"{spec.workload}-{_hash(spec.tenant + spec.workload, 10)}-{pod}"


@dataclass
class _Pod:
    name: str
    ready_at: float
    cpu_seconds: float = 0.0

    def ready(self, now: float) -> bool:
        return now >= self.ready_at


@dataclass
class _State:
    spec: WorkloadSpec
    desired: int
    pods: list[_Pod] = field(default_factory=list)
    requests_total: float = 0.0
    rejected_total: float = 0.0  # requests that arrived while no pod was ready (answered 503 by the ingress)
    demand: float = 0.0
    ready: int = 0
    pod_serial: int = 0
    usage_per_pod: float = 0.0


@dataclass(frozen=True)
class WorkloadStatus:
    """One workload as the live view shows it."""

    tenant: str
    workload: str
    isolation: str
    demand_cores: float
    desired: int
    ready: int
    needed: int
    utilization: float | None  # CPU used / CPU requested by ready pods
    cpu_request: float
    memory_request: float


@dataclass(frozen=True)
class HistoryPoint:
    at: float  # seconds since start
    demand_cores: float
    desired: int
    ready: int
    needed: int


class _Exporter(Collector):
    """Builds the exposition from the simulator's state at each scrape, so gone pods vanish at once."""

    def __init__(self, sim: WorkloadSimulator) -> None:
        self.sim = sim

    def collect(self) -> Iterator[Metric]:
        yield from self.sim.metric_families()

    def describe(self) -> Iterable[Metric]:
        return []


class WorkloadSimulator:
    """Replays `specs` in a background thread and serves `/metrics` on a free loopback port."""

    def __init__(
        self,
        specs: Sequence[WorkloadSpec],
        *,
        speed: float = 1.0,
        startup_seconds: float = 2.0,
        replicas_source: ReplicasSource | None = None,
        ready_sink: ReadySink | None = None,
        tick_seconds: float = 0.2,
        history_every: float = 1.0,
        tolerance: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.specs = list(specs)
        self.speed = speed
        self.startup_seconds = startup_seconds
        self.replicas_source = replicas_source
        self.ready_sink = ready_sink
        self.tick_seconds = tick_seconds
        self.history_every = history_every
        self.clock = clock
        self.wall = wall
        self._counted_at: float | None = None  # wall time of the last tick, when the counters last moved
        self.latency = LatencyTracker(tolerance)
        self.history: dict[Key, list[HistoryPoint]] = {s.key: [] for s in self.specs}
        self.replica_changes: list[tuple[float, Key, int, int]] = []
        self._lock = threading.RLock()
        self._states = {s.key: _State(s, s.initial_replicas) for s in self.specs}
        self._started_at: float | None = None
        self._last_tick: float | None = None
        self._last_history = -math.inf
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Exporter(self))
        self.port: int | None = None
        self.source_errors = 0

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def target(self) -> str:
        """`host:port` for a Prometheus scrape config."""
        if self.port is None:
            raise RuntimeError("simulator is not started")
        return f"{LOOPBACK}:{self.port}"

    def start(self, replay: bool = True) -> WorkloadSimulator:
        """Serve `/metrics` and (unless `replay` is False: see `start_replay`) start the replay."""
        if self._server is None:
            self._server, self._server_thread = start_http_server(0, addr=LOOPBACK, registry=self.registry)
            self.port = int(self._server.server_port)
        if replay:
            self.start_replay()
        return self

    def start_replay(self) -> None:
        """Start the replay clock and the background ticks (the initial pods are ready at once).

        Until then `/metrics` serves the initial pods, idle, so a scraper can be pointed at the simulator
        before the replay begins (the demo backfills history and builds its cost ledger first).
        """
        if self._thread is not None:
            return
        self.begin()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="workload-sim", daemon=True)
        self._thread.start()

    def begin(self) -> None:
        """Start the replay clock with the initial pods ready; `start()` does this, and tests drive `tick()`."""
        now = self.clock()
        self._started_at = self._last_tick = now
        with self._lock:
            for state in self._states.values():
                self._resize(state, state.desired, now, initial=True)
            self._step(now)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._server_thread is not None:
            self._server_thread.join(timeout=5)
            self._server_thread = None

    def __enter__(self) -> WorkloadSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:  # the simulator must outlive one bad read of the replica source
                log.exception("simulator tick failed")

    # -- stepping ------------------------------------------------------------------------------------

    def elapsed(self, now: float | None = None) -> float:
        if self._started_at is None:
            return 0.0
        return (self.clock() if now is None else now) - self._started_at

    def trace_minutes(self, now: float | None = None) -> float:
        return self.elapsed(now) * self.speed

    def tick(self, now: float | None = None) -> None:
        """Read replica counts, move pods, account CPU and requests since the last tick."""
        now = self.clock() if now is None else now
        wanted: Mapping[Key, int | None] = {}
        if self.replicas_source is not None:
            try:
                wanted = self.replicas_source()
            except Exception as exc:
                self.source_errors += 1
                log.warning("replica source failed: %s", exc)
        with self._lock:
            for key, state in self._states.items():
                replicas = wanted.get(key)
                if replicas is not None and replicas != state.desired:
                    self.replica_changes.append((self.elapsed(now), key, state.desired, replicas))
                    self._resize(state, replicas, now)
            self._step(now)

    def _resize(self, state: _State, replicas: int, now: float, initial: bool = False) -> None:
        replicas = max(0, replicas)
        state.desired = replicas
        while len(state.pods) < replicas:
            state.pod_serial += 1
            name = pod_name(state.spec, str(state.pod_serial))
            state.pods.append(_Pod(name, now if initial else now + self.startup_seconds))
        if len(state.pods) > replicas:
            # Scale-in removes pods that are not serving yet first, then the newest (as a ReplicaSet does).
            state.pods.sort(key=lambda p: (p.ready(now), -p.ready_at))
            del state.pods[: len(state.pods) - replicas]
            state.pods.sort(key=lambda p: p.ready_at)

    def _step(self, now: float) -> None:
        dt = 0.0 if self._last_tick is None else max(0.0, now - self._last_tick)
        self._last_tick = now
        self._counted_at = self.wall()
        minutes = self.trace_minutes(now)
        record = self.elapsed(now) - self._last_history >= self.history_every
        if record:
            self._last_history = self.elapsed(now)
        for key, state in self._states.items():
            spec = state.spec
            state.demand = spec.demand_at(minutes)
            ready = [p for p in state.pods if p.ready(now)]
            limit = BURST * spec.cpu_request
            state.usage_per_pod = min(state.demand / len(ready), limit) if ready else 0.0
            for pod in state.pods:
                pod.cpu_seconds += (state.usage_per_pod if pod.ready(now) else 0.02 * spec.cpu_request) * dt
            served = state.usage_per_pod * len(ready)
            state.requests_total += served * spec.requests_per_core * dt
            if not ready:
                # Scaled to zero (or every pod still starting): the ingress answers the arriving requests
                # with 503 and counts them, which is what lets an autoscaler wake a workload from zero.
                state.rejected_total += state.demand * spec.requests_per_core * dt
            if len(ready) != state.ready:
                state.ready = len(ready)
                if self.ready_sink is not None:
                    try:
                        self.ready_sink(key, state.ready)
                    except Exception as exc:
                        log.warning("ready sink failed for %s/%s: %s", key[0], key[1], exc)
            self.latency.observe(key, self.elapsed(now), state.demand, state.desired, spec)
            if record:
                self.history[key].append(HistoryPoint(
                    round(self.elapsed(now), 3), state.demand, state.desired, state.ready, self._needed(state)))

    @staticmethod
    def _needed(state: _State) -> int:
        spec = state.spec
        return needed_replicas(state.demand, spec.cpu_request, spec.target_utilization,
                               spec.min_replicas, spec.max_replicas)

    # -- reading -------------------------------------------------------------------------------------

    def status(self) -> list[WorkloadStatus]:
        with self._lock:
            out = []
            for state in self._states.values():
                spec = state.spec
                util = state.usage_per_pod / spec.cpu_request if state.ready else None
                out.append(WorkloadStatus(spec.tenant, spec.workload, spec.isolation, state.demand, state.desired,
                                          state.ready, self._needed(state), util, spec.cpu_request,
                                          spec.memory_request))
            return out

    def metric_families(self) -> list[Metric]:
        """The exposition, as the standard exporters would write it for these pods."""
        cpu = CounterMetricFamily("container_cpu_usage_seconds", "Cumulative cpu time consumed (cAdvisor).",
                                  labels=["namespace", "pod", "container"])
        mem = GaugeMetricFamily("container_memory_working_set_bytes", "Working set (cAdvisor).",
                                labels=["namespace", "pod", "container"])
        spec_replicas = GaugeMetricFamily("kube_deployment_spec_replicas", "Desired replicas (kube-state-metrics).",
                                          labels=["namespace", "deployment"])
        ready_replicas = GaugeMetricFamily("kube_deployment_status_replicas_ready",
                                           "Ready replicas (kube-state-metrics).", labels=["namespace", "deployment"])
        requests = GaugeMetricFamily("kube_pod_container_resource_requests",
                                     "Requested resources (kube-state-metrics).",
                                     labels=["namespace", "pod", "container", "node", "resource", "unit"])
        limits = GaugeMetricFamily("kube_pod_container_resource_limits", "Resource limits (kube-state-metrics).",
                                   labels=["namespace", "pod", "container", "node", "resource", "unit"])
        http = CounterMetricFamily("http_requests", "Requests answered, by status code.",
                                   labels=["tenant", "workload", "code"])
        demand = GaugeMetricFamily("tenantops_sim_demand_cores", "Replayed demand in cores (ground truth).",
                                   labels=["tenant", "workload", "trace"])
        now = self.clock()
        with self._lock:
            for state in self._states.values():
                spec = state.spec
                ns = f"tenant-{spec.tenant}"
                spec_replicas.add_metric([ns, spec.workload], state.desired)
                ready_replicas.add_metric([ns, spec.workload], state.ready)
                http.add_metric([spec.tenant, spec.workload, "200"], state.requests_total, timestamp=self._counted_at)
                if state.rejected_total > 0:
                    http.add_metric([spec.tenant, spec.workload, "503"], state.rejected_total,
                                    timestamp=self._counted_at)
                demand.add_metric([spec.tenant, spec.workload, spec.trace], state.demand)
                for pod in state.pods:
                    labels = [ns, pod.name, spec.workload]
                    cpu.add_metric(labels, pod.cpu_seconds, timestamp=self._counted_at)
                    util = state.usage_per_pod / spec.cpu_request if pod.ready(now) else 0.0
                    mem.add_metric(labels, float(working_set(spec, util)))
                    node = f"node-{spec.tenant}" if spec.isolation == "silo" else "pool-node"
                    requests.add_metric([*labels, node, "cpu", "core"], spec.cpu_request)
                    requests.add_metric([*labels, node, "memory", "byte"], spec.memory_request)
                    limits.add_metric([*labels, node, "cpu", "core"], BURST * spec.cpu_request)  # where usage stops
                    limits.add_metric([*labels, node, "memory", "byte"], spec.memory_request)
        return [cpu, mem, spec_replicas, ready_replicas, requests, limits, http, demand]
