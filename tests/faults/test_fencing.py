"""Fencing with the Lease: two replicas with the shipped timings (Lease duration derived from the pass
interval, time-compressed to a 1-second interval) keep one leader, and a leader whose pass outlives its
Lease makes no write after the Lease expired (it checks the time left before each actuator call).
Real `LeaseElector`s and `Runner`s against the Kubernetes API stand-in."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tenantops.act.kubeclient import api_client
from tenantops.act.kubernetes import KubernetesActuator
from tenantops.act.retry import RetryPolicy
from tenantops.config import Config, load_config
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.engine.lease import LEASE_INTERVALS, LeaseElector, check_lease_duration, lease_duration
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators
from tenantops.engine.runner import Runner
from tenantops.observe.kube_replicas import KubeReplicaReader
from tenantops.observe.replicas import LiveReplicas
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind
from tenantops.structs.snapshot import Reading, Snapshot, WorkloadMetrics

from .conftest import FaultLedger
from .helpers import write_config

pytestmark = pytest.mark.integration

CLASS = "a pass longer than the Lease / leadership"
INTERVAL, JITTER = 1.0, 0.2
SCALE = "/apis/apps/v1/namespaces/tenant-alpha/deployments/api/scale"
LEASE = 3  # seconds: outlasts a read and a write of 1 s each (the actuators' call deadline), not a 2.5 s pass


class Busy:
    """A metrics source: alpha/api under heavy load, after `delay` seconds (a slow Prometheus)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def observe(self, config: Config, now: datetime, tenants: Any = None) -> Snapshot:
        time.sleep(self.delay)
        readings = {"cpu": Reading(40.0, sampled_at=now), "requests": Reading(400.0, sampled_at=now),
                    "memory": Reading(2e8, sampled_at=now), "cpu_request": Reading(0.5, sampled_at=now),
                    "memory_request": Reading(2e8, sampled_at=now), "replicas": Reading(2.0, sampled_at=now)}
        return Snapshot(now, {("alpha", "api"): WorkloadMetrics("alpha", "api", readings)})


def _config(tmp_path: Path) -> tuple[Config, Path, Path]:
    catalog, policies = write_config(tmp_path)
    path = policies / "reports.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "ControllerPolicy":
            doc["spec"]["interval_seconds"], doc["spec"]["jitter_seconds"] = INTERVAL, JITTER
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return load_config(catalog, policies), catalog, policies


def _runner(kube_api: Any, tmp_path: Path, identity: str, duration: int, delay: float = 0.0, *,
            state: str = ":memory:", clock: Callable[[], datetime] | None = None) -> Runner:
    kube_api.add_namespace("tenantops")
    config, catalog, policies = _config(tmp_path / identity)
    leases = client.CoordinationV1Api(api_client(kube_api.url))
    elector = LeaseElector(leases, "tenantops", "tenantops-leader", identity, duration_seconds=duration,
                           **({"clock": clock} if clock is not None else {}))
    actuator = KubernetesActuator.connect(kube_api.url, retry=RetryPolicy(attempts=1, timeout=1.0))
    reader = LiveReplicas.of({TargetKind.KUBERNETES: KubeReplicaReader(actuator.apps)})
    reconciler = Reconciler(Busy(delay), StateStore(state), [AutoscalingDecider()],
                            register_actuators({TargetKind.KUBERNETES: actuator}), replica_reader=reader)
    return Runner(reconciler, config, catalog=catalog, policies=policies, leader=elector)


def test_lease_duration_is_derived_from_the_interval() -> None:
    assert lease_duration(30, 3) == 99  # the shipped ControllerPolicy: 30 s + 3 s jitter
    assert lease_duration(1, 0) == 15  # never below client-go's default
    check_lease_duration(99, 30, 3)
    with pytest.raises(ValueError, match="shorter than two pass intervals"):
        check_lease_duration(15, 30, 3)  # the old 15 s Lease against a 30 s pass


