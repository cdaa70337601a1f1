"""Kubernetes quantities for requests: rounded up, so a written request is never below the recommendation."""

from __future__ import annotations

import math

MIB = float(2**20)


def cpu_quantity(cores: float) -> str:
    """Cores as whole millicores, e.g. 0.2501 -> '251m'."""
    return f"{max(1, math.ceil(round(cores * 1000.0, 6)))}m"


def memory_quantity(size: float) -> str:
    """Bytes as whole mebibytes, e.g. 300e6 -> '287Mi'."""
    return f"{max(1, math.ceil(round(size / MIB, 6)))}Mi"
