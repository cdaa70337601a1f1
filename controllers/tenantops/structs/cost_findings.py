"""The cost concern's per-pass findings: each tenant's cost to serve, month to date and forecast.

Typed values the pass carries (`Findings.cost`); the cost gauges on /metrics (`record.cost_metrics`) and
the demo read them by field. They become JSON only at an edge, through `to_json`/`from_json` (the one
codec of this type). Money is USD (floats, 1e-6 precision).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tenantops.structs.jsonread import FindingsUnreadable, JsonFields


@dataclass(frozen=True, slots=True)
class TenantFinding:
    """One tenant's cost-to-serve this pass and where its month is heading."""

    tenant: str
    usd: float  # cost of this pass's interval
    usd_per_hour: float  # the same as a rate
    # cpu, memory, storage, instances, network (only where measured), idle, shared (this interval)
    components: Mapping[str, float]
    estimated: bool  # some reading was missing and the catalogue's requests stood in
    today_usd: float
    month: str
    month_to_date_usd: float
    budget_usd: float
    forecast_usd: float
    forecast_low_usd: float
    forecast_high_usd: float
    burn_rate: float | None
    forecast_method: str


_TENANT_FIELDS = tuple(f.name for f in fields(TenantFinding))


@dataclass(frozen=True, slots=True)
class PoolFinding:
    region: str
    asset_usd: float
    workloads_usd: float
    shared_usd: float
    idle_usd: float
    price_factor: float
    overcommitted: bool


@dataclass(frozen=True)
class CostFindings:
    """Everything the cost decider concluded in one pass."""

    at: str  # ISO time of the pass
    interval_seconds: float
    total_usd: float
    idle_usd: float  # idle capacity cost this interval (distributed or not)
    shared_usd: float  # shared services cost this interval (distributed or not)
    idle_bucket_usd: float  # part of idle kept separate (rule `separate`, or nobody to spread it on)
    shared_bucket_usd: float
    tenants: Mapping[str, TenantFinding] = field(default_factory=dict)
    pools: Mapping[str, PoolFinding] = field(default_factory=dict)
    issues: tuple[str, ...] = ()
    network_not_measured: str = ""  # why network transfer is not in the costs this pass; "" when measured

    def to_json(self) -> dict[str, Any]:
        # Written out rather than `dataclasses.asdict`, which deep-copies and costs seconds at 10,000 tenants.
        return {
            "at": self.at, "interval_seconds": self.interval_seconds, "total_usd": self.total_usd,
            "idle_usd": self.idle_usd, "shared_usd": self.shared_usd, "idle_bucket_usd": self.idle_bucket_usd,
            "shared_bucket_usd": self.shared_bucket_usd,
            "tenants": {k: {f: getattr(v, f) for f in _TENANT_FIELDS} for k, v in self.tenants.items()},
            "pools": {k: asdict(v) for k, v in self.pools.items()},
            "issues": list(self.issues), "network_not_measured": self.network_not_measured,
        }

    @staticmethod
    def from_json(raw: Any, where: str = "cost") -> CostFindings:
        f = JsonFields(raw, where)
        tenants, pools = f.obj("tenants"), f.obj("pools")
        try:
            data = dict(f.raw)
            data["tenants"] = {k: TenantFinding(**JsonFields(v, tenants.at(k)).raw) for k, v in tenants.raw.items()}
            data["pools"] = {k: PoolFinding(**JsonFields(v, pools.at(k)).raw) for k, v in pools.raw.items()}
            data["issues"] = f.texts("issues")
            return CostFindings(**data)
        except TypeError as exc:  # a field missing or unknown: the dataclass names it
            raise FindingsUnreadable(f"{where}: {exc}") from None
