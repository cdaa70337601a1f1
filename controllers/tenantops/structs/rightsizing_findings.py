"""The right-sizing concern's per-pass findings: what each workload should request, and what it saves.

Typed values the CLI (`tenantops rightsize`), the report's savings section and the tests read by field;
they become JSON only at the edges (`rightsize --json`, the `report --savings` file) through
`to_json`/`from_json` here, one codec per type. The JSON is the documented shape of `rightsize --json`:
keys a workload does not have (no prices: no `current_month`; a pool tenant: no `instance`) are absent,
not null. `status` is written as the Kubernetes VerticalPodAutoscaler's own status object
(`kubectl get vpa -o yaml`), so tools that read the VPA (Goldilocks) read it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tenantops.structs.jsonread import FindingsUnreadable, JsonFields
from tenantops.structs.requests import RequestPatch


@dataclass(frozen=True, slots=True)
class ResourceRecommendation:
    """One resource's per-pod request of one workload: now, recommended, and how far to trust it."""

    current: float  # cores or bytes per pod
    recommended: float | None  # what to request this UTC hour (None: no usage samples)
    target: float | None
    lower: float | None
    upper: float | None
    confidence: float
    history_hours: float
    schedule: tuple[float, ...] | None  # one request per UTC hour, where a daily schedule is recommended
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "current": self.current, "recommended": self.recommended, "target": self.target, "lower": self.lower,
            "upper": self.upper, "confidence": self.confidence, "history_hours": self.history_hours,
            "schedule": list(self.schedule) if self.schedule is not None else None, "reason": self.reason,
        }

    @staticmethod
    def from_json(raw: Any, where: str = "resource") -> ResourceRecommendation:
        f = JsonFields(raw, where)
        schedule = None if f.get("schedule") is None else f.numbers("schedule")
        return ResourceRecommendation(
            current=f.number("current"), recommended=f.opt_number("recommended"), target=f.opt_number("target"),
            lower=f.opt_number("lower"), upper=f.opt_number("upper"), confidence=f.number("confidence"),
            history_hours=f.number("history_hours"), schedule=schedule, reason=f.text("reason"),
        )


NO_SAMPLES = "no usage samples in the lookback"


def _quantities(f: JsonFields, name: str) -> dict[str, str]:
    values = f.obj(name)
    return {str(k): values.text(k) for k in values.raw}


@dataclass(frozen=True, slots=True)
class ContainerRecommendation:
    """One container's recommendation, Kubernetes quantities per resource, named as the VPA names them."""

    container: str
    target: Mapping[str, str]
    lower_bound: Mapping[str, str]
    upper_bound: Mapping[str, str]
    uncapped_target: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"containerName": self.container, "target": dict(self.target), "lowerBound": dict(self.lower_bound),
                "upperBound": dict(self.upper_bound), "uncappedTarget": dict(self.uncapped_target)}

    @staticmethod
    def from_json(raw: Any, where: str = "container") -> ContainerRecommendation:
        f = JsonFields(raw, where)
        return ContainerRecommendation(f.text("containerName"), _quantities(f, "target"),
                                       _quantities(f, "lowerBound"), _quantities(f, "upperBound"),
                                       _quantities(f, "uncappedTarget"))


