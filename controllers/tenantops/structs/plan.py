"""What one pass decided: the effects for the actuators and findings for the record and the notifiers.

Every item carries the rule that produced it and a reason in words, because an auditor reads these, not
the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from tenantops.structs.findings import Findings
from tenantops.structs.reports import ReportRequest
from tenantops.structs.requests import RequestPatch


class TargetKind(StrEnum):
    """Which actuator owns a scale target."""

    KUBERNETES = "kubernetes"  # Deployment scale subresource in namespace tenant-<id> (pool tenants)
    ASG = "asg"  # AWS Auto Scaling group (silo tenants)


@dataclass(frozen=True, slots=True)
class ScaleTarget:
    """The object an actuator scales: a Deployment `namespace/name` or an Auto Scaling group `name`.

    `region` is the AWS region of an Auto Scaling group (the tenant's `region`): each region has its own
    API endpoint, so the actuator needs it to reach the group at all.
    """

    kind: TargetKind
    name: str
    namespace: str | None = None
    region: str | None = None

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}:{self.namespace}/{self.name}"
        return f"{self.kind}:{self.region}/{self.name}" if self.region else f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class ScaleAction:
    """Set a workload's replica count. `current` is what the decision saw; actuators skip no-op writes.

    `state_key` is the key of the deciding concern's state that holds this change as proposed, and
    `concern` whose state that is (set by the engine from the decider that asked): the engine settles the
    change there from the write's outcome (`engine.settlement`, by the concern's `decide.base.Confirms`
    rule), so the concern's state records a change only once it is known to have been made.
    """

    tenant: str
    workload: str
    target: ScaleTarget
    current: int
    desired: int
    rule: str
    reason: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    state_key: str = ""
    concern: str = ""

    @property
    def is_noop(self) -> bool:
        return self.current == self.desired


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a person should hear about. `key` identifies the condition across passes.

    Deciders raise alerts with only the condition; the engine's lifecycle stage (`decide.alerts.advance`)
    sets `episode` (when the episode began) and `transition` (fire, escalate, resolve) on the ones it
    lets through, and `notice_key` built from them is what the outbox deduplicates on.
    """

    key: str
    tenant: str | None
    severity: Severity
    cause: str
    summary: str
    suggested_action: str
    amount_usd: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    episode: str = ""
    transition: str = ""

    @property
    def notice_key(self) -> str:
        """One notification of one episode: the same transition of the same episode is the same mail."""
        if not self.episode:
            return f"{self.key}:{self.severity}"
        return f"{self.key}:{self.episode}:{self.transition}:{self.severity}"


@dataclass(frozen=True, slots=True)
class Decision:
    """One audit record: a subject, what was decided and why. Also written for skips and no-ops."""

    at: datetime
    tenant: str | None
    workload: str | None
    kind: str  # e.g. "scale", "skip", "rightsize", "cost", "alert", "breaker"
    rule: str
    reason: str
    old: Any = None
    new: Any = None
    inputs: Mapping[str, Any] = field(default_factory=dict)


E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Plan:
    """What one pass will do, as the guard stage let it through: the effects (scale actions, request
    patches, report requests), the alert notifications the lifecycle let through, the audit decisions so far and each
    concern's typed findings.

    The act stage applies every effect type listed in `EFFECT_FIELDS` through the actuator registered for
    that type (`engine.effects`); alerts are routed to the outbox after the pass.
    """

    at: datetime
    scale: tuple[ScaleAction, ...] = ()
    patches: tuple[RequestPatch, ...] = ()
    reports: tuple[ReportRequest, ...] = ()
    alerts: tuple[Alert, ...] = ()
    decisions: tuple[Decision, ...] = ()
    findings: Findings = field(default_factory=Findings)  # each concern's typed read-only findings

    def effects(self, kind: type[E]) -> tuple[E, ...]:
        """The plan's effects of one type, in plan order."""
        found: tuple[E, ...] = getattr(self, EFFECT_FIELDS[kind])
        return found


EFFECT_FIELDS: dict[type[Any], str] = {ScaleAction: "scale", RequestPatch: "patches", ReportRequest: "reports"}
"""Each effect type a Plan carries → the field holding it, in the order the act stage applies them.
A new effect type is a field here and an actuator registered for it at the composition root."""

Effect = ScaleAction | RequestPatch | ReportRequest
"""An effect of a Plan: one of the `EFFECT_FIELDS` types. Each may name a key of its concern's state
(`state_key`, `concern`) that only its outcome settles (`engine.settlement`)."""
