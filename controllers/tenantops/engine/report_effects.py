"""The actuator of report requests: the scheduled cost report recorded in the outbox, never rendered here.

Applying a `ReportRequest` is one insert into the outbox, idempotent on the request's key (the same
guarantee that keeps mail from being queued twice), so the act stage stays cheap: the Jinja2 templates and
charts are rendered by the delivery run off the pass (`notify.service.render_requests`), which retries a
render that fails and alerts when it gives up, as it does for mail. A report already in the outbox (its
request, or the report mail queued by an earlier version of the controller) is unchanged, and in effect.

No intent is written before the call: the request row is itself the durable record, made in one
statement, so there is no half-made write to read back. A controller stopped between the insert and the
outcome's commit has not settled the moment as requested; its next pass decides the moment again, finds
the row and settles it (unchanged, in effect).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tenantops.act.base import OutcomeStatus
from tenantops.engine.effects import IN_EFFECT
from tenantops.structs.plan import Decision
from tenantops.structs.reports import ReportRequest

log = logging.getLogger(__name__)


class ReportQueue(Protocol):
    """Where report requests are recorded (`notify.service.OutboxReports`): the client of this effect type."""

    def request(self, request: ReportRequest) -> bool:
        """Record the request; True when newly recorded, False when its key was there already."""
        ...

    def recorded(self, key: str) -> bool:
        """True when the report keyed `key` is recorded already (requested, or queued as mail)."""
        ...


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What became of one report request."""

    request: ReportRequest
    status: OutcomeStatus
    detail: str = ""


class ReportEffects:
    """Report requests into the outbox, when there is one (a controller built without a state store to
    queue into fails its requests, or reports them as dry-run)."""

    name = "report"

    def __init__(self, queue: ReportQueue | None = None) -> None:
        self.queue = queue

    def available(self) -> list[str]:
        return [] if self.queue is None else ["report"]

    def intent(self, effect: ReportRequest, now: datetime) -> tuple[str, dict[str, Any]] | None:
        return None  # the outbox row is its own record (see the module docstring)

    def deadline(self, effect: ReportRequest) -> float | None:
        return None  # a local insert, not a call to a target that may hang

    def apply(self, effect: ReportRequest, *, dry_run: bool) -> ReportOutcome:
        if dry_run:
            return ReportOutcome(effect, OutcomeStatus.DRY_RUN, "dry run: not requested")
        if self.queue is None:
            return ReportOutcome(effect, OutcomeStatus.FAILED, "no outbox to record report requests in")
        if self.queue.recorded(effect.key) or not self.queue.request(effect):
            log.info("report %s already in the outbox", effect.key)
            return ReportOutcome(effect, OutcomeStatus.UNCHANGED, "already in the outbox")
        log.info("report %s requested (period of %d days to %s)", effect.key, effect.period_days,
                 effect.moment.isoformat())
        return ReportOutcome(effect, OutcomeStatus.APPLIED, "requested: rendered and mailed by the delivery run")

    def refused(self, effect: ReportRequest, status: OutcomeStatus, detail: str) -> ReportOutcome:
        return ReportOutcome(effect, status, detail)

    def audit(self, outcome: ReportOutcome, now: datetime) -> Decision:
        r = outcome.request
        return Decision(
            at=now, tenant=None, workload=None, kind="act", rule=outcome.status.value,
            reason=f"report {r.key}: {outcome.detail or outcome.status.value} ({r.reason})",
            new=r.moment.isoformat(),
            inputs={"target": "outbox", "report": r.key, "period_days": r.period_days,
                    "recipients": list(r.recipients)},
        )

    def confirmed(self, outcome: ReportOutcome) -> ReportRequest | None:
        """The moment is requested once its request (or its report) is in the outbox."""
        return outcome.request if outcome.status in IN_EFFECT else None

    def label(self, outcome: ReportOutcome) -> str:
        return "report"

    def read_back(self, intent: Mapping[str, Any]) -> tuple[bool, Any, bool]:
        """Never asked: a report request writes no intent (`intent` above), so none is left to recover."""
        return False, None, False

    def recorded(self, intent: Mapping[str, Any]) -> ReportRequest:
        raise LookupError("report requests write no intent to recover")

    def made(self, intent: Mapping[str, Any], live: Any) -> ReportRequest:
        raise LookupError("report requests write no intent to recover")
