"""Leader election and shard ownership with Leases, against the API stand-in, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client

from tenantops.act.kubeclient import api_client
from tenantops.engine.lease import LeaseElector, ShardedElector, lease_safe
from tenantops.engine.shards import shard_of
from tenantops_lab.sandbox.kube_api import KubeApiServer

pytestmark = pytest.mark.integration

NS, NAME = "tenantops", "tenantops-leader"
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{NAME}"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def leases(kube_api: KubeApiServer) -> client.CoordinationV1Api:
    kube_api.add_namespace(NS)
    return client.CoordinationV1Api(api_client(kube_api.url))


def elector(leases, identity: str, clock: FakeClock, duration: int = 15) -> LeaseElector:
    return LeaseElector(leases, NS, NAME, identity, duration_seconds=duration, clock=clock)


def test_only_one_of_two_electors_leads(kube_api, leases, clock) -> None:
    a, b = elector(leases, "a", clock), elector(leases, "b", clock)
    assert a.try_acquire() is True
    assert b.try_acquire() is False
    for _ in range(3):
        clock.advance(5)
        assert a.try_acquire() is True
        assert b.try_acquire() is False
    stored = kube_api.lease(NS, NAME)["spec"]
    assert stored["holderIdentity"] == "a" and stored["leaseDurationSeconds"] == 15
    assert stored["leaseTransitions"] == 0 and stored["acquireTime"] != stored["renewTime"]
    # Renewals at whole seconds (this clock's) carry the six fractional digits metav1.MicroTime demands.
    assert stored["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert stored["renewTime"] == "2026-01-01T00:00:15.000000Z"


def test_the_follower_takes_over_when_the_lease_expires(kube_api, leases, clock) -> None:
    a, b = elector(leases, "a", clock), elector(leases, "b", clock)
    assert a.try_acquire()
    assert not b.try_acquire()
    clock.advance(14)
    assert not b.try_acquire()  # not yet: 14 s without a change is within the 15 s duration
    clock.advance(1)
    assert b.try_acquire()  # a stopped renewing; b takes over
    assert not a.is_leader  # a's own renewal is 15 s old by its clock too
    assert not a.try_acquire()  # and when a comes back it finds b holding a fresh lease
    stored = kube_api.lease(NS, NAME)["spec"]
    assert stored["holderIdentity"] == "b" and stored["leaseTransitions"] == 1


def test_expiry_is_measured_from_when_the_follower_saw_a_change(kube_api, leases, clock) -> None:
    """An old renewTime written by a skewed clock does not let a newcomer take over at once."""
    a = elector(leases, "a", clock)
    assert a.try_acquire()
    clock.advance(3600)  # a's renewTime is now an hour old by this clock...
    assert a.try_acquire()  # ...but a renews
    late = elector(leases, "late", clock)
    clock.advance(60)  # a is gone; a newcomer arrives a minute later
    assert not late.try_acquire()  # it has only just seen the record: wait one duration
    clock.advance(15)
    assert late.try_acquire()


def test_renewal_conflict_is_handled_without_two_leaders(kube_api, leases, clock) -> None:
    a, b = elector(leases, "a", clock), elector(leases, "b", clock)
    assert a.try_acquire()
    kube_api.inject(LEASE_PATH, 409, method="PUT")
    clock.advance(5)
    assert a.try_acquire() is False  # lost the renewal write: stop acting now
    assert a.is_leader is False
    assert b.try_acquire() is False  # the lease was not released and has not expired
    clock.advance(5)
    assert a.try_acquire() is True  # the next renewal works again
    assert kube_api.lease(NS, NAME)["spec"]["holderIdentity"] == "a"


def test_racing_takeover_has_one_winner(kube_api, leases, clock) -> None:
    """b and c both see the expired lease; the server's resourceVersion check lets only one through."""
    a, b, c = (elector(leases, n, clock) for n in "abc")
    assert a.try_acquire()
    assert not b.try_acquire() and not c.try_acquire()
    clock.advance(16)
    # c writes between b's read and b's write: b's write names a stale resourceVersion
    kube_api.on_request(LEASE_PATH, c.try_acquire, method="PUT")
    assert b.try_acquire() is False
    assert c.is_leader is True
    assert kube_api.lease(NS, NAME)["spec"]["holderIdentity"] == "c"
    assert [r.status for r in kube_api.requests(method="PUT")][-2:] == [200, 409]


def test_release_lets_a_successor_lead_at_once(kube_api, leases, clock) -> None:
    a, b = elector(leases, "a", clock), elector(leases, "b", clock)
    assert a.try_acquire() and not b.try_acquire()
    a.release()
    assert "holderIdentity" not in kube_api.lease(NS, NAME)["spec"]
    assert b.try_acquire()
    assert kube_api.lease(NS, NAME)["spec"]["leaseTransitions"] == 0  # nobody held it when b took it


