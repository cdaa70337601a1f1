"""Cost policy schemas: prices, allocation rules (global), budgets and alert rules (per tier)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, EmailStr, Field, ValidationInfo, field_validator, model_validator

from tenantops.config.kinds.common import Hours, NonNegative, Positive, PositiveSeconds
from tenantops.config.registry import Spec, policy_kind
from tenantops.structs.causes import ALERT_CAUSES


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

    A "GB" here is what AWS bills as one: 2^30 bytes (`memory_gib_hour`, `storage_gb_month` per GB-month of
    730 hours, `transfer_gb`); `tenantops.quantities.gib` converts bytes for all of them.

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


class PoolSpec(Spec):
    """The shared cluster's nodes in one region: what the pool really costs, and what its own services reserve.

    Without it the pool is assumed to cost exactly what its tenants use (no idle capacity is known).
    """

    instance_type: str
    nodes: int = Field(ge=0)
    purchase: Literal["on_demand", "spot", "reserved"] = "on_demand"
    # CPU and memory held by the namespaces in `shared_namespaces` (controller, monitoring, system pods).
    shared_cpu_cores: NonNegative = 0
    shared_memory_gib: NonNegative = 0


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
          pools:
            us-east-1: {instance_type: m6i.xlarge, nodes: 6, shared_cpu_cores: 2, shared_memory_gib: 6}
          silo_purchase: on_demand
          max_pass_gap_seconds: 900
    """

    idle: Literal["proportional", "even", "separate"] = "proportional"
    shared: Literal["proportional", "even", "separate"] = "even"
    shared_namespaces: list[str] = ["tenantops", "monitoring", "kube-system"]
    pools: dict[str, PoolSpec] = {}
    silo_purchase: Literal["on_demand", "spot", "reserved"] = "on_demand"
    # A pass is charged for the time since the previous one, but never more than this: after an outage the
    # controller cannot know what ran, and guessing would invent spend.
    max_pass_gap_seconds: PositiveSeconds = 900


MAX_BUDGET_NOTIFICATIONS = 10  # per AWS Budget (the Budgets API's limit)


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

    @field_validator("forecast_thresholds")
    @classmethod
    def _within_aws_notification_limit(cls, value: list[float], info: ValidationInfo) -> list[float]:
        """Each distinct threshold is one notification of the tenant's AWS Budget, and AWS takes at most
        `MAX_BUDGET_NOTIFICATIONS` per budget: more would pass validate and then fail `pulumi up`."""
        actual = info.data.get("actual_thresholds")
        count = len(set(value)) + (len(set(actual)) if actual is not None else 0)
        if count > MAX_BUDGET_NOTIFICATIONS:
            raise ValueError(f"{count} distinct actual and forecast thresholds; an AWS Budget takes at most "
                             f"{MAX_BUDGET_NOTIFICATIONS} notifications")
        return value


class Snooze(Spec):
    """Silence alerts of one cause (or one exact alert key) until a time, with the reason on record.

    Kept in policy (usually a tenant's `overrides.alerts.snooze` in the catalogue) so a silence is reviewed
    like any change, expires by itself, and the running controller picks it up on reload.
    """

    cause: str | None = None  # e.g. cost-anomaly-daily, budget-forecast
    key: str | None = None  # an exact alert key, e.g. cost:anomaly:hourly:acme
    until: AwareDatetime
    reason: str = Field(min_length=1)

    @field_validator("cause")
    @classmethod
    def _known_cause(cls, value: str | None) -> str | None:
        if value is not None and value not in ALERT_CAUSES:
            raise ValueError(f"no alert has the cause {value!r}, so this snooze would silence nothing; "
                             f"causes: {', '.join(sorted(ALERT_CAUSES))}")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Snooze:
        if (self.cause is None) == (self.key is None):
            raise ValueError("a snooze names exactly one of `cause` or `key`")
        return self


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
          snooze:
            - {cause: cost-anomaly-hourly, until: "2026-12-01T00:00:00Z", reason: load test week}
    """

    anomaly_z: Positive = 3.5
    min_impact_usd: NonNegative = 50
    min_impact_percent: NonNegative = 20
    snooze_hours: Hours = 24
    escalate_after_hours: Hours = 48
    routes: list[Literal["email", "webhook", "alertmanager"]] = ["email"]
    extra_recipients: list[EmailStr] = []
    snooze: list[Snooze] = []
