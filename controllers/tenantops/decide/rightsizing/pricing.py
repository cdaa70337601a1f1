"""Money: what a request or an instance costs per month under the Pricing policy."""

from __future__ import annotations

from tenantops.config.kinds.cost import PricingSpec, RegionPrices
from tenantops.quantities import gib

HOURS_PER_MONTH = 730.0


def region_prices(pricing: PricingSpec, region: str) -> RegionPrices | None:
    return pricing.regions.get(region)


def request_cost_month(prices: RegionPrices, cpu_cores: float, memory_bytes: float, replicas: float) -> float:
    """Monthly cost of per-pod requests times replicas at the region's per-core and per-GiB hourly prices."""
    hourly = cpu_cores * prices.cpu_core_hour + gib(memory_bytes) * prices.memory_gib_hour
    return hourly * replicas * HOURS_PER_MONTH
