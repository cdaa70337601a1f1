"""Every alert cause the controller raises: the one list a snooze's `cause` is checked against.

An alert's `cause` is its kind (`budget-forecast`, `cost-anomaly-daily`, ...): Alertmanager's alertname,
the runbook section in docs/alerts.md, and what a snooze in policy silences. A snooze naming a cause
that does not exist (a typo, `cost-anomaly-day`) silenced nothing and said nothing, so an operator who
meant to quiet a load-test week was paged all week; the policy loader now refuses it. A test reads the
causes the code raises and holds this list to them.
"""

from __future__ import annotations

ALERT_CAUSES = frozenset({
    "alertmanager-delivery-failed", "breaker", "budget", "budget-actual", "budget-forecast",
    "controller-clock-skew", "controller-reload-held", "controller-removals-held", "cost-anomaly-daily",
    "cost-anomaly-hourly",
    "mail-delivery-failed", "metrics", "metrics-absent", "metrics-implausible", "replicas-disagree",
    "webhook-delivery-failed",
})