@dataclass(frozen=True, slots=True)
class VpaStatus:
    """A VerticalPodAutoscaler `status`: one recommendation per container that has one, and the
    `RecommendationProvided` condition (false, with the reason, when no container has samples)."""

    at: datetime  # the condition's lastTransitionTime
    containers: tuple[ContainerRecommendation, ...] = ()

    @property
    def provided(self) -> bool:
        return bool(self.containers)

    def to_json(self) -> dict[str, Any]:
        condition = {"type": "RecommendationProvided", "status": "True" if self.provided else "False",
                     "lastTransitionTime": self.at.isoformat()}
        if not self.provided:
            condition.update(reason="NoUsageSamples", message=NO_SAMPLES)
        recommendation = {"containerRecommendations": [c.to_json() for c in self.containers]}
        return {"recommendation": recommendation if self.provided else None, "conditions": [condition]}

    @staticmethod
    def from_json(raw: Any, where: str = "status") -> VpaStatus:
        f = JsonFields(raw, where)
        conditions = f.items("conditions")
        if len(conditions) != 1:
            raise FindingsUnreadable(f"{f.at('conditions')}: expected the one RecommendationProvided condition")
        condition = JsonFields(conditions[0], f"{f.at('conditions')}[0]")
        try:
            at = datetime.fromisoformat(condition.text("lastTransitionTime"))
        except ValueError as exc:
            raise FindingsUnreadable(f"{condition.at('lastTransitionTime')}: {exc}") from None
        if f.get("recommendation") is None:
            return VpaStatus(at)
        listed = f.obj("recommendation")
        return VpaStatus(at, tuple(
            ContainerRecommendation.from_json(c, f"{listed.at('containerRecommendations')}[{i}]")
            for i, c in enumerate(listed.items("containerRecommendations"))))


@dataclass(frozen=True, slots=True)
class InstanceChange:
    """What applying an instance-type recommendation changes: a launch template property, through Pulumi."""

    resource: str  # the Pulumi resource type
    name: str  # the launch template
    property: str
    from_type: str | None
    to_type: str
    apply: str  # how, in words

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "name": self.name, "property": self.property, "from": self.from_type,
                "to": self.to_type, "apply": self.apply}

    @staticmethod
    def from_json(raw: Any, where: str = "change") -> InstanceChange:
        f = JsonFields(raw, where)
        return InstanceChange(f.text("resource"), f.text("name"), f.text("property"), f.opt_text("from"), f.text("to"),
                              f.text("apply"))


@dataclass(frozen=True, slots=True)
class InstanceRecommendation:
    """A silo workload's instance type: the cheapest that fits, its monthly saving and performance risk."""

    current: str | None
    recommended: str | None  # None: no type in the price list fits
    current_month: float | None
    recommended_month: float | None
    saving_month: float | None
    risk: int  # 0 (very low) .. 4 (very high)
    risk_label: str
    reason: str
    change: InstanceChange | None  # None: nothing to change

    def to_json(self) -> dict[str, Any]:
        return {
            "current": self.current, "recommended": self.recommended, "current_month": self.current_month,
            "recommended_month": self.recommended_month, "saving_month": self.saving_month, "risk": self.risk,
            "risk_label": self.risk_label, "reason": self.reason,
            "change": self.change.to_json() if self.change is not None else None,
        }

    @staticmethod
    def from_json(raw: Any, where: str = "instance") -> InstanceRecommendation:
        f = JsonFields(raw, where)
        change = f.get("change")
        return InstanceRecommendation(
            current=f.opt_text("current"), recommended=f.opt_text("recommended"),
            current_month=f.opt_number("current_month"), recommended_month=f.opt_number("recommended_month"),
            saving_month=f.opt_number("saving_month"),
            risk=f.integer("risk"), risk_label=f.text("risk_label"), reason=f.text("reason"),
            change=None if change is None else InstanceChange.from_json(change, f.at("change")),
        )


