"""Load the catalogue and the policies into one validated `Config`, or fail with every issue at once.

Loading, validation and use are separate steps: nothing here talks to a cloud, a cluster or Prometheus,
and a `Config` only exists when every file was valid, so a bad edit can never half-apply.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from tenantops.collector import collector_paused
from tenantops.config.catalog import CatalogSpec, Tenant
from tenantops.config.errors import ConfigError, ConfigIssue
from tenantops.config.kinds.common import label_value_problem, parse_quantity
from tenantops.config.kinds.controller import ControllerSpec
from tenantops.config.kinds.cost import AlertSpec, AllocationSpec, BudgetSpec, PricingSpec
from tenantops.config.kinds.metrics import MetricsSpec
from tenantops.config.kinds.reports import ReportSpec
from tenantops.config.kinds.rightsizing import RightsizingSpec
from tenantops.config.kinds.scaling import BreakerSpec, ScalingSpec
from tenantops.config.kinds.tier import TierSpec
from tenantops.config.registry import KindInfo, Spec, kinds
from tenantops.config.yamlpos import LocatedDocument, PathKey, dotted_path, load_documents, path_of_dotted

_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
}


def _pydantic_issues(exc: ValidationError, doc: LocatedDocument, prefix: PathKey) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
        path = (*prefix, *loc)
        message = _FRIENDLY.get(err["type"], err["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        dotted = ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
        issues.append(ConfigIssue(doc.file, doc.line_of(path), dotted or "<document>", message))
    return issues


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Override nested mappings key by key; lists and scalars in `override` replace the base's."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class PolicyDoc:
    kind: str
    name: str
    spec: Spec
    raw: dict[str, Any]
    file: str
    line: int
    description: str = ""
    located: LocatedDocument | None = field(default=None, repr=False, compare=False)  # for cross-document checks


@dataclass(frozen=True)
class Policies:
    """Every policy document, validated, indexed by (kind, name)."""

    docs: Mapping[tuple[str, str], PolicyDoc]
    root: str = ""

    def get(self, kind: str, name: str) -> Spec:
        return self.docs[(kind, name)].spec

    def names(self, kind: str) -> list[str]:
        return sorted(n for k, n in self.docs if k == kind)

    @property
    def tiers(self) -> dict[str, TierSpec]:
        return {n: cast(TierSpec, d.spec) for (k, n), d in self.docs.items() if k == "Tier"}

    @property
    def controller(self) -> ControllerSpec:
        return cast(ControllerSpec, self.get("ControllerPolicy", "default"))

    @property
    def pricing(self) -> PricingSpec:
        return cast(PricingSpec, self.get("Pricing", "default"))

    @property
    def allocation(self) -> AllocationSpec:
        return cast(AllocationSpec, self.get("CostAllocation", "default"))

    @property
    def reports(self) -> ReportSpec:
        return cast(ReportSpec, self.get("ReportPolicy", "default"))


@dataclass(frozen=True)
class TenantPolicies:
    """The concrete policies one tenant runs under: its tier's documents with its overrides applied."""

    tier_name: str
    tier: TierSpec
    scaling: ScalingSpec
    rightsizing: RightsizingSpec
    budget: BudgetSpec
    alerts: AlertSpec
    breakers: BreakerSpec
    metrics: MetricsSpec


POLICY_SUFFIXES = (".yaml", ".yml")


