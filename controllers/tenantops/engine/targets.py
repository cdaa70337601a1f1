"""Which object a workload's replicas live in (see `tenantops.structs.targets`, where it is defined)."""

from __future__ import annotations

from tenantops.structs.targets import target_for

__all__ = ["target_for"]
