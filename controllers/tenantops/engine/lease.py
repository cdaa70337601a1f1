"""Leader election and tenant sharding with `coordination.k8s.io/v1` Leases.

Two replicas must never both scale the same tenant. One Lease object is the lock: its holder renews
`renewTime` every pass; every write carries the resourceVersion it read, so two replicas racing for an
expired Lease cannot both win (the loser gets 409 Conflict and stays a follower).

Expiry follows client-go's leaderelection rather than comparing `renewTime` with our own clock: a
follower remembers when it last *saw the record change* and treats the Lease as expired only after
`leaseDurationSeconds` of no change by its own clock. Clocks of different nodes may disagree; the
duration measured on one clock is safe either way.

A leader that cannot renew (API errors, a conflict it loses) reports False at once and acts no more
until it renews; it does not release, so nobody takes over before the Lease expires.

Fencing. Holding the Lease at the start of a pass is not enough: a pass that outlives the Lease would
act after another replica took over (3 writes 26.5 s after losing it, on 27-second-old data). Before
each actuator call the runner asks `remaining()`, the time left on the Lease as this replica last
renewed it, measured on its own clock from the moment it sent the renewal, and does not start a call
whose deadline is longer. The duration is derived from the pass interval (`lease_duration`): three
intervals (plus jitter), so a healthy leader, which renews every pass, never loses it to a pass that
runs long or one failed renewal.

Sharding, for installations that outgrow one replica: N shard Leases (`<prefix>-shard-<i>`); each
replica also keeps a membership Lease (`<prefix>-member-<identity>`, labelled with the group) so the
replicas can count each other and take a fair share, ceil(N / live members), each. A replica over its
share releases the surplus (its highest shards) so a newcomer can pick them up. A tenant belongs to
shard `crc32(id) % N` (`tenantops.engine.shards.shard_of`), so every replica agrees on ownership without
talking. Time comes from an injected clock, so expiry is tested without sleeping.

A one-off pass (`reconcile --once`) on a state leader-elected replicas write acts only under their Lease
(`one_pass_elector`) or, beside sharded replicas, under every shard Lease of their group at once
(`one_pass_shards`, `AllShards`); the state's leadership record says which, and in which namespace.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tenantops.act.kubeclient import KubeTarget, api_client
from tenantops.engine.shards import shard_of

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
GROUP_LABEL = "tenantops.io/lease-group"
ROLE_LABEL = "tenantops.io/lease-role"


def utc_now() -> datetime:
    return datetime.now(UTC)


LEASE_INTERVALS = 3  # Lease duration in pass intervals (with jitter)


def lease_duration(interval_seconds: float, jitter_seconds: float = 0.0) -> int:
    """The Lease duration for a controller renewing it every pass: `LEASE_INTERVALS` intervals, at least 15 s
    (client-go's default), so one slow pass or one failed renewal never hands leadership over."""
    return max(15, math.ceil(LEASE_INTERVALS * (interval_seconds + jitter_seconds)))


def check_lease_duration(duration_seconds: float, interval_seconds: float, jitter_seconds: float = 0.0) -> None:
    """Refuse a Lease that a healthy leader renewing every pass could lose between two renewals."""
    if duration_seconds < 2 * (interval_seconds + jitter_seconds):
        raise ValueError(f"a lease of {duration_seconds:g}s is shorter than two pass intervals"
                         f" ({interval_seconds:g}s + {jitter_seconds:g}s jitter): the leader would lose it between"
                         " renewals; use at least " f"{lease_duration(interval_seconds, jitter_seconds)}s")


def lease_safe(identity: str) -> str:
    """An identity usable inside a Lease name (DNS-1123): pod names already are; hostnames may not be."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", identity.lower()).strip("-")
    return cleaned[:63].rstrip("-") or "replica"


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The fields of a Lease that election reads, in one comparable value."""

    holder: str | None
    duration: int
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int

    @classmethod
    def of(cls, lease: client.V1Lease) -> LeaseRecord:
        spec = lease.spec or client.V1LeaseSpec()
        return cls(spec.holder_identity or None, int(spec.lease_duration_seconds or 0), spec.acquire_time,
                   spec.renew_time, int(spec.lease_transitions or 0))


class LeaseElector:
    """One Lease, one identity. `try_acquire()` each pass; act only while it returns True."""

    def __init__(self, api: client.CoordinationV1Api, namespace: str, name: str, identity: str, *,
                 duration_seconds: int = 15, clock: Clock = utc_now, labels: dict[str, str] | None = None,
                 request_timeout: float = 5.0, trust_renew_time: bool = False, create: bool = True) -> None:
        if duration_seconds < 1:
            raise ValueError("duration_seconds must be at least 1")
        self.api, self.namespace, self.name, self.identity = api, namespace, name, identity
        self.duration = duration_seconds
        self.clock = clock
        self.labels = dict(labels or {})
        self.timeout = request_timeout
        # A replica that competes for the Lease for as long as it runs waits a full duration of no change
        # before it takes a held Lease over (no trust in another node's clock). A one-off pass cannot wait
        # for that; it counts a record it sees for the first time as seen at its `renewTime` instead.
        self.trust_renew_time = trust_renew_time
        self.create = create  # False: a Lease that does not exist is not created (and not held)
        self.missing = False  # the last read found no Lease and `create` is False
        self._observed: LeaseRecord | None = None
        self._observed_at: datetime | None = None
        self._renewed_at: datetime | None = None  # our clock, at our last successful write as holder
        # Counts the times this replica began to hold the Lease (created it, or took it from another holder
        # or from nobody), as opposed to renewing its own record: a holder that took the Lease back, having
        # never seen itself not lead, may have been followed by another writer meanwhile (`Runner._fence`).
        self.term = 0

    def remaining(self) -> float:
        """Seconds left on the Lease as we last renewed it (our clock, from when the renewal was sent);
        0 when we do not hold it."""
        if self._renewed_at is None:
            return 0.0
        return (self._renewed_at + timedelta(seconds=self.duration) - self.clock()).total_seconds()

    @property
    def is_leader(self) -> bool:
        """True while our last successful renewal is younger than the Lease duration."""
        return self._renewed_at is not None and \
            self.clock() < self._renewed_at + timedelta(seconds=self.duration)

    @property
    def observed(self) -> LeaseRecord | None:
        """The Lease as this elector last read it (None before the first successful read, or when absent)."""
        return self._observed

    def _observe(self, record: LeaseRecord, now: datetime) -> None:
        if record != self._observed:
            first = self._observed is None
            self._observed, self._observed_at = record, now
            if first and self.trust_renew_time and record.renew_time is not None:
                self._observed_at = min(now, record.renew_time)

    def _expired(self, now: datetime) -> bool:
        if self._observed is None or self._observed_at is None or not self._observed.holder:
            return True
        return now >= self._observed_at + timedelta(seconds=max(self._observed.duration, 1))

    def _spec(self, now: datetime, acquire_time: datetime, transitions: int) -> client.V1LeaseSpec:
        return client.V1LeaseSpec(holder_identity=self.identity, lease_duration_seconds=self.duration,
                                  acquire_time=acquire_time, renew_time=now, lease_transitions=transitions)

    def try_acquire(self) -> bool:
        """Create, renew or take over the Lease; True when we hold it after this call."""
        now, self.missing = self.clock(), False
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status != 404:
                return self._lost(f"reading the lease failed: HTTP {exc.status}")
            self.missing = not self.create
            return self._lost("the lease does not exist") if self.missing else self._create(now)
        except Exception as exc:  # connection refused, timeout: we cannot prove we still lead
            return self._lost(f"reading the lease failed: {type(exc).__name__}")
        record = LeaseRecord.of(lease)
        self._observe(record, now)
        if record.holder == self.identity:
            spec = self._spec(now, record.acquire_time or now, record.transitions)
            return self._write(lease, spec, now, "renewed")
        if not self._expired(now):
            self._renewed_at = None
            return False
        spec = self._spec(now, now, record.transitions + (1 if record.holder else 0))
        return self._write(lease, spec, now, f"taken over from {record.holder or 'nobody'}")

    def _create(self, now: datetime) -> bool:
        body = client.V1Lease(metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace,
                                                           labels=self.labels or None),
                              spec=self._spec(now, now, 0))
        try:
            self.api.create_namespaced_lease(self.namespace, body, _request_timeout=self.timeout)
        except ApiException as exc:
            return self._lost(f"creating the lease failed: HTTP {exc.status}")  # 409: someone was faster
        except Exception as exc:
            return self._lost(f"creating the lease failed: {type(exc).__name__}")
        self._renewed_at = now
        self.term += 1
        log.info("lease %s/%s created and held by %s", self.namespace, self.name, self.identity,
                 extra={"event": "lease.acquired", "lease": self.name, "identity": self.identity})
        return True

    def _write(self, lease: client.V1Lease, spec: client.V1LeaseSpec, now: datetime, what: str) -> bool:
        lease.spec = spec
        try:
            written = self.api.replace_namespaced_lease(self.name, self.namespace, lease,
                                                        _request_timeout=self.timeout)
        except ApiException as exc:
            return self._lost(f"{what}: write failed with HTTP {exc.status}")
        except Exception as exc:
            return self._lost(f"{what}: write failed: {type(exc).__name__}")
        was_leader = self._renewed_at is not None
        self._renewed_at = now
        if what != "renewed":
            self.term += 1
        self._observe(LeaseRecord.of(written), now)
        if not was_leader or what != "renewed":
            log.info("lease %s/%s %s by %s", self.namespace, self.name, what, self.identity,
                     extra={"event": "lease.acquired", "lease": self.name, "identity": self.identity})
        return True

    def _lost(self, why: str) -> bool:
        """Stop acting now; the Lease is not released, so nobody else acts before it expires either."""
        if self._renewed_at is not None:
            log.warning("lease %s/%s: %s; not acting until renewed", self.namespace, self.name, why,
                        extra={"event": "lease.lost", "lease": self.name, "identity": self.identity})
        else:
            log.debug("lease %s/%s: %s", self.namespace, self.name, why)
        self._renewed_at = None
        return False

    def release(self) -> None:
        """Hand the Lease back (empty holder) so a successor need not wait for it to expire."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        now = self.clock()
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.timeout)
            record = LeaseRecord.of(lease)
            if record.holder != self.identity:
                return
            lease.spec = client.V1LeaseSpec(holder_identity=None, lease_duration_seconds=1,
                                            acquire_time=record.acquire_time, renew_time=now,
                                            lease_transitions=record.transitions)
            self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=self.timeout)
            log.info("lease %s/%s released by %s", self.namespace, self.name, self.identity,
                     extra={"event": "lease.released", "lease": self.name, "identity": self.identity})
        except Exception as exc:  # it expires on its own; releasing is a courtesy
            log.warning("lease %s/%s: release failed (%s); it will expire instead", self.namespace,
                        self.name, type(exc).__name__)


def shard_lease(prefix: str, index: int) -> str:
    """The name of shard `index`'s Lease in the group `prefix`."""
    return f"{prefix}-shard-{index}"


