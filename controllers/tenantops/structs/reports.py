"""Report requests: the scheduled cost report as an effect of a plan, applied by the report actuator.

A pass decides that a report moment is due (`decide.reports`); what it asks for is small and durable:
"render and send the report for the period ending at `moment`, under `key`". The report actuator
(`engine.report_effects`) records that request in the outbox, and the delivery run renders and mails it
off the pass (`notify.service.render_requests`), so no pass ever builds charts or templates.

A request carries the decider state its recording implies (`state_key`, `on_applied`: the moment, as the
latest one requested): the engine commits it only when the actuator's outcome says the request is in
the outbox, so a request that could not be recorded is decided again next pass, never remembered as done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REPORT_KEY_PREFIX = "cost-report"


def report_key(moment: datetime) -> str:
    """The outbox key of the ops report of one scheduled moment (the same key the report has always had,
    so an upgraded controller finds the reports it queued before and queues none of them again)."""
    return f"{REPORT_KEY_PREFIX}:{moment.isoformat()}"


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """Render and send the cost report of the `period_days` whole UTC days before `moment`, under `key`.

    `moment` is the scheduled moment (aware, in the policy's zone) and ends the period however late the
    report is made; `requested_at` is the pass that asked (budgets and alerts are shown as of then);
    `recipients` are the ReportPolicy's (the deployment's ops address is added when it is composed).
    """

    key: str
    moment: datetime
    period_days: int
    recipients: tuple[str, ...]
    requested_at: datetime
    rule: str
    reason: str
    state_key: str = ""  # the deciding concern's state key that recording this request updates
    on_applied: Any = None  # its new value (JSON), committed only once the request is in the outbox
    concern: str = ""  # whose state `state_key` is: set by the engine from the decider that asked

    @property
    def tenant(self) -> None:
        """A report request is about the installation, not one tenant."""
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "moment": self.moment.isoformat(), "period_days": self.period_days,
            "recipients": list(self.recipients), "requested_at": self.requested_at.isoformat(),
            "rule": self.rule, "reason": self.reason,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ReportRequest:
        return ReportRequest(
            str(data["key"]), datetime.fromisoformat(str(data["moment"])), int(data["period_days"]),
            tuple(str(r) for r in data.get("recipients") or ()),
            datetime.fromisoformat(str(data["requested_at"])), str(data.get("rule", "")),
            str(data.get("reason", "")),
        )
