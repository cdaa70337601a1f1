"""Growth scenarios applied to per-tenant monthly forecasts.

A scenario is a list of changes to the fleet (new tenants like an existing one, one tenant scaled, the
whole fleet scaled); it changes the forecast of what those tenants cost, month by month, and nothing else.
An empty scenario changes nothing: that is a property the tests keep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tenantops.config.kinds.capacity import Scenario


@dataclass(frozen=True, slots=True)
class Monthly:
    """One series' forecast by month: point, low and high of the interval, in the series' unit."""

    months: tuple[str, ...]
    point: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def scaled(self, factor: float) -> Monthly:
        return Monthly(self.months, tuple(v * factor for v in self.point), tuple(v * factor for v in self.low),
                       tuple(v * factor for v in self.high))

    def plus(self, other: Monthly) -> Monthly:
        if other.months != self.months:
            raise ValueError("monthly series over different months")
        return Monthly(self.months, tuple(a + b for a, b in zip(self.point, other.point, strict=True)),
                       tuple(a + b for a, b in zip(self.low, other.low, strict=True)),
                       tuple(a + b for a, b in zip(self.high, other.high, strict=True)))

    @staticmethod
    def zero(months: Sequence[str]) -> Monthly:
        z = (0.0,) * len(months)
        return Monthly(tuple(months), z, z, z)


def total(series: Mapping[str, Monthly], months: Sequence[str]) -> Monthly:
    out = Monthly.zero(months)
    for value in series.values():
        out = out.plus(value)
    return out


def _median_like(forecasts: Mapping[str, Monthly], tiers: Mapping[str, str], tier: str) -> Monthly | None:
    """The tenant of `tier` whose forecast total is the median of that tier's tenants."""
    members = sorted((sum(f.point), t) for t, f in forecasts.items() if tiers.get(t) == tier)
    if not members:
        return None
    middle = members[(len(members) - 1) // 2]
    return forecasts[middle[1]]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    tenants: Mapping[str, Monthly]  # existing tenants as changed, plus one row per group of added tenants
    fleet: Monthly
    customers: int
    notes: tuple[str, ...]


def apply(scenario: Scenario, forecasts: Mapping[str, Monthly], tiers: Mapping[str, str],
          months: Sequence[str]) -> ScenarioResult:
    """The fleet's forecast under `scenario`. `tiers` maps each tenant to its tier."""
    out = dict(forecasts)
    customers = len(forecasts)
    notes: list[str] = []
    for index, change in enumerate(scenario.changes):
        if change.scale_tenant is not None:
            tenant, factor = change.scale_tenant.tenant, change.scale_tenant.factor
            if tenant in out:
                out[tenant] = out[tenant].scaled(factor)
            else:
                notes.append(f"{tenant}: no forecast (no cost history yet); not scaled")
        elif change.scale_fleet is not None:
            factor = change.scale_fleet.factor
            out = {t: f.scaled(factor) for t, f in out.items()}
            customers = round(customers * factor)
        elif change.add_tenants is not None:
            add = change.add_tenants
            like = (_median_like(forecasts, tiers, add.tier) if add.like == "median" else forecasts.get(add.like))
            if like is None:
                notes.append(f"+{add.count} {add.tier}: no tenant to model them on has a forecast; not added")
                continue
            out[f"+{add.count} {add.tier} (like {add.like}) #{index + 1}"] = like.scaled(add.count)
            customers += add.count
    return ScenarioResult(scenario.name, out, total(out, months), customers, tuple(notes))