def policy_files(root: Path) -> list[Path]:
    """The policy files under `root`: every `*.yaml` / `*.yml` file, the suffix in any case (`tiers.YAML`
    was ignored without a word), sorted and recursive. Hidden entries are skipped: a ConfigMap volume keeps
    each file also under `..data/` and `..<timestamp>/`. The one rule for what the loader reads, the
    controller watches for reloads and the demo rescales."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in POLICY_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def load_policies(directory: Path | str) -> Policies:
    """Read every policy file under `directory` (`policy_files`) as policy documents."""
    root = Path(directory)
    issues: list[ConfigIssue] = []
    registry = kinds()
    docs: dict[tuple[str, str], PolicyDoc] = {}
    if not root.is_dir():
        raise ConfigError([ConfigIssue(str(root), 0, "<policies>", "policy directory does not exist")])
    files = policy_files(root)
    if not files:
        issues.append(ConfigIssue(str(root), 0, "<policies>", "no policy files (*.yaml) found"))
    for path in files:
        located, parse_issues = load_documents(path)
        issues.extend(parse_issues)
        for doc in located:
            _load_policy_doc(doc, registry, docs, issues)
    if not issues:
        issues.extend(_check_references(docs, registry))
    if issues:
        raise ConfigError(issues)
    return Policies(docs, str(root))


def _load_policy_doc(
    doc: LocatedDocument,
    registry: Mapping[str, KindInfo],
    docs: dict[tuple[str, str], PolicyDoc],
    issues: list[ConfigIssue],
) -> None:
    data = doc.data
    if data is None:
        return
    if not isinstance(data, dict):
        issues.append(ConfigIssue(doc.file, doc.start_line, "<document>", "a policy document must be a mapping"))
        return
    for key in data:
        if key not in ("kind", "name", "spec", "description"):
            issues.append(ConfigIssue(doc.file, doc.line_of((str(key),)), str(key), "unknown key"))
    kind, name = data.get("kind"), data.get("name")
    if not isinstance(kind, str) or kind not in registry:
        valid = ", ".join(sorted(registry))
        issues.append(
            ConfigIssue(doc.file, doc.line_of(("kind",)), "kind", f"unknown kind {kind!r}; valid kinds: {valid}")
        )
        return
    if not isinstance(name, str) or not name:
        issues.append(ConfigIssue(doc.file, doc.line_of(("name",)), "name", "required, a non-empty string"))
        return
    # A tier's name is the `tier` label (and cost tag) of its tenants' namespaces, Deployments and quotas: one
    # the API server refuses passed validate and then failed `pulumi up` for every pooled tenant of the tier.
    problem = label_value_problem(name) if kind == "Tier" else None
    if problem is not None:
        issues.append(ConfigIssue(doc.file, doc.line_of(("name",)), "name", f"a tier's name {problem}"))
        return
    raw = data.get("spec")
    if not isinstance(raw, dict):
        issues.append(ConfigIssue(doc.file, doc.line_of(("spec",)), "spec", "required, a mapping"))
        return
    if (kind, name) in docs:
        first = docs[(kind, name)]
        issues.append(
            ConfigIssue(
                doc.file,
                doc.line_of(("name",)),
                "name",
                f"{kind} {name!r} already defined at {first.file}:{first.line}",
            )
        )
        return
    try:
        spec = registry[kind].model.model_validate(raw)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc, doc, ("spec",)))
        return
    desc = data.get("description")
    docs[(kind, name)] = PolicyDoc(
        kind, name, spec, raw, doc.file, doc.line_of(("kind",)), desc if isinstance(desc, str) else "", doc
    )


def _check_references(docs: Mapping[tuple[str, str], PolicyDoc], registry: Mapping[str, KindInfo]) -> list[ConfigIssue]:
    issues = []
    tier_kinds = {info.tier_field: info.kind for info in registry.values() if info.scope == "tier"}
    for (kind, name), doc in docs.items():
        if kind != "Tier":
            continue
        for field_name, ref_kind in tier_kinds.items():
            ref = getattr(doc.spec, cast(str, field_name))
            if (ref_kind, ref) not in docs:
                have = ", ".join(n for k, n in docs if k == ref_kind) or "none"
                issues.append(
                    ConfigIssue(
                        doc.file,
                        doc.line,
                        f"spec.{field_name}",
                        f"tier {name!r} names unknown {ref_kind} {ref!r} (defined: {have})",
                    )
                )
    for (kind, name), doc in docs.items():
        if registry[kind].scope == "global" and name != "default":
            # Nothing reads it: only `default` applies, so the document would be silently ignored.
            issues.append(ConfigIssue(doc.file, doc.line, "name", f"{kind} is global: only the document named "
                                      f"'default' applies, so {name!r} would be ignored (merge it into 'default')"))
    for info in registry.values():
        if info.scope == "global" and (info.kind, "default") not in docs:
            issues.append(
                ConfigIssue("<policies>", 0, info.kind, f"a {info.kind} document named 'default' is required")
            )
    if not any(k == "Tier" for k, _ in docs):
        issues.append(ConfigIssue("<policies>", 0, "Tier", "at least one Tier is required"))
    issues.extend(_check_pool_prices(docs))
    issues.extend(_check_pass_gap(docs))
    return issues


def _check_pass_gap(docs: Mapping[tuple[str, str], PolicyDoc]) -> list[ConfigIssue]:
    """Passes must come closer together than the most a pass may charge: each pass charges the time since
    the one before but at most `max_pass_gap_seconds`, so passes further apart would leave the rest of
    every interval's cost uncounted, on every pass, without a word."""
    controller, allocation = docs.get(("ControllerPolicy", "default")), docs.get(("CostAllocation", "default"))
    if controller is None or allocation is None:
        return []
    ctl, gap = cast(ControllerSpec, controller.spec), cast(AllocationSpec, allocation.spec).max_pass_gap_seconds
    period = ctl.interval_seconds + ctl.jitter_seconds
    if period <= gap:
        return []
    path = ("spec", "interval_seconds")
    line = controller.located.line_of(path) if controller.located is not None else controller.line
    return [ConfigIssue(controller.file, line, ".".join(path), (
        f"passes up to {period:g} s apart (interval + jitter) but CostAllocation max_pass_gap_seconds is {gap:g} "
        f"({allocation.file}:{allocation.line}): each pass would charge only {gap:g} s and the rest of the cost "
        f"would not be counted; shorten the interval or raise max_pass_gap_seconds to at least {period:g}"))]


