"""Kubernetes quantities for requests, written out: rounded up, so a written request is never below the
recommendation.

A pure helper shared by the recommender (which reports requests as quantities), the requests actuator
(which writes them) and the CLI (which prints them), so it belongs to none of them. Reading quantities
is the Kubernetes client's parser (`config.kinds.common.parse_quantity`).
"""

from __future__ import annotations

import math

from tenantops.structs.usage import Resource

MIB = float(2**20)


def cpu_quantity(cores: float) -> str:
    """Cores as whole millicores, e.g. 0.2501 -> '251m'."""
    return f"{max(1, math.ceil(round(cores * 1000.0, 6)))}m"


def memory_quantity(size: float) -> str:
    """Bytes as whole mebibytes, e.g. 300e6 -> '287Mi'."""
    return f"{max(1, math.ceil(round(size / MIB, 6)))}Mi"


def quantity(resource: Resource | str, value: float) -> str:
    """A request of `resource` as the Kubernetes quantity written for it (`250m`, `512Mi`), rounded up."""
    return cpu_quantity(value) if resource == "cpu" else memory_quantity(value)