class ShardedElector:
    """N shard Leases shared fairly among the live replicas; `owned(tenant_id)` says whose tenant it is."""

    def __init__(self, api: client.CoordinationV1Api, namespace: str, identity: str, shards: int, *,
                 prefix: str = "tenantops", duration_seconds: int = 15, clock: Clock = utc_now,
                 request_timeout: float = 5.0) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.api, self.namespace, self.identity, self.shards, self.prefix = api, namespace, identity, shards, prefix
        self.clock = clock
        self.timeout = request_timeout
        group = {GROUP_LABEL: prefix}
        self._member = LeaseElector(api, namespace, f"{prefix}-member-{lease_safe(identity)}", identity,
                                    duration_seconds=duration_seconds, clock=clock,
                                    labels={**group, ROLE_LABEL: "member"}, request_timeout=request_timeout)
        self._shards = [LeaseElector(api, namespace, shard_lease(prefix, i), identity,
                                     duration_seconds=duration_seconds, clock=clock,
                                     labels={**group, ROLE_LABEL: "shard"}, request_timeout=request_timeout)
                        for i in range(shards)]
        # Counts the times this replica came to own a shard it did not own at its last call: the tenants
        # of that shard were another replica's, whose commits this replica's state has not seen.
        self.term = 0
        self._held: frozenset[int] = frozenset()

    def _live_members(self) -> int:
        """Replicas whose membership Lease was renewed within its duration (by their clock: balance only)."""
        try:
            leases = self.api.list_namespaced_lease(
                self.namespace, label_selector=f"{GROUP_LABEL}={self.prefix},{ROLE_LABEL}=member",
                _request_timeout=self.timeout).items
        except Exception as exc:
            log.warning("listing shard members failed (%s); assuming this replica is alone", type(exc).__name__)
            return 1
        now, live = self.clock(), 0
        for lease in leases:
            record = LeaseRecord.of(lease)
            if record.holder and record.renew_time is not None and \
                    now < record.renew_time + timedelta(seconds=max(record.duration, 1)):
                live += 1
        return max(live, 1)

    def fair_share(self) -> int:
        return math.ceil(self.shards / self._live_members())

    def try_acquire(self) -> bool:
        """Renew what we hold, shed any surplus, then take free shards up to our share; True if we own any."""
        if not self._member.try_acquire():
            for elector in self._shards:
                elector.release()
            self._held = frozenset()
            return False
        share = self.fair_share()
        held = [i for i, elector in enumerate(self._shards) if elector.is_leader and elector.try_acquire()]
        for i in held[share:]:
            self._shards[i].release()
        held = held[:share]
        for i, elector in enumerate(self._shards):
            if len(held) >= share:
                break
            if i not in held and elector.try_acquire():
                held.append(i)
        if frozenset(held) - self._held:
            self.term += 1
        self._held = frozenset(held)
        return bool(held)

    def remaining(self) -> float:
        """The shortest time left on any Lease this replica acts under (membership and owned shards)."""
        held = [e.remaining() for e in self._shards if e.is_leader]
        return min([self._member.remaining(), *held]) if held else 0.0

    def owned_shards(self) -> frozenset[int]:
        return frozenset(i for i, elector in enumerate(self._shards) if elector.is_leader)

    def terms(self) -> dict[str, int]:
        """The shard Leases this replica holds now, each with the term of its hold (`LeaseElector.term`): what
        its commits are fenced by, one token per Lease (`StateStore.hold_shards`)."""
        return {e.name: e.term for e in self._shards if e.is_leader}

    def owned(self, tenant_id: str) -> bool:
        """Whether this replica reconciles the tenant right now."""
        return shard_of(tenant_id, self.shards) in self.owned_shards()

    def release(self) -> None:
        for elector in self._shards:
            elector.release()
        self._member.release()


