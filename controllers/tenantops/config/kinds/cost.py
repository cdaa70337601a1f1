"""Cost policy schemas: prices, allocation rules (global), budgets and alert rules (per tier)."""

from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field

from tenantops.config.kinds.common import NonNegative, Positive
from tenantops.config.registry import Spec, policy_kind


class InstancePrice(Spec):
    vcpu: Positive
    memory_gib: Positive
    on_demand: NonNegative  # USD per hour
    spot: NonNegative | None = None
    reserved: NonNegative | None = None


class RegionPrices(Spec):
    cpu_core_hour: NonNegative
    memory_gib_hour: NonNegative
    storage_gb_month: NonNegative
    transfer_gb: dict[Literal["inter_zone", "inter_region", "internet"], NonNegative] = {}
    instances: dict[str, InstancePrice] = {}


@policy_kind("Pricing", scope="global")
class PricingSpec(Spec):
    """Unit prices per region. Kept in policy because the AWS Pricing API is not always reachable.

    Example:
        kind: Pricing
        name: default
        spec:
          currency: USD
          regions:
            us-east-1:
              cpu_core_hour: 0.0316
              memory_gib_hour: 0.0042
              storage_gb_month: 0.023
              transfer_gb: {inter_zone: 0.01, inter_region: 0.02, internet: 0.09}
              instances:
                m6i.large: {vcpu: 2, memory_gib: 8, on_demand: 0.096, spot: 0.036, reserved: 0.060}
    """

    currency: Literal["USD"] = "USD"
    regions: dict[str, RegionPrices] = Field(min_length=1)


@policy_kind("CostAllocation", scope="global")
class AllocationSpec(Spec):
    """How costs no tenant caused are spread.

    Example:
        kind: CostAllocation
        name: default
        spec:
          idle: proportional
          shared: even
          shared_namespaces: [tenantops, monitoring, kube-system]
    """

    idle: Literal["proportional", "even", "separate"] = "proportional"
    shared: Literal["proportional", "even", "separate"] = "even"
    shared_namespaces: list[str] = ["tenantops", "monitoring", "kube-system"]


@policy_kind("BudgetPolicy", scope="tier", tier_field="budget")
class BudgetSpec(Spec):
    """Budget thresholds (percent of the tenant's monthly budget) on actual and forecasted spend.

    Example:
        kind: BudgetPolicy
        name: standard
        spec:
          actual_thresholds: [80, 100]
          forecast_thresholds: [100]
    """

    actual_thresholds: list[Positive] = [80, 100]
    forecast_thresholds: list[Positive] = [100]


@policy_kind("AlertPolicy", scope="tier", tier_field="alerts")
class AlertSpec(Spec):
    """When a cost anomaly pages someone, and where alerts go.

    Example:
        kind: AlertPolicy
        name: standard
        spec:
          anomaly_z: 3.5
          min_impact_usd: 50
          min_impact_percent: 20
          snooze_hours: 24
          escalate_after_hours: 48
          routes: [email, webhook, alertmanager]
    """

    anomaly_z: Positive = 3.5
    min_impact_usd: NonNegative = 50
    min_impact_percent: NonNegative = 20
    snooze_hours: NonNegative = 24
    escalate_after_hours: NonNegative = 48
    routes: list[Literal["email", "webhook", "alertmanager"]] = ["email"]
    extra_recipients: list[EmailStr] = []