def test_two_replicas_keep_one_leader(kube_api: Any, tmp_path: Path, fault_ledger: FaultLedger) -> None:
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    duration = math.ceil(LEASE_INTERVALS * (INTERVAL + JITTER))  # lease_duration's rule, without the floor
    a, b = _runner(kube_api, tmp_path, "replica-a", duration), _runner(kube_api, tmp_path, "replica-b", duration)
    threads = [threading.Thread(target=r.run) for r in (a, b)]
    threads[0].start()
    deadline = time.monotonic() + 30  # b starts once a leads, however slowly a busy machine starts a's thread
    while time.monotonic() < deadline and (kube_api.lease("tenantops", "tenantops-leader") or {}).get(
            "spec", {}).get("holderIdentity") != "replica-a":
        time.sleep(0.05)
    threads[1].start()
    time.sleep(15)  # 15 intervals; b stops first so that a's release at the end hands nothing over
    b.stop()
    threads[1].join(timeout=30)
    a.stop()
    threads[0].join(timeout=30)
    lease = kube_api.lease("tenantops", "tenantops-leader")
    transitions = int(lease["spec"].get("leaseTransitions") or 0)
    one = transitions == 0 and a.stats.passes >= 10 and b.stats.passes == 0
    fault_ledger.case(CLASS, one, f"{transitions} leadership changes; passes a={a.stats.passes} b={b.stats.passes}"
                      f" (standby ticks b={b.stats.skipped_not_leader}), lease {duration}s, interval {INTERVAL}s")
    assert one


@pytest.mark.parametrize("delay", [0.0, 2.5])
def test_a_pass_outliving_its_lease_makes_no_write_after_it_expired(kube_api: Any, tmp_path: Path, delay: float,
                                                                   fault_ledger: FaultLedger) -> None:
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    runner = _runner(kube_api, tmp_path, "slow", duration=LEASE, delay=delay)
    started = time.time()
    result = runner.tick()
    expired_at = started + LEASE
    writes = [w for w in kube_api.writes(SCALE)]
    late = [w for w in writes if w.at.timestamp() >= expired_at]
    if delay == 0:  # the control: a pass inside its Lease does scale
        assert result is not None and writes
        return
    # The state store refuses to commit a pass whose Lease expired (its own fence); the actuator call was
    # refused before that, by the time left on the Lease.
    held = not late and not writes
    fault_ledger.case(CLASS, held, f"pass of {delay}s under a {LEASE}s lease: {len(writes)} writes, {len(late)} after"
                      f" expiry")
    assert held


def test_each_call_is_fenced_by_the_time_left_on_the_lease(kube_api: Any, tmp_path: Path,
                                                           fault_ledger: FaultLedger) -> None:
    now = [datetime(2026, 3, 2, 12, 0, tzinfo=UTC)]
    runner = _runner(kube_api, tmp_path, "fenced", duration=10)
    assert isinstance(runner.leader, LeaseElector)
    runner.leader.clock = lambda: now[0]
    assert runner.leader.try_acquire()
    runner._tick_started = time.monotonic()
    assert runner.may_act(5.0) is None  # 10 s left, a 5 s call
    now[0] += timedelta(seconds=8)
    refused = runner.may_act(5.0)  # 2 s left: the write could land after another replica took over
    short = runner.may_act(1.0)
    runner._tick_started = time.monotonic() - 10 * INTERVAL  # the pass outran its interval
    overran = runner.may_act(1.0)
    held = refused is not None and "lease has 2.0s left" in refused and short is None and \
        overran is not None and "past its" in overran
    fault_ledger.case(CLASS, held, f"fenced: {refused}; {overran}")
    assert held


def test_a_leader_that_takes_its_lease_back_after_another_held_it_is_the_writer_again(
        kube_api: Any, tmp_path: Path, fault_ledger: FaultLedger) -> None:
    """a stalls past its Lease, b takes over (and the store's writer generation with it), b stops and hands
    the Lease back, and a, never having seen itself not lead, takes the free Lease at its next tick. It must
    take the writer's generation again: with b's generation in the store every commit of a was refused,
    so the one leader there was renewed its Lease every pass and scaled nothing, for as long as it ran."""
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    now = [datetime(2026, 3, 2, 12, 0, tzinfo=UTC)]
    state = str(tmp_path / "state.db")
    a = _runner(kube_api, tmp_path, "replica-a", 15, state=state, clock=lambda: now[0])
    b = _runner(kube_api, tmp_path, "replica-b", 15, state=state, clock=lambda: now[0])
    assert a.tick() is not None and b.tick() is None  # a leads; b sees the Lease held
    now[0] += timedelta(seconds=16)  # a is stalled: no renewal for longer than the Lease
    assert b.tick() is not None and b.reconciler.store.writer is not None
    taken = b.reconciler.store.writer.generation
    b.stop()
    b._release()  # b shuts down and hands the Lease back, as `run` does on its way out
    results = [a.tick(), a.tick()]
    writer = a.reconciler.store.writer
    held = all(r is not None for r in results) and a.stats.failed_passes == 0 and writer is not None and \
        writer.generation > taken
    fault_ledger.case(CLASS, held, f"a's passes after retaking the Lease: {a.stats.passes - 1} recorded, "
                      f"{a.stats.failed_passes} refused; writer generation {writer.generation if writer else None}"
                      f" after b's {taken}")
    assert held