def identity_and_namespace(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """This replica's identity (POD_NAME from the downward API, else the host name) and the namespace
    of its Leases (POD_NAMESPACE, else `tenantops`), as deploy/base/deployment.yaml provides them."""
    env = os.environ if env is None else env
    return env.get("POD_NAME") or platform.node() or "tenantops", env.get("POD_NAMESPACE") or "tenantops"


def leader_elector(kube_url: KubeTarget, *, name: str = "tenantops-leader", duration_seconds: int = 15,
                   env: Mapping[str, str] | None = None, clock: Clock = utc_now) -> LeaseElector:
    """The elector `tenantops run` uses: one Lease in the controller's namespace, named `name`."""
    identity, namespace = identity_and_namespace(env)
    api = client.CoordinationV1Api(api_client(kube_url))
    return LeaseElector(api, namespace, name, identity, duration_seconds=duration_seconds, clock=clock)


def shard_elector(kube_url: KubeTarget, shards: int, *, prefix: str = "tenantops", duration_seconds: int = 15,
                  env: Mapping[str, str] | None = None, clock: Clock = utc_now) -> ShardedElector:
    """Shard Leases for `shards` shards; use its `owned` as the run loop's tenant filter."""
    identity, namespace = identity_and_namespace(env)
    api = client.CoordinationV1Api(api_client(kube_url))
    return ShardedElector(api, namespace, identity, shards, prefix=prefix, duration_seconds=duration_seconds,
                          clock=clock)


def one_pass_elector(kube_url: KubeTarget, name: str, *, duration_seconds: int, namespace: str | None = None,
                     env: Mapping[str, str] | None = None, clock: Clock = utc_now) -> LeaseElector:
    """The elector of a one-off pass (`reconcile --once`) on a state that leader-elected replicas write.

    Without it such a pass has no writer token, skips the store's fence and commits beside the running
    leader. With it, the pass acts only while it holds the leader's Lease, as any replica would: it is
    refused while another holder keeps the Lease renewed, it takes the writer generation through the
    Lease (so the leader it displaced commits nothing more and, finding the Lease changed, takes it back
    and reloads), and it releases the Lease when done. Its identity is this host's (POD_NAME) with the
    process id, never the leader's own, even when run inside the leader's pod. It never creates the
    Lease: replicas that held it wrote this state, so a Lease that is not there is looked for in the wrong
    namespace (a pass that created its own would act beside the leader).
    """
    identity, default_namespace = identity_and_namespace(env)
    api = client.CoordinationV1Api(api_client(kube_url))
    return LeaseElector(api, namespace or default_namespace, name, f"{identity}/once-{os.getpid()}",
                        duration_seconds=duration_seconds, clock=clock, trust_renew_time=True, create=False)


class AllShards:
    """Every shard Lease of a group at once, for a one-off pass beside sharded replicas (`one_pass_shards`).

    The pass reconciles every tenant, so it may act only while it holds every shard: `try_acquire` takes
    them in order and, at the first it cannot take (renewed by a live replica, or missing), hands back
    those it took and reports False, with that Lease as `blocking`. `remaining` is the shortest time left
    on any of them, so the runner fences each call as it does a sharded replica's. It carries the group
    (`prefix`, `shards`, `namespace`, `identity`), which the runner records as a sharded replica's.
    """

    def __init__(self, electors: list[LeaseElector], prefix: str) -> None:
        if not electors:
            raise ValueError("a shard group has at least one Lease")
        self.electors, self.prefix, self.shards = electors, prefix, len(electors)
        self.namespace, self.identity = electors[0].namespace, electors[0].identity
        self.blocking: LeaseElector | None = None
        self.term = 0

    def try_acquire(self) -> bool:
        self.blocking = None
        for elector in self.electors:
            if not elector.try_acquire():
                self.blocking = elector
                self.release()
                return False
        self.term = 1
        return True

    @property
    def missing(self) -> bool:
        return self.blocking is not None and self.blocking.missing

    def remaining(self) -> float:
        return min(elector.remaining() for elector in self.electors)

    def terms(self) -> dict[str, int]:
        """The shard Leases held now, each with the term of its hold, as `ShardedElector.terms`."""
        return {e.name: e.term for e in self.electors if e.is_leader}

    def release(self) -> None:
        for elector in self.electors:
            elector.release()


def one_pass_shards(kube_url: KubeTarget, prefix: str, shards: int, *, duration_seconds: int,
                    namespace: str | None = None, env: Mapping[str, str] | None = None,
                    clock: Clock = utc_now) -> AllShards:
    """The electors of a one-off pass on a state that sharded replicas (`run --leader-elect --shards N`)
    write: every shard Lease of their group, each taken as `one_pass_elector` takes a single leader's (never
    created, refused while renewed by another holder, released after the pass), under one identity."""
    identity, default_namespace = identity_and_namespace(env)
    api = client.CoordinationV1Api(api_client(kube_url))
    return AllShards([LeaseElector(api, namespace or default_namespace, shard_lease(prefix, i),
                                   f"{identity}/once-{os.getpid()}", duration_seconds=duration_seconds, clock=clock,
                                   trust_renew_time=True, create=False) for i in range(shards)], prefix)


def refusal(leader: LeaseElector | AllShards) -> str:
    """Why a one-off pass under `leader` did not act, in one line for an operator, with how to proceed."""
    if isinstance(leader, AllShards):
        why = held_by_another(leader.blocking) if leader.blocking is not None else \
            f"the shard Leases {leader.namespace}/{shard_lease(leader.prefix, 0)}.. could not be taken"
        if leader.missing:
            return why
        return (f"{why}: sharded leaders are running on this state ({leader.shards} shard Leases), and a pass "
                "beside them would write what they write; use --dry-run, or stop them (they release their "
                "Leases on exit) and run again")
    why = held_by_another(leader)
    if leader.missing:
        return why
    return (f"{why}: a leader is running on this state, and a pass beside it would write what it writes; use "
            "--dry-run, or stop the leader (it releases the Lease on exit) and run again")


def held_by_another(elector: LeaseElector) -> str:
    """Why `elector` may not act, in one line for an operator: who holds its Lease, or that it is unreadable."""
    where, record = f"Lease {elector.namespace}/{elector.name}", elector.observed
    if elector.missing:
        return (f"{where} does not exist, yet replicas holding it wrote this state (--lease-namespace names the "
                "namespace they run in)")
    if record is None or not record.holder:
        return (f"{where} could not be read or taken (is the identity allowed to get and update Leases in "
                f"{elector.namespace}? --lease-namespace names another)")
    renewed = "" if record.renew_time is None else \
        f", renewed {max(0.0, (elector.clock() - record.renew_time).total_seconds()):.0f}s ago"
    return f"{where} is held by {record.holder} ({record.duration}s lease{renewed})"