def _check_pool_prices(docs: Mapping[tuple[str, str], PolicyDoc]) -> list[ConfigIssue]:
    """A pool's nodes must have a price: it is what the pool's idle capacity costs. Without one the
    allocation cannot know the pool's cost, and its idle and shared cost drop out of every total."""
    allocation, pricing = docs.get(("CostAllocation", "default")), docs.get(("Pricing", "default"))
    if allocation is None or pricing is None:
        return []
    regions = cast(PricingSpec, pricing.spec).regions
    issues = []
    for region, pool in cast(AllocationSpec, allocation.spec).pools.items():
        prices = regions.get(region)
        if prices is None or pool.instance_type in prices.instances:
            continue  # a pool in a region nobody is priced in costs nothing here; tenants there are refused
        path = ("spec", "pools", region, "instance_type")
        line = allocation.located.line_of(path) if allocation.located is not None else allocation.line
        issues.append(ConfigIssue(allocation.file, line, ".".join(path), (
            f"pool instance type {pool.instance_type!r} has no price in {region} in the Pricing policy "
            f"(priced: {', '.join(sorted(prices.instances)) or 'none'})")))
    return issues


def load_catalog(path: Path | str, policies: Policies) -> CatalogSpec:
    """Validate a catalogue file against the schema and against the tiers `policies` defines."""
    file = Path(path)
    located, issues = load_documents(file)
    if issues:
        raise ConfigError(issues)
    if len(located) != 1 or not isinstance(located[0].data, dict):
        message = "a catalogue is one mapping with a `tenants:` list"
        raise ConfigError([ConfigIssue(str(file), 1, "<document>", message)])
    doc = located[0]
    try:
        catalog = CatalogSpec.model_validate(doc.data)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc, doc, ()))
        # Cross-field checks still run on the raw data so that one run reports every mistake.
        _check_raw_tenants(doc, policies, issues)
        raise ConfigError(issues) from None
    _check_tenants(doc, catalog.tenants, policies, issues)
    if issues:
        raise ConfigError(issues)
    return catalog


def _check_raw_tenants(doc: LocatedDocument, policies: Policies, issues: list[ConfigIssue]) -> None:
    tenants = doc.data.get("tenants")
    if not isinstance(tenants, list):
        return
    seen: dict[str, int] = {}
    tiers = policies.tiers
    for index, raw in enumerate(tenants):
        if not isinstance(raw, dict):
            continue
        _check_identity(doc, index, raw.get("id"), raw.get("tier"), tiers, seen, issues)


