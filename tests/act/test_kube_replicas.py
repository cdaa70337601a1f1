"""Live counts of Deployments from the API stand-in: one cluster-wide list for every tenant, and, where
RBAC forbids that, per-namespace lists, then per-target scale reads, remembered once found."""

from __future__ import annotations

import pytest

from tenantops.observe.kube_replicas import KubeReplicaReader
from tenantops.structs.plan import ScaleTarget, TargetKind
from tenantops.structs.replicas import ReplicaCount

from .builders import apps_api

pytestmark = pytest.mark.integration


def _targets(n: int) -> list[ScaleTarget]:
    return [ScaleTarget(TargetKind.KUBERNETES, "api", f"tenant-t{i}") for i in range(n)]


def test_one_list_reads_every_tenant(kube_api) -> None:
    for i in range(30):
        kube_api.add_deployment(f"tenant-t{i}", "api", replicas=i)
    reader = KubeReplicaReader(apps_api(kube_api))
    counts = reader.describe_many([*_targets(30), ScaleTarget(TargetKind.KUBERNETES, "api", "tenant-gone")])
    assert reader.calls == 1
    assert counts[_targets(30)[7]].desired == 7
    assert len(counts) == 30  # the absent Deployment is absent, not zero


def test_a_list_longer_than_a_page_is_read_to_its_end(kube_api) -> None:
    """The apiserver answers `limit=500` with 500 items and a `continue` token; every page is read."""
    from tenantops.observe.kube_replicas import PAGE

    n = 2 * PAGE + 1
    for i in range(n):
        kube_api.add_deployment(f"tenant-t{i}", "api", replicas=i % 7)
    reader = KubeReplicaReader(apps_api(kube_api))
    counts = reader.describe_many(_targets(n))
    assert reader.calls == 3 and len(counts) == n
    assert {t.namespace: c.desired for t, c in counts.items()} == {f"tenant-t{i}": i % 7 for i in range(n)}
    pages = kube_api.requests(method="GET", path_prefix="/apis/apps/v1/deployments")
    assert [r.query.get("limit") for r in pages] == [[str(PAGE)]] * 3
    assert [bool(r.query.get("continue")) for r in pages] == [False, True, True]


def test_forbidden_lists_fall_back_and_stay_fallen_back(kube_api) -> None:
    for i in range(3):
        kube_api.add_deployment(f"tenant-t{i}", "api", replicas=2 + i)
    kube_api.inject("/apis/apps/v1/deployments", 403)
    kube_api.inject("/apis/apps/v1/namespaces/tenant-t0/deployments", 403)
    reader = KubeReplicaReader(apps_api(kube_api))
    counts = reader.describe_many(_targets(3))
    assert reader.mode == "scale"
    assert {t.namespace: c.desired for t, c in counts.items()} == {"tenant-t0": 2, "tenant-t1": 3, "tenant-t2": 4}
    assert counts[_targets(3)[0]] == ReplicaCount(2, 2)
    calls = reader.calls
    reader.describe_many(_targets(3))
    assert reader.calls - calls == 3  # no forbidden call repeated


def test_an_unreachable_api_raises_rather_than_reading_as_nothing(kube_api) -> None:
    kube_api.add_deployment("tenant-t0", "api", replicas=2)
    kube_api.inject("/apis/apps/v1/deployments", 503)
    reader = KubeReplicaReader(apps_api(kube_api), timeout=2)
    with pytest.raises(Exception):  # noqa: B017 - any failure: the caller marks the counts unknown
        reader.describe_many(_targets(1))