def test_api_errors_mean_not_leading(kube_api, leases, clock) -> None:
    a = elector(leases, "a", clock)
    assert a.try_acquire()
    kube_api.inject(LEASE_PATH, 500, method="GET")
    assert a.try_acquire() is False
    kube_api.inject(LEASE_PATH, "hang", method="GET", hang_seconds=2)
    a.timeout = 0.2
    assert a.try_acquire() is False
    assert a.try_acquire() is True


def sharded(leases, identity: str, clock: FakeClock, shards: int = 4) -> ShardedElector:
    return ShardedElector(leases, NS, identity, shards, prefix="tops", clock=clock)


def test_shards_are_shared_between_replicas_and_every_tenant_has_one_owner(kube_api, leases, clock) -> None:
    a = sharded(leases, "replica-a", clock)
    assert a.try_acquire() and a.owned_shards() == {0, 1, 2, 3}  # alone: it takes everything
    b = sharded(leases, "replica-b", clock)
    assert b.try_acquire() is False  # member now, but every shard is held
    clock.advance(1)
    assert a.try_acquire()  # sees two members: keeps its fair share, releases the rest
    assert a.owned_shards() == {0, 1}
    assert b.try_acquire() and b.owned_shards() == {2, 3}
    tenants = [f"tenant{i}" for i in range(50)]
    for tenant in tenants:
        assert a.owned(tenant) != b.owned(tenant)
        assert (a if shard_of(tenant, 4) in {0, 1} else b).owned(tenant)


def test_a_dead_replicas_shards_are_taken_over_after_expiry(kube_api, leases, clock) -> None:
    a, b = sharded(leases, "replica-a", clock), sharded(leases, "replica-b", clock)
    a.try_acquire()
    b.try_acquire()
    clock.advance(1)
    a.try_acquire()
    b.try_acquire()
    assert a.owned_shards() == {0, 1} and b.owned_shards() == {2, 3}
    for _ in range(3):  # b dies; a keeps renewing and, after b's membership expires, sees b's shards
        clock.advance(5)
        a.try_acquire()
    assert a.owned_shards() == {0, 1}  # seen at t=16 for the first time: not expired before t=31
    for _ in range(3):
        clock.advance(5)
        a.try_acquire()
    assert a.owned_shards() == {0, 1, 2, 3}


def test_sharded_release_hands_back_everything(kube_api, leases, clock) -> None:
    a = sharded(leases, "replica-a", clock, shards=2)
    assert a.try_acquire()
    a.release()
    assert a.owned_shards() == frozenset()
    assert all("holderIdentity" not in kube_api.lease(NS, f"tops-shard-{i}")["spec"] for i in range(2))


@given(st.text(max_size=80))
def test_lease_safe_names_are_dns_labels(identity: str) -> None:
    name = lease_safe(identity)
    assert 1 <= len(name) <= 63
    assert all(ch.isdigit() or "a" <= ch <= "z" or ch == "-" for ch in name)
    assert not name.startswith("-") and not name.endswith("-")


@given(st.text(min_size=1, max_size=30), st.integers(min_value=1, max_value=64))
def test_shard_assignment_is_stable_and_in_range(tenant: str, shards: int) -> None:
    assert 0 <= shard_of(tenant, shards) < shards
    assert shard_of(tenant, shards) == shard_of(tenant, shards)


def test_electors_built_from_the_pod_environment_share_one_lease(kube_api, clock) -> None:
    from tenantops.engine.lease import leader_elector, shard_elector

    kube_api.add_namespace("ops")
    first = leader_elector(kube_api.url, env={"POD_NAME": "ctl-0", "POD_NAMESPACE": "ops"}, clock=clock)
    second = leader_elector(kube_api.url, env={"POD_NAME": "ctl-1", "POD_NAMESPACE": "ops"}, clock=clock)
    assert first.try_acquire() and not second.try_acquire()
    assert kube_api.lease("ops", "tenantops-leader")["spec"]["holderIdentity"] == "ctl-0"
    shards = shard_elector(kube_api.url, 3, env={"POD_NAME": "ctl-0", "POD_NAMESPACE": "ops"}, clock=clock)
    assert shards.try_acquire() and shards.owned_shards() == {0, 1, 2}
    assert kube_api.lease("ops", "tenantops-member-ctl-0")["metadata"]["labels"] == {
        "tenantops.io/lease-group": "tenantops", "tenantops.io/lease-role": "member"}
