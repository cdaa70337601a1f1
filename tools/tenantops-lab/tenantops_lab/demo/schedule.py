"""Whether the demo's controller kept its schedule: a miss of the machine told apart from one of the policy.

The trace clock follows the wall clock. A pass that runs past its interval delays the next one, and its
remaining writes are skipped (`Runner.may_act`), while demand keeps moving in trace time. On two busy
cores that costs trace minutes in which nothing is decided: the figures here count them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from tenantops.act.base import OutcomeStatus
from tenantops_lab.demo.view import ActionEvent
from tenantops_lab.sandbox.workload_sim import percentile

NOT_MADE = frozenset({OutcomeStatus.RETRYABLE.value, OutcomeStatus.FAILED.value})
SLACK = 0.1  # of the interval: a gap this much longer is timing noise of the wall clock, not a late pass


@dataclass
class PassFigures:
    """The live part's passes against their interval (trace seconds unless said otherwise)."""

    interval_trace_seconds: float
    late: int  # passes that took longer than the interval
    seconds_p50: float | None  # wall seconds one pass took
    seconds_max: float | None
    longest_gap_trace_seconds: float | None  # between two passes' trace times
    behind_trace_minutes: float  # sum over the gaps between passes of what exceeds the interval
    actions_not_made: int  # scale writes skipped (the pass ran late) or that failed

    def describe(self) -> str:
        """One line for the closing summary."""
        p50 = "-" if self.seconds_p50 is None else f"{self.seconds_p50:.2f}s"
        longest = "-" if self.seconds_max is None else f"{self.seconds_max:.2f}s"
        gap = "-" if self.longest_gap_trace_seconds is None else f"{self.longest_gap_trace_seconds / 60:.1f} min"
        return (f"a pass every {self.interval_trace_seconds:g} trace s; {self.late} ran past it (p50 {p50}, "
                f"longest {longest} wall); {self.behind_trace_minutes:.1f} trace min behind schedule (longest gap "
                f"{gap}); {self.actions_not_made} scale write(s) not made")


def pass_figures(interval_trace_seconds: float, factor: float, pass_seconds: list[float],
                 trace_times: list[datetime], actions: list[ActionEvent]) -> PassFigures:
    """How far the controller fell behind its schedule, from each pass's duration and trace time."""
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(trace_times)]
    slack = interval_trace_seconds * SLACK
    behind = sum(g - interval_trace_seconds for g in gaps if g > interval_trace_seconds + slack)
    p50 = percentile(pass_seconds, 50)
    return PassFigures(
        interval_trace_seconds=interval_trace_seconds,
        late=sum(1 for s in pass_seconds if s * factor > interval_trace_seconds),
        seconds_p50=None if p50 is None else round(p50, 3),
        seconds_max=round(max(pass_seconds), 3) if pass_seconds else None,
        longest_gap_trace_seconds=round(max(gaps), 1) if gaps else None,
        behind_trace_minutes=round(behind / 60.0, 1),
        actions_not_made=sum(1 for a in actions if a.status in NOT_MADE),
    )
