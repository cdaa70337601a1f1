"""Capacity planning policy (named; `default` is used when present) and growth-scenario files.

Both are read before anything is computed, with every mistake reported as `FILE:LINE: field: message`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from tenantops.config.errors import ConfigError, ConfigIssue
from tenantops.config.kinds.common import TenantId
from tenantops.config.registry import Spec, policy_kind


class SpotSpec(Spec):
    """Which workloads may run on spot capacity: tenants of these tiers, workloads with these names (empty
    list: every workload of those tiers). Spot capacity can be reclaimed at two minutes' notice, so only
    work that tolerates that (queue workers, batch) belongs here."""

    tiers: list[str] = []
    workloads: list[str] = []


class CommitmentSpec(Spec):
    term_years: Literal[1, 3] = 1
    # The Pricing policy's `reserved` prices are the committed hourly rates for this term.


@policy_kind("CapacityPolicy", scope="named")
class CapacitySpec(Spec):
    """How `tenantops plan` forecasts and advises. Optional: without a `default` document the defaults hold.

    Example:
        kind: CapacityPolicy
        name: default
        spec:
          months: 6
          coverage: 0.8
          shared_per_node_share: 0.5
          pool_target_utilisation: 0.7
          sizes: [100, 500, 1000, 5000, 10000]
          commitment: {term_years: 1}
          spot: {tiers: [free], workloads: [worker]}
    """

    months: int = Field(default=6, ge=1, le=36)
    coverage: float = Field(default=0.8, gt=0, lt=1)
    # Share of the shared services' cost that grows with the pool's node count (per-node agents); the rest
    # is one of each service whatever the fleet's size.
    shared_per_node_share: float = Field(default=0.5, ge=0, le=1)
    # How full a growing pool's nodes are kept (the headroom the cluster autoscaler leaves).
    pool_target_utilisation: float = Field(default=0.7, gt=0, le=1)
    sizes: list[Annotated[int, Field(gt=0)]] = Field(default=[100, 500, 1000, 5000, 10000], min_length=1)
    commitment: CommitmentSpec = CommitmentSpec()
    spot: SpotSpec = SpotSpec()


DEFAULT_CAPACITY = CapacitySpec()


class AddTenants(Spec):
    """`count` new tenants of `tier`, each costing like the tier's median tenant (`like: median`) or like
    a named tenant."""

    count: int = Field(gt=0, le=1_000_000)
    tier: str
    like: str = "median"


MAX_SCALE = 1000.0
"""The largest growth a scenario may scale a tenant or the fleet by: beyond it a factor is a typo (a count
written as a factor, an exponent), and the fleet's factor, unbounded, overflowed the plan's sums."""


class ScaleTenant(Spec):
    tenant: TenantId
    factor: Annotated[float, Field(ge=0, le=MAX_SCALE, allow_inf_nan=False)]


class ScaleFleet(Spec):
    factor: Annotated[float, Field(gt=0, le=MAX_SCALE, allow_inf_nan=False)]


class Change(Spec):
    """Exactly one of the three kinds of change."""

    add_tenants: AddTenants | None = None
    scale_tenant: ScaleTenant | None = None
    scale_fleet: ScaleFleet | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Change:
        given = [n for n in ("add_tenants", "scale_tenant", "scale_fleet") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("each change is exactly one of add_tenants, scale_tenant, scale_fleet")
        return self


class Scenario(Spec):
    name: str = Field(min_length=1)
    changes: list[Change] = []


class ScenarioFile(Spec):
    """A growth-scenario file for `tenantops plan --scenario FILE`.

    Example:
        scenarios:
          - name: +200 pro tenants like the median
            changes: [{add_tenants: {count: 200, tier: pro}}]
          - name: acme 3x
            changes: [{scale_tenant: {tenant: acme, factor: 3}}]
          - name: 10x customers
            changes: [{scale_fleet: {factor: 10}}]
    """

    scenarios: list[Scenario] = Field(min_length=1)


def load_scenarios(path: Path | str, tiers: Collection[str] = (), tenants: Collection[str] = ()) -> ScenarioFile:
    """Read and validate a scenario file; every issue is reported with its line. Tiers and tenants named in
    it must exist in `tiers` / `tenants` when those are given."""
    from tenantops.config.loader import _pydantic_issues
    from tenantops.config.yamlpos import load_documents

    file = Path(path)
    if not file.is_file():
        raise ConfigError([ConfigIssue(str(file), 0, "--scenario", "scenario file does not exist")])
    located, issues = load_documents(file)
    if issues:
        raise ConfigError(issues)
    if len(located) != 1 or not isinstance(located[0].data, dict):
        raise ConfigError([ConfigIssue(str(file), 1, "<document>", "a scenario file is one mapping with `scenarios:`")])
    doc = located[0]
    try:
        parsed = ScenarioFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_issues(exc, doc, ())) from None
    seen: dict[str, int] = {}
    dupes = []
    for i, scenario in enumerate(parsed.scenarios):
        if scenario.name in seen:
            dupes.append(ConfigIssue(str(file), doc.line_of(("scenarios", i, "name")), f"scenarios[{i}].name",
                                     f"scenario {scenario.name!r} already defined (scenarios[{seen[scenario.name]}])"))
        seen.setdefault(scenario.name, i)
        for j, change in enumerate(scenario.changes):
            at = ("scenarios", i, "changes", j)
            where = f"scenarios[{i}].changes[{j}]"
            if change.add_tenants is not None:
                add = change.add_tenants
                if tiers and add.tier not in tiers:
                    dupes.append(ConfigIssue(str(file), doc.line_of((*at, "add_tenants", "tier")),
                                             f"{where}.add_tenants.tier",
                                             f"unknown tier {add.tier!r}; tiers: {', '.join(sorted(tiers))}"))
                if tenants and add.like != "median" and add.like not in tenants:
                    dupes.append(ConfigIssue(str(file), doc.line_of((*at, "add_tenants", "like")),
                                             f"{where}.add_tenants.like",
                                             f"{add.like!r} is neither 'median' nor a tenant of the catalogue"))
            if change.scale_tenant is not None and tenants and change.scale_tenant.tenant not in tenants:
                dupes.append(ConfigIssue(str(file), doc.line_of((*at, "scale_tenant", "tenant")),
                                         f"{where}.scale_tenant.tenant",
                                         f"unknown tenant {change.scale_tenant.tenant!r}"))
    if dupes:
        raise ConfigError(dupes)
    return parsed
