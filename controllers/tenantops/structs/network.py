"""Network egress per tenant over one pass's window, as the network-costs daemonset counted it.

OpenCost prices network transfer from the bytes each pod sends, by where they go: to the internet, to
another region, or to another zone of the same region (`kubecost_pod_network_egress_bytes_total`, labels
`internet`, `same_region`, `same_zone`). Traffic within a zone is free and is not a class here.
`observe.network` reads it; the cost allocation prices it at the Pricing policy's `transfer_gb`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

TransferClass = Literal["internet", "inter_region", "inter_zone"]
TRANSFER_CLASSES: tuple[TransferClass, ...] = ("internet", "inter_region", "inter_zone")


@dataclass(frozen=True, slots=True)
class TenantEgress:
    """One tenant's egress over the window: bytes by class, and how many pods' counters could not be
    trusted (NaN, negative or implausible) and were left out."""

    bytes: Mapping[TransferClass, float] = field(default_factory=dict)
    untrusted: int = 0


@dataclass(frozen=True, slots=True)
class NetworkEgress:
    """The pass's egress reading. `measured` False: no daemonset series exist (or the read failed), so no
    network cost is known; `reason` says why. Measured, every tenant read is in `tenants` (one with no
    series sent nothing)."""

    measured: bool
    seconds: float
    tenants: Mapping[str, TenantEgress] = field(default_factory=dict)
    reason: str = ""
    failed: bool = False  # not measured because the read failed (said where it failed), not for want of series

    def __post_init__(self) -> None:
        if not isinstance(self.tenants, MappingProxyType):
            object.__setattr__(self, "tenants", MappingProxyType(dict(self.tenants)))

    @staticmethod
    def not_measured(reason: str, seconds: float = 0.0, *, failed: bool = False) -> NetworkEgress:
        return NetworkEgress(False, seconds, {}, reason, failed)