def _check_identity(
    doc: LocatedDocument,
    index: int,
    tenant_id: Any,
    tier: Any,
    tiers: Mapping[str, TierSpec],
    seen: dict[str, int],
    issues: list[ConfigIssue],
) -> None:
    if isinstance(tenant_id, str):
        if tenant_id in seen:
            issues.append(
                ConfigIssue(
                    doc.file,
                    doc.line_of(("tenants", index, "id")),
                    f"tenants[{index}].id",
                    f"duplicate tenant id {tenant_id!r} (first at line {seen[tenant_id]})",
                )
            )
        else:
            seen[tenant_id] = doc.line_of(("tenants", index, "id"))
    if isinstance(tier, str) and tier not in tiers:
        issues.append(
            ConfigIssue(
                doc.file,
                doc.line_of(("tenants", index, "tier")),
                f"tenants[{index}].tier",
                f"unknown tier {tier!r}; defined tiers: {', '.join(sorted(tiers))}",
            )
        )


def _check_tenants(
    doc: LocatedDocument, tenants: Iterable[Tenant], policies: Policies, issues: list[ConfigIssue]
) -> None:
    seen: dict[str, int] = {}
    joined: dict[str, tuple[str, str, int]] = {}
    tiers = policies.tiers
    for index, tenant in enumerate(tenants):
        _check_identity(doc, index, tenant.id, tenant.tier, tiers, seen, issues)
        _check_workload_names(doc, index, tenant, joined, issues)
        if tenant.isolation == "pool" and tenant.tier in tiers:
            _check_container_max(doc, index, tenant, tiers[tenant.tier].limits.container_max, issues)
        _check_prices(doc, index, tenant, policies.pricing, issues)
        if tenant.overrides is not None and tenant.tier in tiers:
            try:
                resolve_tenant_policies(tenant, policies)
            except ConfigError as exc:
                for issue in exc.issues:
                    issues.append(
                        ConfigIssue(
                            doc.file,
                            doc.line_of(("tenants", index, "overrides", *path_of_dotted(issue.field))),
                            f"tenants[{index}].overrides.{issue.field}",
                            issue.message,
                        )
                    )


def _check_workload_names(doc: LocatedDocument, index: int, tenant: Tenant,
                          joined: dict[str, tuple[str, str, int]], issues: list[ConfigIssue]) -> None:
    """Two tenants' workloads must not join to one `<id>-<workload>`: the name every per-workload resource is
    built from (the Pulumi program's resource names, and a silo tenant's Auto Scaling group and launch
    template `tenantops-<env>-<id>-<workload>`). Tenant `acme`'s `eu-api` and tenant `acme-eu`'s `api` would
    be one Auto Scaling group, scaled for both and charged twice, and `pulumi up` would stop at a duplicate
    resource."""
    for w, workload in enumerate(tenant.workloads):
        name = f"{tenant.id}-{workload.name}"
        other = joined.get(name)
        if other is None:
            joined[name] = (tenant.id, workload.name, doc.line_of(("tenants", index, "workloads", w, "name")))
            continue
        if other[0] == tenant.id:
            continue  # the same workload twice is the workload schema's error
        issues.append(ConfigIssue(
            doc.file, doc.line_of(("tenants", index, "workloads", w, "name")), f"tenants[{index}].workloads[{w}].name",
            f"tenant {tenant.id!r} workload {workload.name!r} and tenant {other[0]!r} workload {other[1]!r} (line "
            f"{other[2]}) both name their resources {name!r}; rename one of the workloads"))


def _check_container_max(doc: LocatedDocument, index: int, tenant: Tenant, ceilings: Mapping[str, str],
                         issues: list[ConfigIssue]) -> None:
    """A pooled workload's request and limit must fit its tier's per-container maximum: the namespace's
    LimitRange holds it, and the API server refuses every pod above it, so the Deployment would never run
    a replica while `pulumi up` and the controller both reported success."""
    for w, workload in enumerate(tenant.workloads):
        asked = {"cpu_request": ("cpu", workload.cpu_request), "cpu_limit": ("cpu", workload.cpu_limit),
                 "memory_request": ("memory", workload.memory_request)}
        for field_name, (resource, value) in asked.items():
            if value is None or parse_quantity(value) <= parse_quantity(ceilings[resource]):
                continue
            path = ("tenants", index, "workloads", w, field_name)
            issues.append(ConfigIssue(
                doc.file, doc.line_of(path), f"tenants[{index}].workloads[{w}].{field_name}",
                f"{value} is above the per-container maximum {resource} of tier {tenant.tier!r}, {ceilings[resource]} "
                f"(limits.max_{resource}); the namespace would refuse every pod of {workload.name!r}"))