def test_a_replica_that_takes_a_shard_over_decides_from_what_its_last_owner_committed(
        kube_api: Any, tmp_path: Path, fault_ledger: FaultLedger) -> None:
    """Shard Leases over one shared state: b read the state when it started; a then reconciled the tenants
    of both shards for a while and died. b took the shards over and decided from its start-up copy, and
    each key it then committed (a stabilisation window, a month's cost) undid what a had committed."""
    from tenantops.engine.lease import ShardedElector

    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    now = [datetime(2026, 3, 2, 12, 0, tzinfo=UTC)]
    state = str(tmp_path / "state.db")
    leases = client.CoordinationV1Api(api_client(kube_api.url))

    def replica(identity: str) -> tuple[Runner, ShardedElector]:
        runner = _runner(kube_api, tmp_path, identity, 15, state=state)
        elector = ShardedElector(leases, "tenantops", identity, 2, duration_seconds=15, clock=lambda: now[0])
        runner.leader, runner.tenant_filter = elector, (lambda tenant: elector.owned(tenant.id))
        return runner, elector

    a, _ = replica("replica-a")
    assert a.tick() is not None  # alone: a owns both shards
    b, b_shards = replica("replica-b")  # b's copy of the state is read now
    for _ in range(3):  # a reconciles on (b takes its share of the shards meanwhile)
        now[0] += timedelta(seconds=2)
        assert a.tick() is not None
        b.tick()
    with StateStore(state) as shared:  # the recommendations a's passes made for alpha/api, as committed
        observed = shared.state("autoscaling")["alpha/api"]["recommendations"]
    for _ in range(2):  # a dies: b sees its shard Lease unrenewed for longer than its duration
        now[0] += timedelta(seconds=16)
        assert b.tick() is not None
    assert b_shards.owned_shards() == frozenset({0, 1})
    continued = b.reconciler.store.state("autoscaling")["alpha/api"]["recommendations"]
    kept = [r for r in observed if r in continued]
    held = len(kept) == len(observed)
    fault_ledger.case(CLASS, held, f"alpha/api: {len(kept)} of the {len(observed)} recommendations a committed are in"
                      " the history b decides from after taking the shard over")
    assert held


def test_a_pass_that_outran_its_interval_before_acting_still_makes_its_most_urgent_write(
        kube_api: Any, tmp_path: Path, fault_ledger: FaultLedger) -> None:
    """A slow metrics source (1.5 s against a 1 s interval) makes every pass outrun its interval before it
    acts; each pass still makes its first write, so a controller that is always late still scales."""
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    config, catalog, policies = _config(tmp_path / "late")
    actuator = KubernetesActuator.connect(kube_api.url, retry=RetryPolicy(attempts=1, timeout=1.0))
    reconciler = Reconciler(Busy(1.5), StateStore(":memory:"), [AutoscalingDecider()],
                            register_actuators({TargetKind.KUBERNETES: actuator}))
    runner = Runner(reconciler, config, catalog=catalog, policies=policies)
    result = runner.tick()
    assert result is not None
    (outcome,) = [o for o in result.outcomes if (o.action.tenant, o.action.workload) == ("alpha", "api")]
    made = outcome.status.value == "applied" and kube_api.replicas("tenant-alpha", "api") == outcome.action.desired > 2
    fault_ledger.case(CLASS, made, f"a pass late before acting: {outcome.status.value} {outcome.action.current} -> "
                      f"{outcome.action.desired}, {outcome.detail}")
    assert made


