"""Installation-wide controller settings (global)."""

from __future__ import annotations

from pydantic import Field

from tenantops.config.kinds.common import Days, PositiveHours, PositiveSeconds, Seconds
from tenantops.config.registry import Spec, policy_kind

MIN_AUDIT_RETENTION_DAYS = 90
"""The shortest audit retention a ControllerPolicy may set: the audit table's trigger refuses to delete a row
younger than this (migration 0006), by the database's clock."""


@policy_kind("ControllerPolicy", scope="global")
class ControllerSpec(Spec):
    """How often the controller runs and the limits that hold across all tenants.

    Example:
        kind: ControllerPolicy
        name: default
        spec:
          interval_seconds: 30
          jitter_seconds: 3
          global_replica_ceiling: 20000
          clock_skew_tolerance_seconds: 30
    """

    interval_seconds: PositiveSeconds = 30
    jitter_seconds: Seconds = 3
    # Total replicas across every tenant the controller may ask for: a runaway signal cannot buy a cluster.
    global_replica_ceiling: int = Field(default=20000, gt=0)
    # A catalogue reload that removes more than this share of the tenants at once is held (the last good
    # configuration keeps running) until confirmed (`tenantops run --confirm-removals`): a catalogue cut
    # short at a tenant boundary is valid YAML that reads as "these tenants are gone".
    max_removed_share: float = Field(default=0.1, ge=0, le=1)
    # How far the controller's clock may differ from Prometheus' before it is one alert (controller-clock-
    # skew). Freshness is judged by Prometheus' clock whatever the skew, so this only decides when a person
    # is told: a skew this large means the host's time service is broken, and other systems are wrong too.
    clock_skew_tolerance_seconds: PositiveSeconds = 30
    # A chat webhook notice that could not be posted for this long is given up on (done unposted, with an
    # audit row): a budget warning or a firing notice of a day ago, posted now, reads as news that is no
    # longer true. The outbox keeps retrying it until then.
    notice_max_age_hours: PositiveHours = 24
    # Outbox rows are deleted this many days after they settled, a bounded batch after each pass, so the
    # state does not grow with every mail ever sent: sent mail and done jobs, rows in doubt (a person had
    # this long to send one again), and rows given up on once their failure was told. Nothing pending or
    # being sent, and no row whose key still keeps a notification or a report from being queued again
    # (`notify.outbox.Outbox.prune` states the rule).
    outbox_retention_days: Days = 30
    # Audit rows (every decision with its inputs) are deleted this many days after they were written, a
    # batch after each pass (`record.audit.prune`). The audit is evidence: a billing dispute or an incident
    # review reaches back months, so the default is over a year and the least is MIN_AUDIT_RETENTION_DAYS,
    # below which the database itself refuses to delete a row.
    audit_retention_days: Days = Field(default=400, ge=MIN_AUDIT_RETENTION_DAYS)
