"""Kubernetes quantities for requests, written out: rounded up, so a written request is never below the
recommendation; and bytes as the unit prices count them.

A pure helper shared by the recommender (which reports requests as quantities), the requests actuator
(which writes them) and the CLI (which prints them), so it belongs to none of them. Reading quantities
is the Kubernetes client's parser (`config.kinds.common.parse_quantity`).

Every price per "GB" in the Pricing policy (`memory_gib_hour`, `storage_gb_month`, `transfer_gb`) is per
2^30 bytes: AWS bills storage and transfer by the GB-month and GB where its billing "GB" is 2^30 bytes,
and OpenCost divides bytes by 1024^3 before pricing them. `gib` is the one conversion every cost uses.
"""

from __future__ import annotations

import math

from tenantops.structs.usage import Resource

MIB = float(2**20)
GIB = float(2**30)


def gib(size: float) -> float:
    """Bytes in the unit the Pricing policy prices memory, storage and transfer in (2^30 bytes)."""
    return size / GIB


def cpu_quantity(cores: float) -> str:
    """Cores as whole millicores, e.g. 0.2501 -> '251m'."""
    return f"{max(1, math.ceil(round(cores * 1000.0, 6)))}m"


def memory_quantity(size: float) -> str:
    """Bytes as whole mebibytes, e.g. 300e6 -> '287Mi'."""
    return f"{max(1, math.ceil(round(size / MIB, 6)))}Mi"


def quantity(resource: Resource | str, value: float) -> str:
    """A request of `resource` as the Kubernetes quantity written for it (`250m`, `512Mi`), rounded up."""
    return cpu_quantity(value) if resource == "cpu" else memory_quantity(value)
