"""The tenant catalogue schema: one entry per customer, the single source of truth for who exists."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, EmailStr, Field, ValidationInfo, field_validator

from tenantops.config.kinds.common import DisplayName, Label, NonNegative, Quantity, Region, TenantId, parse_quantity
from tenantops.config.registry import Spec
from tenantops.structs.naming import controller_role_name

MAX_REPLICAS = 2**31 - 1
"""The most replicas a workload may state: a Deployment's `spec.replicas` and an Auto Scaling group's sizes
are 32-bit integers, so a larger count passed validate and then failed `pulumi up` and every scale write."""

DEFAULT_SILO_INSTANCE_TYPE = "m6i.large"
"""The instance type of a silo workload whose catalogue entry names none."""


class Workload(Spec):
    """A scalable unit of a tenant: a Deployment (pool) or an Auto Scaling group (silo).

    `cpu_limit` (optional) is one replica's CPU limit. A pod may use CPU beyond its request up to it, so a
    CPU utilisation reading stops at limit/request, not at 1; the autoscaler reads the limit from
    kube-state-metrics and falls back to this one. Unset and unmeasured, it takes the request as the
    ceiling, since the request is all that is guaranteed.
    """

    name: Label
    min_replicas: int = Field(ge=0, le=MAX_REPLICAS)
    max_replicas: int = Field(ge=1, le=MAX_REPLICAS)
    cpu_request: Quantity = "500m"
    cpu_limit: Quantity | None = None
    memory_request: Quantity = "512Mi"
    instance_type: str | None = None  # silo only; unset: DEFAULT_SILO_INSTANCE_TYPE (`silo_instance_type`)

    @property
    def silo_instance_type(self) -> str:
        """What a silo tenant's instances of this workload run on: the one rule the Pulumi program launches
        by and the cost allocation, right-sizing and capacity plan price by."""
        return self.instance_type or DEFAULT_SILO_INSTANCE_TYPE

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_replicas")
        if low is not None and value < low:
            raise ValueError(f"max_replicas ({value}) is below min_replicas ({low})")
        return value

    @field_validator("cpu_limit")
    @classmethod
    def _limit_not_below_request(cls, value: str | None, info: ValidationInfo) -> str | None:
        request = info.data.get("cpu_request")
        if value is not None and request is not None and parse_quantity(value) < parse_quantity(request):
            raise ValueError(f"cpu_limit ({value}) is below cpu_request ({request}); Kubernetes rejects such a pod")
        return value


class Overrides(Spec):
    """Per-tenant changes to its tier's policies: partial specs merged over the tier's documents."""

    scaling: dict[str, Any] | None = None
    rightsizing: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    alerts: dict[str, Any] | None = None
    breakers: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None


class Tenant(Spec):
    id: TenantId
    name: DisplayName | None = None
    tier: str
    isolation: Literal["pool", "silo"]
    region: Region
    budget_usd_month: NonNegative
    contacts: list[EmailStr] = Field(min_length=1)
    workloads: list[Workload] = Field(min_length=1)
    overrides: Overrides | None = None

    @property
    def namespace(self) -> str:
        return f"tenant-{self.id}"

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @field_validator("contacts")
    @classmethod
    def _unique_contacts(cls, value: list[str]) -> list[str]:
        """A mailbox named twice (in any case: `Ops@acme.example`, `ops@acme.example`) is a typo, and a
        relay may deliver the customer's mail to it twice."""
        seen: set[str] = set()
        for address in value:
            if address.casefold() in seen:
                raise ValueError(f"contact {address!r} appears twice (addresses are compared in any case)")
            seen.add(address.casefold())
        return value

    @field_validator("workloads")
    @classmethod
    def _unique_workloads(cls, value: list[Workload]) -> list[Workload]:
        seen: set[str] = set()
        for workload in value:
            if workload.name in seen:
                raise ValueError(f"workload name {workload.name!r} appears twice")
            seen.add(workload.name)
        return value


ENVIRONMENT_MAX = 64 - len(controller_role_name(""))
"""The longest environment name: the controller's IAM role, `tenantops-<environment>-controller`, is
limited to 64 characters by IAM, and a longer name passed validate and then failed `pulumi up`. (Tenant
resources whose names carry the environment are cut to their own limits with a hash, `tenantops_infra`.)"""


def _environment(value: str) -> str:
    if len(value) > ENVIRONMENT_MAX:
        raise ValueError(f"must be at most {ENVIRONMENT_MAX} characters (got {len(value)}): the controller's IAM "
                         f"role {controller_role_name(value)!r} would be longer than IAM's 64")
    return value


class CatalogSpec(Spec):
    """A stack's catalogue file."""

    environment: Annotated[Label, AfterValidator(_environment)] = "dev"
    tenants: list[Tenant]