@dataclass(frozen=True, slots=True)
class WorkloadRecommendation:
    """One workload's right-sizing: per-resource requests, their cost per month, and what was applied."""

    tenant: str
    workload: str
    isolation: str  # pool or silo
    mode: str  # recommend or apply
    policy: str  # the RightsizingPolicy
    replicas: float  # mean replicas the costs are priced at
    cpu: ResourceRecommendation
    memory: ResourceRecommendation
    status: VpaStatus
    confidence: float  # the lower of the two resources'
    saving_month: float | None  # requests now minus recommended, per month (None: no prices or samples)
    applied: Mapping[str, str]  # per resource: what was decided about a patch
    current_month: float | None = None  # absent from the JSON when None (no prices or samples)
    recommended_month: float | None = None
    instance: InstanceRecommendation | None = None  # silo tenants only; absent from the JSON when None

    def resource(self, name: str) -> ResourceRecommendation:
        return self.cpu if name == "cpu" else self.memory

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tenant": self.tenant, "workload": self.workload, "isolation": self.isolation, "mode": self.mode,
            "policy": self.policy, "replicas": self.replicas, "cpu": self.cpu.to_json(),
            "memory": self.memory.to_json(), "status": self.status.to_json(), "confidence": self.confidence,
        }
        if self.current_month is not None:
            out["current_month"] = self.current_month
        if self.recommended_month is not None:
            out["recommended_month"] = self.recommended_month
        out["saving_month"] = self.saving_month
        if self.instance is not None:
            out["instance"] = self.instance.to_json()
        out["applied"] = dict(self.applied)
        return out

    @staticmethod
    def from_json(raw: Any, where: str = "recommendation") -> WorkloadRecommendation:
        f = JsonFields(raw, where)
        tenant, workload = f.text("tenant"), f.text("workload")  # first: the subject, for every later error
        applied = f.obj("applied")
        instance = f.get("instance", None)
        return WorkloadRecommendation(
            tenant=tenant, workload=workload, isolation=f.text("isolation"), mode=f.text("mode"),
            policy=f.text("policy"), replicas=f.number("replicas"),
            cpu=ResourceRecommendation.from_json(f.get("cpu"), f.at("cpu")),
            memory=ResourceRecommendation.from_json(f.get("memory"), f.at("memory")),
            status=VpaStatus.from_json(f.get("status"), f.at("status")), confidence=f.number("confidence"),
            saving_month=f.opt_number("saving_month"), applied={str(k): applied.text(k) for k in applied.raw},
            current_month=f.opt_number("current_month", None),
            recommended_month=f.opt_number("recommended_month", None),
            instance=None if instance is None else InstanceRecommendation.from_json(instance, f.at("instance")),
        )


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """The usage history the recommendations were made from: its range and the queries that failed."""

    start: datetime
    end: datetime
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "errors": list(self.errors)}

    @staticmethod
    def from_json(raw: Any, where: str = "history") -> HistoryWindow:
        f = JsonFields(raw, where)
        errors = f.texts("errors")
        try:
            return HistoryWindow(datetime.fromisoformat(f.text("start")), datetime.fromisoformat(f.text("end")), errors)
        except ValueError as exc:
            raise FindingsUnreadable(f"{where}: {exc}") from None


@dataclass(frozen=True, slots=True)
class RightsizingFindings:
    """Everything the right-sizing concern concluded in one pass.

    Without usage history there is nothing to recommend from: `history` is None and `status` says why
    (the JSON is then `{"status": ...}` alone).
    """

    recommendations: tuple[WorkloadRecommendation, ...] = ()
    patches: tuple[RequestPatch, ...] = ()  # the pass's request patches (the same values as the plan's)
    saving_month: float = 0.0
    currency: str = "USD"
    history: HistoryWindow | None = None
    status: str = ""

    @staticmethod
    def unavailable(status: str) -> RightsizingFindings:
        return RightsizingFindings(status=status)

    def to_json(self) -> dict[str, Any]:
        if self.history is None:
            return {"status": self.status}
        return {
            "recommendations": [r.to_json() for r in self.recommendations],
            "patches": [p.to_json() for p in self.patches],
            "saving_month": self.saving_month,
            "currency": self.currency,
            "history": self.history.to_json(),
        }

    @staticmethod
    def from_json(raw: Any, where: str = "rightsizing") -> RightsizingFindings:
        f = JsonFields(raw, where)
        if "history" not in f.raw:
            return RightsizingFindings.unavailable(f.text("status"))
        try:
            patches = tuple(RequestPatch.from_json(p) for p in f.items("patches"))
        except (KeyError, TypeError, ValueError) as exc:
            raise FindingsUnreadable(f"{f.at('patches')}: {type(exc).__name__}: {exc}") from None
        return RightsizingFindings(
            recommendations=tuple(WorkloadRecommendation.from_json(row, f"{f.at('recommendations')}[{i}]")
                                  for i, row in enumerate(f.items("recommendations"))),
            patches=patches, saving_month=f.number("saving_month"), currency=f.text("currency"),
            history=HistoryWindow.from_json(f.get("history"), f.at("history")),
        )