class Pausing(Busy):
    """`Busy`, whose next observation first runs `pause()` (set by the test): the replica stalls mid-pass,
    before it decides and commits, for as long as `pause` takes."""

    def __init__(self) -> None:
        super().__init__()
        self.pause: Callable[[], None] | None = None

    def observe(self, config: Config, now: datetime, tenants: Any = None) -> Snapshot:
        pause, self.pause = self.pause, None
        if pause is not None:
            pause()
        return super().observe(config, now, tenants)


class AlertMail:
    """The reconciler's `mail`: one outbox row per notification the alert lifecycle let through."""

    def __call__(self, config: Config, alerts: Any, now: datetime) -> list[Any]:
        from tenantops.notify.outbox import prepare

        return [prepare("alert", f"alert:{a.key}:{a.episode}", f"From: t@example.com\nTo: ops@example.com\n"
                        f"Subject: {a.key}\n\n{a.summary}\n".encode(), now=now) for a in alerts]


@pytest.mark.parametrize("stale_clock", ["frozen", "running"])
def test_a_sharded_replica_that_lost_its_shards_mid_pass_commits_nothing_of_it(
        kube_api: Any, tmp_path: Path, state_url: str, stale_clock: str, fault_ledger: FaultLedger) -> None:
    """a owns both shards of a shared state (SQLite file, PostgreSQL) and stalls mid-pass (paused,
    partitioned) for longer than its shard Leases; b takes both shards over and runs its pass. When a
    resumes, the pass it had begun must commit nothing: not its state over b's, not the alert mail it
    decided (which b's delivery would send), and act on nothing. `frozen`: a's clock did not move (a
    paused VM), so only the store's fence, the shard Leases' generations, can tell; `running`: its clock
    moved on, so its own Lease check can too."""
    from tenantops.decide.facts import FactsDecider
    from tenantops.engine.lease import ShardedElector
    from tenantops.notify.outbox import Outbox

    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clocks = {"replica-a": [start], "replica-b": [start]}
    leases = client.CoordinationV1Api(api_client(kube_api.url))

    def replica(identity: str, source: Busy) -> tuple[Runner, ShardedElector]:
        runner = _runner(kube_api, tmp_path, identity, 15, state=state_url)
        runner.reconciler.source = source
        runner.reconciler.deciders.append(FactsDecider())
        runner.reconciler.mail = AlertMail()
        clock = clocks[identity]
        elector = ShardedElector(leases, "tenantops", identity, 2, duration_seconds=15, clock=lambda: clock[0])
        runner.leader, runner.tenant_filter = elector, (lambda tenant: elector.owned(tenant.id))
        return runner, elector

    stalled = Pausing()
    a, a_shards = replica("replica-a", stalled)
    assert a.tick() is not None and a_shards.owned_shards() == frozenset({0, 1})
    b, b_shards = replica("replica-b", Busy())

    def b_takes_over() -> None:
        for _ in range(2):  # b sees a's Leases, then sees them unrenewed for longer than their duration
            clocks["replica-b"][0] += timedelta(seconds=16)
            if stale_clock == "running":
                clocks["replica-a"][0] = clocks["replica-b"][0]
            b.tick()
        assert b_shards.owned_shards() == frozenset({0, 1}) and b.stats.passes == 1
        kube_api.clear_log()

    stalled.pause = b_takes_over
    a.reconciler.notices["stalled-probe"] = "a notice only the stalled replica's pass alerts on"
    result = a.tick()
    with StateStore(state_url) as shared:
        after = shared.state("autoscaling")["alpha/api"]
        mail = [e.dedup_key for e in Outbox(shared.db).entries() if "stalled-probe" in e.dedup_key]
        audit = shared.connection.execute("SELECT COUNT(*) FROM audit WHERE reason LIKE '%stalled-probe%'").fetchone()
    b_state = b.reconciler.store.state("autoscaling")["alpha/api"]
    writes = kube_api.writes(SCALE)
    held = result is None and a.stats.failed_passes == 1 and after == b_state and not mail and not writes and \
        audit == (0,)
    detail = (f"sharded replica stalled past its shard Leases ({stale_clock} clock), then resumed: pass "
              f"{'refused' if result is None else 'committed'}, {len(mail)} alert mail(s) queued, {len(writes)} scale "
              f"write(s), state {'kept as b committed it' if after == b_state else 'overwritten'}")
    fault_ledger.case(CLASS, held, detail)
    assert held, detail
