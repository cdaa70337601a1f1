"""What each workload holds this pass, read from the snapshot with the catalogue as the fallback.

OpenCost charges a workload for max(request, usage): a request reserves capacity whether or not it is
used, and usage above the request still took capacity from the node. A reading that is missing or bad is
never read as zero; the catalogue's request times the known (or minimum) replica count stands in, and the
usage is marked `estimated` so reports can say so.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tenantops.config.kinds.common import parse_quantity
from tenantops.config.loader import Config
from tenantops.quantities import gib
from tenantops.structs.network import NetworkEgress, TransferClass
from tenantops.structs.snapshot import Reading, Snapshot

# Metric names of the default MetricsPolicy (`policies/metrics.yaml`); `storage_bytes` is optional.
CPU, MEMORY, CPU_REQUEST, MEMORY_REQUEST, REPLICAS, STORAGE = (
    "cpu", "memory", "cpu_request", "memory_request", "replicas", "storage_bytes",
)


@dataclass(frozen=True, slots=True)
class WorkloadUsage:
    """One workload's billable quantities for one pass (per hour of wall time)."""

    tenant: str
    workload: str
    region: str
    isolation: Literal["pool", "silo"]
    cpu_cores: float  # max(request, usage), pooled tenants
    memory_gib: float  # max(request, usage), pooled tenants
    storage_gib: float  # priced at the region's `storage_gb_month` (per 2^30 bytes, as AWS bills it)
    instances: float  # running instances of a silo tenant's group
    instance_type: str | None
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class NetworkUsage:
    """One pooled tenant's network egress over the pass's interval (bytes by class; same zone is free)."""

    tenant: str
    region: str
    bytes: Mapping[TransferClass, float]
    untrusted: int = 0  # pods whose counters could not be trusted, left out


def network_usages(network: NetworkEgress | None, config: Config) -> list[NetworkUsage]:
    """The measured tenants' egress, in their catalogued region; none when network is not measured."""
    if network is None or not network.measured:
        return []
    out = []
    for tenant in config.tenants:
        found = network.tenants.get(tenant.id)
        if found is not None:
            out.append(NetworkUsage(tenant.id, tenant.region, found.bytes, found.untrusted))
    return out


def _value(readings: Mapping[str, Reading] | None, metric: str) -> float | None:
    if readings is None:
        return None
    reading = readings.get(metric)
    return reading.value if reading is not None and reading.ok else None


def workload_usages(snapshot: Snapshot, config: Config) -> list[WorkloadUsage]:
    """Billable quantities of every catalogued workload; workloads the catalogue lacks are not billed here."""
    out: list[WorkloadUsage] = []
    workloads = snapshot.workloads
    for tenant in config.tenants:
        for w in tenant.workloads:
            tid, name = tenant.id, w.name
            found = workloads.get((tid, name))
            readings = found.readings if found is not None else None
            replicas = _value(readings, REPLICAS)
            estimated = replicas is None
            count = replicas if replicas is not None else float(w.min_replicas)
            storage = _value(readings, STORAGE) or 0.0
            if tenant.isolation == "silo":
                out.append(WorkloadUsage(tid, name, tenant.region, "silo", 0.0, 0.0, gib(storage), count,
                                         w.silo_instance_type, estimated))
                continue
            cpu = _value(readings, CPU)
            mem = _value(readings, MEMORY)
            cpu_req = _value(readings, CPU_REQUEST)
            mem_req = _value(readings, MEMORY_REQUEST)
            if cpu_req is None:
                cpu_req = _quantity(w.cpu_request) * count
                estimated = True
            if mem_req is None:
                mem_req = _quantity(w.memory_request) * count
                estimated = True
            if cpu is None or mem is None:
                estimated = True
            out.append(WorkloadUsage(
                tid, name, tenant.region, "pool",
                max(cpu_req, cpu or 0.0), gib(max(mem_req, mem or 0.0)), gib(storage), 0.0, None, estimated,
            ))
    return out


@functools.lru_cache(maxsize=1024)
def _quantity(value: str) -> float:
    return parse_quantity(value)
