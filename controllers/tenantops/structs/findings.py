"""A pass's read-only findings: one typed, frozen value per concern, carried in the plan.

Findings are what a concern concluded without asking anyone to act (cost to serve, recommendations,
counts); effects (scale actions, request patches, alerts) travel in their own typed channels. Each
decider returns its concern's value (`DeciderOutput.findings`); the engine gathers them into `Findings`,
and consumers (the cost gauges, the scheduled report, `tenantops rightsize`, the demo) read fields, never
keys. They become JSON only at an edge, through each type's codec (`to_json`/`from_json`); `Findings`'
own JSON is keyed by concern, as the pass's findings always were (`{"cost": ..., "rightsizing": ...}`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenantops.structs.cost_findings import CostFindings
from tenantops.structs.jsonread import FindingsUnreadable, JsonFields
from tenantops.structs.rightsizing_findings import RightsizingFindings


@dataclass(frozen=True, slots=True)
class AutoscalingFindings:
    """How many workloads the autoscaler decided about this pass, and how many scale actions it planned."""

    workloads: int
    actions: int

    def to_json(self) -> dict[str, Any]:
        return {"workloads": self.workloads, "actions": self.actions}

    @staticmethod
    def from_json(raw: Any, where: str = "autoscaling") -> AutoscalingFindings:
        f = JsonFields(raw, where)
        return AutoscalingFindings(f.integer("workloads"), f.integer("actions"))


@dataclass(frozen=True, slots=True)
class FactsFindings:
    """Workloads held this pass, by the cause the facts step alerts on (e.g. `implausible`)."""

    holds: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"holds": dict(self.holds)}

    @staticmethod
    def from_json(raw: Any, where: str = "facts") -> FactsFindings:
        holds = JsonFields(raw, where).obj("holds")
        return FactsFindings({str(cause): holds.integer(cause) for cause in holds.raw})


Finding = CostFindings | RightsizingFindings | AutoscalingFindings | FactsFindings
"""One concern's findings, as a decider returns them."""


@dataclass(frozen=True, slots=True)
class Findings:
    """Every concern's findings of one pass (None: that concern had none, or did not run)."""

    cost: CostFindings | None = None
    rightsizing: RightsizingFindings | None = None
    autoscaling: AutoscalingFindings | None = None
    facts: FactsFindings | None = None

    @staticmethod
    def of(found: Iterable[Finding]) -> Findings:
        """The pass's findings from each decider's, in decider order; of two values of one concern the
        first is kept (as the first registered decider's scale action is)."""
        parts: dict[str, Finding] = {}
        for item in found:
            parts.setdefault(_CONCERN[type(item)], item)
        cost, rightsizing = parts.get("cost"), parts.get("rightsizing")
        autoscaling, facts = parts.get("autoscaling"), parts.get("facts")
        return Findings(
            cost=cost if isinstance(cost, CostFindings) else None,
            rightsizing=rightsizing if isinstance(rightsizing, RightsizingFindings) else None,
            autoscaling=autoscaling if isinstance(autoscaling, AutoscalingFindings) else None,
            facts=facts if isinstance(facts, FactsFindings) else None,
        )

    def __bool__(self) -> bool:
        return any(getattr(self, name) is not None for name in _CONCERN.values())

    def to_json(self) -> dict[str, Any]:
        """`{concern: its JSON}` for the concerns that had findings."""
        out: dict[str, Any] = {}
        for name in _CONCERN.values():
            value: Finding | None = getattr(self, name)
            if value is not None:
                out[name] = value.to_json()
        return out

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> Findings:
        if not isinstance(raw, Mapping):
            raise FindingsUnreadable(f"findings: expected an object, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(_CONCERN.values()))
        if unknown:
            raise FindingsUnreadable(f"findings: unknown concern(s) {', '.join(map(str, unknown))}")
        cost, rightsizing = raw.get("cost"), raw.get("rightsizing")
        autoscaling, facts = raw.get("autoscaling"), raw.get("facts")
        return Findings(
            cost=CostFindings.from_json(cost) if cost is not None else None,
            rightsizing=RightsizingFindings.from_json(rightsizing) if rightsizing is not None else None,
            autoscaling=AutoscalingFindings.from_json(autoscaling) if autoscaling is not None else None,
            facts=FactsFindings.from_json(facts) if facts is not None else None,
        )


_CONCERN: dict[type, str] = {
    CostFindings: "cost", RightsizingFindings: "rightsizing", AutoscalingFindings: "autoscaling",
    FactsFindings: "facts",
}
"""Each findings type's field in `Findings` (and key in its JSON)."""