def _check_prices(doc: LocatedDocument, index: int, tenant: Tenant, pricing: PricingSpec,
                  issues: list[ConfigIssue]) -> None:
    """A tenant is costed at its region's prices, and a silo workload at its instance type's.

    Without them the cost allocation can only skip the region (the tenant costs $0, so its budget never
    alerts and the report understates the bill) or charge a guessed instance, so they are refused here.
    """
    prices = pricing.regions.get(tenant.region)
    if prices is None:
        issues.append(ConfigIssue(
            doc.file, doc.line_of(("tenants", index, "region")), f"tenants[{index}].region",
            f"the Pricing policy has no prices for region {tenant.region!r} (priced: "
            f"{', '.join(sorted(pricing.regions))}); the tenant's cost would not be counted"))
        return
    if tenant.isolation != "silo":
        return
    for w_index, workload in enumerate(tenant.workloads):
        if workload.silo_instance_type not in prices.instances:
            named = "" if workload.instance_type is not None else " (the default: the workload names none)"
            issues.append(ConfigIssue(
                doc.file, doc.line_of(("tenants", index, "workloads", w_index, "instance_type")),
                f"tenants[{index}].workloads[{w_index}].instance_type",
                f"instance type {workload.silo_instance_type!r}{named} has no price in {tenant.region} in the "
                f"Pricing policy (priced: {', '.join(sorted(prices.instances)) or 'none'})"))


def resolve_tenant_policies(tenant: Tenant, policies: Policies) -> TenantPolicies:
    """The tenant's tier documents with its overrides merged in and re-validated."""
    tier = policies.tiers[tenant.tier]
    resolved: dict[str, Spec] = {}
    issues: list[ConfigIssue] = []
    for info in kinds().values():
        if info.scope != "tier" or info.tier_field is None:
            continue
        doc = policies.docs[(info.kind, getattr(tier, info.tier_field))]
        override = getattr(tenant.overrides, info.tier_field, None) if tenant.overrides else None
        if not override:
            resolved[info.tier_field] = doc.spec
            continue
        try:
            resolved[info.tier_field] = info.model.model_validate(deep_merge(doc.raw, override))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = [p for p in err["loc"] if isinstance(p, str | int)]
                message = _FRIENDLY.get(err["type"], err["msg"]).removeprefix("Value error, ")
                issues.append(ConfigIssue("", 0, dotted_path((info.tier_field, *loc)), message))
    if issues:
        raise ConfigError(issues)
    return TenantPolicies(
        tier_name=tenant.tier,
        tier=tier,
        scaling=cast(ScalingSpec, resolved["scaling"]),
        rightsizing=cast(RightsizingSpec, resolved["rightsizing"]),
        budget=cast(BudgetSpec, resolved["budget"]),
        alerts=cast(AlertSpec, resolved["alerts"]),
        breakers=cast(BreakerSpec, resolved["breakers"]),
        metrics=cast(MetricsSpec, resolved["metrics"]),
    )


@dataclass(frozen=True)
class Config:
    """A validated catalogue and policy set: the only form in which configuration reaches the rest."""

    catalog: CatalogSpec
    policies: Policies
    catalog_path: str = ""
    _resolved: dict[str, TenantPolicies] = field(default_factory=dict, repr=False, compare=False)

    @property
    def tenants(self) -> list[Tenant]:
        return self.catalog.tenants

    @cached_property
    def by_id(self) -> dict[str, Tenant]:
        return {t.id: t for t in self.catalog.tenants}

    def tenant(self, tenant_id: str) -> Tenant:
        return self.by_id[tenant_id]

    def for_tenant(self, tenant: Tenant | str) -> TenantPolicies:
        """Policies for one tenant; tenants without overrides share one resolved object per tier."""
        t = self.by_id[tenant] if isinstance(tenant, str) else tenant
        key = t.id if t.overrides else f"tier:{t.tier}"
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = resolve_tenant_policies(t, self.policies)
        return found


def load_config(catalog: Path | str, policies: Path | str) -> Config:
    """Load policies, then the catalogue against them. Raises `ConfigError` with every issue found."""
    with collector_paused():
        loaded = load_policies(policies)
        return Config(load_catalog(catalog, loaded), loaded, str(catalog))
