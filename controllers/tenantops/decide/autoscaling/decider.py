"""`AutoscalingDecider`: one pass of per-tenant autoscaling over every workload in the catalogue.

For each workload it turns the snapshot's readings into an `Observation`, runs the recommender with the
workload's stored state and the single-workload breakers (`workload.decide_workload`, the same function
`tenantops simulate` scores); the global replica ceiling across all tenants is the engine's guard stage
(`engine.ceiling`), applied to the whole plan. Every workload ends in
a Decision, acted on or not, with its rule and reason; breakers and budgets that bite raise Alerts.
A change asked for is stored as proposed; the engine settles it from the write's outcome (`confirm`).
Month-to-date spend comes with the pass (`PassInput.spend_mtd_usd`: the cost ledger as committed by earlier
passes), else from the constructor or a `spend_mtd_usd` reading on any of the tenant's workloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tenantops.config.catalog import Tenant, Workload
from tenantops.config.kinds.common import parse_quantity
from tenantops.config.kinds.scaling import ScalingSpec
from tenantops.decide import breakers
from tenantops.decide.autoscaling.behavior import settle
from tenantops.decide.autoscaling.reactive import MetricLoad
from tenantops.decide.autoscaling.recommender import Bounds, Observation, Tuning
from tenantops.decide.autoscaling.state import WorkloadState
from tenantops.decide.autoscaling.workload import Guards, decide_workload
from tenantops.decide.base import KEEP, DeciderOutput, JsonValue, PassInput, confirm_applied
from tenantops.structs.findings import AutoscalingFindings
from tenantops.structs.plan import Alert, Decision, Effect, ScaleAction, ScaleTarget, Severity
from tenantops.structs.snapshot import Quality, Reading, Snapshot, WorkloadMetrics
from tenantops.structs.targets import target_for

SPEND_METRIC = "spend_mtd_usd"


def state_key(tenant: str, workload: str) -> str:
    return f"{tenant}/{workload}"


@dataclass(slots=True)
class _Proposal:
    tenant: Tenant
    workload: Workload
    target: ScaleTarget
    current: int
    desired: int
    rule: str
    reason: str
    inputs: dict[str, JsonValue]


class AutoscalingDecider:
    """The autoscaling concern of a reconciliation pass (`decide/base.py` `Decider`)."""

    name = "autoscaling"

    def __init__(self, spend_mtd_usd: Mapping[str, float] | None = None) -> None:
        self._spend = dict(spend_mtd_usd or {})
        self._tunings: dict[int, tuple[ScalingSpec, Tuning]] = {}

    def _tuning(self, spec: ScalingSpec) -> Tuning:
        found = self._tunings.get(id(spec))
        if found is None or found[0] is not spec:
            found = self._tunings[id(spec)] = (spec, Tuning.of(spec))
        return found[1]

    def decide(self, inp: PassInput, state: Mapping[str, JsonValue]) -> DeciderOutput:
        config, snapshot, now = inp.config, inp.snapshot, inp.now
        now_ts = now.timestamp()
        environment = config.catalog.environment
        proposals: list[_Proposal] = []
        decisions: list[Decision] = []
        alerts: list[Alert] = []
        new_state: dict[str, JsonValue] = {}
        for tenant in config.tenants:
            policies = config.for_tenant(tenant)
            spec, brk = policies.scaling, policies.breakers
            tuning = self._tuning(spec)
            allow_zero = policies.tier.scale_to_zero and spec.scale_to_zero.enabled
            spend = inp.spend_mtd_usd.get(tenant.id, self._spend.get(tenant.id))
            over_budget = False
            if spend is None:
                spend = _spend_reading(snapshot, tenant)
            if spend is not None and spend > tenant.budget_usd_month:
                over_budget = True
                alerts.append(_budget_alert(tenant, spend, spec.budget_action))
            for workload in tenant.workloads:
                key = state_key(tenant.id, workload.name)
                target = target_for(environment, tenant, workload.name)
                wstate = WorkloadState.from_json(state.get(key))
                metrics = snapshot.get(tenant.id, workload.name)
                hold = snapshot.holds.get((tenant.id, workload.name))  # its alert is the facts decider's
                if hold is not None and hold.blocks:
                    decisions.append(Decision(now, tenant.id, workload.name, "skip", f"hold:{hold.cause}",
                                              f"held: {hold.detail}; nothing changed"))
                    continue
                current_reading = _usable(metrics.get("replicas"))
                if current_reading is None:
                    wstate.bad_passes += 1
                    new_state[key] = wstate.to_json()
                    decisions.append(Decision(now, tenant.id, workload.name, "skip", "hold",
                                              "replica count unknown (missing or stale); nothing changed"))
                    if wstate.bad_passes >= brk.failed_passes_before_alert and hold is None:
                        alerts.append(_metrics_alert(tenant.id, workload.name, wstate.bad_passes, ["replicas"]))
                    continue
                current = round(current_reading)
                ready_value = _usable(metrics.get("ready_replicas"))
                ready = round(ready_value) if ready_value is not None else current
                loads, problems = _loads(spec, workload, metrics, current)
                if hold is not None and hold.cause == "recovering":  # rates under-read: no scale-down yet
                    problems.append(hold.detail)
                obs = Observation(snapshot.at.timestamp(), current, ready, loads, not problems, over_budget)
                bounds = Bounds(workload.min_replicas, workload.max_replicas, allow_zero)
                step = decide_workload(tuning, bounds, Guards.of(brk), obs, problems, wstate, now_ts)
                rec, desired, rule, reason = step.recommendation, step.desired, step.rule, step.reason
                for trip in step.trips:
                    alerts.append(_breaker_alert(tenant.id, workload.name, trip))
                if problems and wstate.bad_passes >= brk.failed_passes_before_alert and hold is None:
                    alerts.append(_metrics_alert(tenant.id, workload.name, wstate.bad_passes, problems))
                if over_budget and spec.budget_action == "none":
                    reason = f"{reason}; tenant over budget (policy: no action)"
                new_state[key] = wstate.to_json()
                inputs: dict[str, JsonValue] = {
                    "current": current, "ready": ready, "estimate": rec.estimate,
                    "demand_replicas": None if rec.demand is None else round(rec.demand, 3),
                }
                if problems:
                    inputs["metric_problems"] = problems
                proposals.append(_Proposal(tenant, workload, target, current, desired, rule, reason, inputs))

        actions: list[ScaleAction] = []
        for proposal in proposals:
            rule, reason, desired = proposal.rule, proposal.reason, proposal.desired
            if desired != proposal.current:
                actions.append(ScaleAction(proposal.tenant.id, proposal.workload.name, proposal.target,
                                           proposal.current, desired, rule, reason, proposal.inputs,
                                           state_key(proposal.tenant.id, proposal.workload.name)))
                kind = "scale"
            else:
                kind = "skip"
            decisions.append(Decision(now, proposal.tenant.id, proposal.workload.name, kind, rule, reason,
                                      proposal.current, desired, proposal.inputs))
        return DeciderOutput(scale=tuple(actions), alerts=tuple(alerts), decisions=tuple(decisions),
                             findings=AutoscalingFindings(len(decisions), len(actions)), state=new_state)

    def confirm(self, proposed: Effect, made: Effect | None, at: datetime, state: JsonValue,
                tried: bool = True) -> JsonValue:
        """A workload's stored state once the write decided at `at` has an outcome (`decide.base.Confirms`):
        the proposed change becomes a scale event of the replicas written (from the count the write started
        at), or is dropped when nothing was written, tried or not. A workload no longer stored stores
        nothing."""
        if not isinstance(proposed, ScaleAction):
            return confirm_applied(proposed, made, at, state, tried)
        if state is None:
            return KEEP
        change = made.desired - made.current if isinstance(made, ScaleAction) else 0
        return settle(WorkloadState.from_json(state), at.timestamp(), change).to_json()


def _usable(reading: Reading) -> float | None:
    """The value if the observe step judged the reading usable. Staleness is that step's verdict
    (`Quality.STALE`, judged once against the metrics source's own clock); it is never judged again here
    against the controller's clock, which may disagree with the source's."""
    return reading.value if reading.ok else None


def _loads(
    spec: ScalingSpec, workload: Workload, metrics: WorkloadMetrics, current: int
) -> tuple[list[MetricLoad], list[str]]:
    """Each configured metric in the units the recommender works in; unusable ones listed as problems."""
    loads: list[MetricLoad] = []
    problems: list[str] = []
    for m in spec.metrics:
        reading = metrics.get(m.metric)
        value = _usable(reading)
        if value is None:
            problems.append(f"{m.metric} {reading.quality if reading.quality is not Quality.OK else Quality.MISSING}")
            continue
        if m.type == "utilization":
            per_replica = _request_per_replica(m.metric, workload, metrics, current)
            if per_replica is None or per_replica <= 0:
                problems.append(f"{m.metric}_request unknown")
                continue
            # An explicit capacity is the policy's word for where a replica stops; else the limit says so.
            ceiling = None if m.capacity is not None else _limit_over_request(m.metric, workload, metrics, current,
                                                                             per_replica)
            loads.append(MetricLoad(m.metric, value / per_replica, m.target, m.capacity_or_default(),
                                    ceiling=ceiling))
        else:
            loads.append(MetricLoad(m.metric, value, m.target, m.capacity_or_default(), m.type))
    return loads, problems


def _pods_summed(metrics: WorkloadMetrics, current: int) -> int:
    """How many replicas the measured request and limit sums are over: the replicas metric of the same
    scrape when the live count has taken its place (`structs.replicas.REPORTED`), else `current`.

    The live count is read from the objects at the pass, the sums from the last scrape. Right after a
    scale-up the live count is ahead of the scrape, and a sum over 10 pods divided by 20 halved the
    request, doubled the utilisation read, and asked for twice the replicas at the next pass: at a pass
    per scrape the count climbed to its maximum in three passes (10 -> 20 -> 40) on a demand of 10.
    """
    scraped = metrics.replicas_scraped()
    return scraped if scraped is not None else current


def _request_per_replica(metric: str, workload: Workload, metrics: WorkloadMetrics, current: int) -> float | None:
    """The request of one replica: measured (sum of requests over the replicas it sums) or else from the
    catalogue."""
    total = _usable(metrics.get(f"{metric}_request"))
    pods = _pods_summed(metrics, current)
    if total is not None and pods > 0 and total > 0:
        return total / pods
    declared = {"cpu": workload.cpu_request, "memory": workload.memory_request}.get(metric)
    return parse_quantity(declared) if declared is not None else None


def _limit_over_request(metric: str, workload: Workload, metrics: WorkloadMetrics, current: int,
                        request: float) -> float | None:
    """Where one replica's utilisation reading stops, as a fraction of its request: its limit over its
    request, measured (`<metric>_limit`, the sum of limits over replicas, as the request is read) or else
    declared (`cpu_limit` in the catalogue). None when no limit is known: the reading is then taken to stop
    at the request (1.0), the only share a pod is guaranteed. Never below 1: a limit summed over fewer
    containers than the request (some without a limit) is no ceiling below the request."""
    total = _usable(metrics.get(f"{metric}_limit"))
    pods = _pods_summed(metrics, current)
    limit: float | None = None
    if total is not None and pods > 0 and total > 0:
        limit = total / pods
    else:
        declared = {"cpu": workload.cpu_limit}.get(metric)
        limit = parse_quantity(declared) if declared is not None else None
    return None if limit is None else max(1.0, limit / request)


def _spend_reading(snapshot: Snapshot, tenant: Tenant) -> float | None:
    for workload in tenant.workloads:
        reading = snapshot.reading(tenant.id, workload.name, SPEND_METRIC)
        if reading.ok and reading.value is not None:
            return reading.value
    return None


def _breaker_alert(tenant: str, workload: str, trip: tuple[breakers.Trip, int]) -> Alert:
    breaker = trip[0]
    return Alert(
        f"breaker:{breaker.breaker}:{tenant}/{workload}", tenant, Severity.WARNING, "breaker",
        f"{tenant}/{workload}: {breaker.breaker} breaker tripped: {breaker.detail}",
        "Check the workload's metrics and recent traffic; the breaker holds until they look sane.",
        details={"workload": workload, "applied": trip[1]},
    )


def _metrics_alert(tenant: str, workload: str, passes: int, problems: list[str]) -> Alert:
    return Alert(
        f"metrics:{tenant}/{workload}", tenant, Severity.WARNING, "metrics",
        f"{tenant}/{workload}: metrics unusable for {passes} passes ({', '.join(problems)}); scale-down frozen",
        "Check the exporters and the metrics queries for this tenant.",
        details={"workload": workload, "problems": problems},
    )


def _budget_alert(tenant: Tenant, spend: float, action: str) -> Alert:
    capped = action == "cap"
    return Alert(
        f"budget-scaling:{tenant.id}", tenant.id, Severity.CRITICAL if capped else Severity.WARNING, "budget",
        f"{tenant.id} is over its monthly budget (${spend:,.2f} of ${tenant.budget_usd_month:,.2f})"
        + ("; scale-up capped at current replicas" if capped else ""),
        "Raise the budget or agree a plan with the customer.",
        amount_usd=round(spend - tenant.budget_usd_month, 2),
        details={"budget_action": action},
    )
