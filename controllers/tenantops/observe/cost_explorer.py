"""Billed cost per tenant from AWS Cost Explorer, to reconcile the controller's estimate against.

`GetCostAndUsage` grouped by the `tenant` cost allocation tag returns keys `tenant$<id>`; spend without
the tag comes back as `tenant$` and is reported as `__untagged__`, because untagged spend is exactly what
an allocation has to explain. Pages (`NextPageToken`) are followed.

Given an environment, only spend tagged `environment=<env>` is read, as the tenant budgets filter
(`tenantops_infra.budget`): where dev and prod share an AWS account, prod's estimate is compared with prod's
bill, not with both. `__untagged__` is then that environment's spend without a tenant tag (the controller's
own resources, say); spend with no environment tag cannot be told apart and is left out, and
`tenantops cost --reconcile` says which environment it compared.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import boto3

from tenantops.config.settings import Settings
from tenantops.endpoints import Unreachable, unreachable

log = logging.getLogger(__name__)

UNTAGGED = "__untagged__"
TAG_KEY = "tenant"
ENVIRONMENT_TAG_KEY = "environment"


def tenant_of(group_key: str) -> str:
    """`tenant$acme` -> `acme`; `tenant$` (no tag) -> `__untagged__`."""
    _, _, value = group_key.partition("$")
    return value or UNTAGGED


class CostExplorerSource:
    """Reads billed cost by tenant tag. `client` is a boto3 `ce` client (any endpoint)."""

    def __init__(self, client: Any, metric: str = "UnblendedCost", setting: str = "TENANTOPS_AWS_REGION") -> None:
        self.client = client
        self.metric = metric
        self.setting = setting  # what selects the endpoint, named when it does not answer

    @classmethod
    def from_settings(cls, settings: Settings) -> CostExplorerSource:
        client = boto3.client("ce", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
        setting = "TENANTOPS_AWS_ENDPOINT_URL" if settings.aws_endpoint_url else "TENANTOPS_AWS_REGION"
        return cls(client, setting=setting)

    def _cost_and_usage(self, **kwargs: Any) -> Any:
        """One page of `get_cost_and_usage`. An endpoint that does not answer is `Unreachable` naming the
        setting, and missing credentials say so: both ended in a botocore class name and its text."""
        from botocore.exceptions import EndpointConnectionError, NoCredentialsError

        try:
            return self.client.get_cost_and_usage(**kwargs)
        except NoCredentialsError:
            raise PermissionError("Cost Explorer: no AWS credentials found (environment, profile, pod identity "
                                  "or IRSA)") from None
        except EndpointConnectionError as exc:
            url = str(getattr(self.client.meta, "endpoint_url", "") or exc.kwargs.get("endpoint_url", ""))
            raise (unreachable(self.setting, url, exc) or Unreachable(self.setting, url, "cannot connect")) from None

    def actual_by_tenant(self, start: date, end: date, granularity: str = "DAILY",
                         environment: str | None = None) -> dict[str, float]:
        """Billed USD per tenant over [start, end) (Cost Explorer's end date is exclusive too); with
        `environment`, of that environment's spend only (see the module docstring)."""
        totals: dict[str, float] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "Granularity": granularity,
                "Metrics": [self.metric],
                "GroupBy": [{"Type": "TAG", "Key": TAG_KEY}],
            }
            if environment is not None:
                kwargs["Filter"] = {"Tags": {"Key": ENVIRONMENT_TAG_KEY, "Values": [environment],
                                             "MatchOptions": ["EQUALS"]}}
            if token:
                kwargs["NextPageToken"] = token
            response = self._cost_and_usage(**kwargs)
            for period in response.get("ResultsByTime", []):
                for group in period.get("Groups", []):
                    keys = group.get("Keys") or [""]
                    amount = group.get("Metrics", {}).get(self.metric, {}).get("Amount")
                    if amount is None:
                        log.warning("Cost Explorer group %s has no %s amount; skipped", keys, self.metric)
                        continue
                    try:
                        value = float(amount)
                    except (TypeError, ValueError):
                        value = math.nan
                    if not math.isfinite(value):  # negative is fine (credits, refunds); NaN would poison the sum
                        log.warning("Cost Explorer group %s has an unusable %s amount %r; skipped",
                                    keys, self.metric, amount)
                        continue
                    name = tenant_of(keys[0])
                    totals[name] = totals.get(name, 0.0) + value
            token = response.get("NextPageToken")
            if not token:
                return totals


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Estimate vs billed for one tenant; `difference_usd` = billed − estimate."""

    tenant: str
    estimate_usd: float
    actual_usd: float

    @property
    def difference_usd(self) -> float:
        return round(self.actual_usd - self.estimate_usd, 6)

    @property
    def difference_percent(self) -> float | None:
        return round(self.difference_usd / self.estimate_usd * 100, 2) if self.estimate_usd else None

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "estimate_usd": round(self.estimate_usd, 2),
                "actual_usd": round(self.actual_usd, 2), "difference_usd": round(self.difference_usd, 2),
                "difference_percent": self.difference_percent}


def reconcile(estimate: Mapping[str, float], actual: Mapping[str, float]) -> list[Reconciliation]:
    """Every tenant in either side (untagged billed spend included), sorted by the size of the gap."""
    names = set(estimate) | set(actual)
    rows = [Reconciliation(n, float(estimate.get(n, 0.0)), float(actual.get(n, 0.0))) for n in names]
    return sorted(rows, key=lambda r: (-abs(r.difference_usd), r.tenant))
