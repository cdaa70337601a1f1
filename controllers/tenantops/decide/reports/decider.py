"""`ReportsDecider`: which scheduled report moment is due, as a `ReportRequest` effect of the plan.

Pure: the ReportPolicy (cron and zone, `decide.reports.schedule`), the moment this concern last had
recorded as requested (its committed state) and the pass's `now` in; at most one request out. A moment
is due when it lies after the last one requested and at or before `now`, so a controller that was down
over several moments asks once, for the latest, when it comes back, never once per missed week; the
period ends at that moment however late the pass is (a report made on Wednesday for Monday covers the
week before Monday).

The state records a moment as requested only once the report actuator's outcome says the request is in
the outbox (`engine.settlement`, by `decide.base.confirm_applied`): a pass whose request could not be
recorded decides the same moment again. The key of each moment's report is the one it has always had
(`structs.reports.report_key`): a controller upgraded from the time the report was queued after the
pass starts with no state, asks for the latest moment, and the actuator finds it already queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tenantops.config.kinds.reports import ReportSpec
from tenantops.decide.base import DeciderOutput, JsonValue, PassInput
from tenantops.decide.reports.schedule import Schedule
from tenantops.structs.plan import Decision
from tenantops.structs.reports import ReportRequest, report_key

NAME = "reports"
REQUESTED = "requested"  # state: the latest scheduled moment whose request is in the outbox (ISO 8601)


def last_requested(state: Mapping[str, JsonValue]) -> datetime | None:
    """The latest moment recorded as requested, or None (none yet, or a value this version cannot read)."""
    raw = state.get(REQUESTED)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def due_request(spec: ReportSpec, last: datetime | None, now: datetime) -> ReportRequest | None:
    """The request for the latest scheduled moment at or before `now` when it lies after `last`, else None."""
    schedule = Schedule(spec.schedule, spec.timezone)
    if not schedule.due(last, now):
        return None
    moment = schedule.last(now)
    reason = (f"cost report due: scheduled {moment.isoformat()} ({spec.schedule!r} in {spec.timezone}); "
              f"it covers the {spec.period_days} whole days before that moment")
    return ReportRequest(report_key(moment), moment, spec.period_days, tuple(str(r) for r in spec.recipients), now,
                         "schedule", reason, state_key=REQUESTED, on_applied=moment.isoformat())


class ReportsDecider:
    """The report moment due this pass, as a request. State: the latest moment requested."""

    name = NAME

    def decide(self, inp: PassInput, state: Mapping[str, JsonValue]) -> DeciderOutput:
        spec = inp.config.policies.reports
        last = last_requested(state)
        request = due_request(spec, last, inp.now)
        if request is None:
            return DeciderOutput()
        decision = Decision(
            inp.now, None, None, "report", "due", request.reason, old=None if last is None else last.isoformat(),
            new=request.moment.isoformat(),
            inputs={"key": request.key, "schedule": spec.schedule, "timezone": spec.timezone,
                    "period_days": spec.period_days},
        )
        return DeciderOutput(reports=(request,), decisions=(decision,))
