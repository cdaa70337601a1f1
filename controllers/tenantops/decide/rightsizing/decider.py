"""`RightsizingDecider`: recommendations for every workload, and in `apply` mode the request patches.

Per workload and resource it recommends a per-pod request from the usage history, prices the difference
against the current request, and records an audit Decision with the inputs behind it. Pool tenants in
`apply` mode get request patches, damped by the guardrails; silo tenants get an instance-type
recommendation (changing an Auto Scaling group's type is a provisioning change, so it is reported, not
applied).

The history comes in with the pass (`PassInput.usage_history`), fetched by
`tenantops.observe.usage_history` as often as the composition root likes: recommendations move on a
scale of hours, so the range queries need not run every pass. `RightsizingDecider(history)` fixes one
for offline use (backtests, tests). Without history the decider only says so.

State, per workload: when each resource was last changed and to what, so the minimum interval holds
across passes and restarts; and after a patch the API did not take, the failures in a row and when the
last one was (`retry`), so the workload gets no patch until the policy's backoff has passed
(`RightsizingSpec.retry`). An applied patch's state has no `retry`: success ends the streak. State kept by
an earlier version (without `retry`) reads as no failure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from tenantops.config.catalog import Tenant, Workload
from tenantops.config.kinds.common import parse_quantity
from tenantops.config.kinds.cost import RegionPrices
from tenantops.config.kinds.rightsizing import RightsizingSpec
from tenantops.decide.base import DeciderOutput, JsonValue, PassInput
from tenantops.decide.rightsizing.guardrails import plan_step
from tenantops.decide.rightsizing.instances import recommend_instance
from tenantops.decide.rightsizing.params import resource_params
from tenantops.decide.rightsizing.pricing import region_prices, request_cost_month
from tenantops.decide.rightsizing.recommender import Recommendation, recommend
from tenantops.decide.rightsizing.vpa_status import status as vpa_status
from tenantops.quantities import quantity
from tenantops.structs.jsonread import is_number
from tenantops.structs.naming import launch_template_name
from tenantops.structs.naming import namespace as tenant_namespace
from tenantops.structs.plan import Decision
from tenantops.structs.requests import RequestPatch
from tenantops.structs.rightsizing_findings import (
    NO_SAMPLES,
    HistoryWindow,
    InstanceChange,
    InstanceRecommendation,
    ResourceRecommendation,
    RightsizingFindings,
    WorkloadRecommendation,
)
from tenantops.structs.usage import Resource, UsageHistory

RESOURCES: tuple[Resource, ...] = ("cpu", "memory")
HOUR_SECONDS = 3600.0
_REQUEST_METRIC = {"cpu": "cpu_request", "memory": "memory_request"}


def _quantity(resource: Resource, value: float) -> str:
    return quantity(resource, value)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class _HourlyMemo:
    """Recommendations of one usage history in one UTC hour, computed once.

    Recommendations are made as of the start of the current UTC hour, so they are a function of the
    history and the hour only: the replay of a week behind each one (tens of milliseconds per workload
    and resource) then runs once an hour per workload, not on every pass. Only the current hour of the
    current history is kept.
    """

    def __init__(self) -> None:
        self._history: UsageHistory | None = None
        self._hour = float("nan")
        self._entries: dict[tuple[str, str, str, Resource], Recommendation | None] = {}

    def get(self, history: UsageHistory, hour_start: float, key: tuple[str, str, str, Resource],
            compute: Callable[[], Recommendation | None]) -> Recommendation | None:
        if history is not self._history or hour_start != self._hour:
            self._history, self._hour, self._entries = history, hour_start, {}
        if key not in self._entries:
            self._entries[key] = compute()
        return self._entries[key]


class RightsizingDecider:
    """The right-sizing concern of a pass (see the module docstring)."""

    name = "rightsizing"

    def __init__(self, history: UsageHistory | None = None) -> None:
        self.history = history
        self._memo = _HourlyMemo()

    def decide(self, inp: PassInput, state: Mapping[str, JsonValue]) -> DeciderOutput:
        # A daily schedule is by UTC hour: a time given with another offset (`rightsize --at ...+05:30`)
        # would otherwise be read at its local hour, another hour's request.
        inp = dataclasses.replace(inp, now=inp.now.astimezone(UTC))
        history = inp.usage_history if inp.usage_history is not None else self.history
        if history is None:
            return DeciderOutput(findings=RightsizingFindings.unavailable(
                "no usage history: recommendations need range queries"))
        rows: list[WorkloadRecommendation] = []
        patches: list[RequestPatch] = []
        decisions: list[Decision] = []
        for tenant in inp.config.tenants:
            policies = inp.config.for_tenant(tenant)
            spec = policies.rightsizing
            prices = region_prices(inp.config.policies.pricing, tenant.region)
            for workload in tenant.workloads:
                row, patch, decision = self._workload(
                    inp, tenant, workload, spec, policies.tier.rightsizing, prices, history,
                    state.get(f"{tenant.id}/{workload.name}"), policies.tier.limits.container_max,
                )
                rows.append(row)
                decisions.append(decision)
                if patch is not None:
                    patches.append(patch)
        total = sum(r.saving_month for r in rows if r.saving_month is not None)
        findings = RightsizingFindings(
            recommendations=tuple(rows), patches=tuple(patches), saving_month=round(total, 2),
            currency=inp.config.policies.pricing.currency,
            history=HistoryWindow(history.start, history.end, tuple(history.errors)),
        )
        # No state here for the patches: each carries the state it implies, committed on its applied outcome.
        return DeciderOutput(patches=tuple(patches), decisions=tuple(decisions), findings=findings)

    def _workload(
        self,
        inp: PassInput,
        tenant: Tenant,
        workload: Workload,
        spec: RightsizingSpec,
        policy_name: str,
        prices: RegionPrices | None,
        history: UsageHistory,
        prior: JsonValue,
        ceilings: Mapping[str, str] | None = None,
    ) -> tuple[WorkloadRecommendation, RequestPatch | None, Decision]:
        now = inp.now.timestamp()
        key = (tenant.id, workload.name)
        replicas = history.replicas.get(key) or _snapshot_replicas(inp, tenant.id, workload.name) or max(
            1, workload.min_replicas
        )
        current = {r: self._current(inp, tenant.id, workload, r, replicas) for r in RESOURCES}
        as_of = now // HOUR_SECONDS * HOUR_SECONDS  # see _HourlyMemo
        recs: dict[Resource, Recommendation | None] = {}
        for resource in RESOURCES:
            series = history.get(tenant.id, workload.name, resource)
            recs[resource] = self._memo.get(history, as_of, (tenant.id, workload.name, "", resource), partial(
                recommend, series.times, series.values, as_of, resource_params(spec, resource),
                history.ooms.get(key, ()) if resource == "memory" else ()))
        hour = inp.now.hour
        resources = {r: _resource_row(current[r], recs[r], hour) for r in RESOURCES}
        by_container = _container_recommendations(history, tenant.id, workload.name, spec, as_of, self._memo)
        cpu_rec, mem_rec = recs["cpu"], recs["memory"]
        saving: float | None = None
        now_month: float | None = None
        new_month: float | None = None
        if prices is not None and cpu_rec is not None and mem_rec is not None:
            mean_cpu = _mean_request(cpu_rec)
            mean_mem = _mean_request(mem_rec)
            now_cost = request_cost_month(prices, current["cpu"], current["memory"], replicas)
            new_cost = request_cost_month(prices, mean_cpu, mean_mem, replicas)
            saving = round(now_cost - new_cost, 2)
            now_month, new_month = round(now_cost, 2), round(new_cost, 2)
        instance: InstanceRecommendation | None = None
        if tenant.isolation == "silo" and prices is not None and cpu_rec is not None and mem_rec is not None:
            choice = recommend_instance(
                prices, cpu=cpu_rec.target, memory=mem_rec.target, cpu_upper=cpu_rec.upper,
                memory_upper=mem_rec.upper, headroom=spec.instance_headroom, replicas=replicas,
                confidence=min(cpu_rec.confidence, mem_rec.confidence), current_type=workload.silo_instance_type,
            )
            instance = dataclasses.replace(
                choice, saving_month=round(choice.saving_month, 2) if choice.saving_month is not None else None,
                change=_instance_change(inp, tenant, workload, choice.current, choice.recommended),
            )
        patch, applied = self._patch(inp, tenant, workload, spec, recs, current, prior, by_container, ceilings)
        row = WorkloadRecommendation(
            tenant=tenant.id, workload=workload.name, isolation=tenant.isolation, mode=spec.mode,
            policy=policy_name, replicas=round(float(replicas), 2), cpu=resources["cpu"], memory=resources["memory"],
            # The VPA's own status shape, one entry per container where the history has them; otherwise
            # the pod's (the pool Deployments' one container is named after the workload).
            status=vpa_status({c: by_container[c] for c in sorted(by_container)} or {workload.name: recs}, inp.now),
            confidence=round(min((r.confidence for r in recs.values() if r is not None), default=0.0), 3),
            saving_month=saving, applied=applied, current_month=now_month, recommended_month=new_month,
            instance=instance,
        )
        reason = "; ".join(
            f"{r} {_fmt(r, current[r])} -> {_fmt(r, recs[r].request_at(hour))}"  # type: ignore[union-attr]
            if recs[r] is not None else f"{r}: no usage samples"
            for r in RESOURCES
        )
        if saving is not None:
            reason += f"; saves {saving:.2f} {inp.config.policies.pricing.currency}/month"
        decision = Decision(
            at=inp.now, tenant=tenant.id, workload=workload.name, kind="rightsize", rule=f"rightsizing/{policy_name}",
            reason=reason, old={r: current[r] for r in RESOURCES},
            new={r: (recs[r].request_at(hour) if recs[r] is not None else None) for r in RESOURCES},  # type: ignore[union-attr]
            inputs={"mode": spec.mode, "replicas": replicas, "applied": applied,
                    "confidence": {r: row.resource(r).confidence for r in RESOURCES}},
        )
        return row, patch, decision

    @staticmethod
    def _current(inp: PassInput, tenant: str, workload: Workload, resource: Resource, replicas: float) -> float:
        """The per-pod request now: kube-state-metrics' total over the replicas that scrape summed, else
        the catalogue's.

        The divisor is the replicas metric of the same scrape (`WorkloadMetrics.replicas_scraped`), else
        the snapshot's count, and `replicas` (the history's mean, for the cost) only when the snapshot has
        none. A total over 10 pods divided by a week's mean of 3 read a 1-core request as 3.3 cores, and
        the step cap then moved the request from there, raising it while usage asked for less.
        """
        metrics = inp.snapshot.get(tenant, workload.name)
        reading = metrics.get(_REQUEST_METRIC[resource])
        pods = metrics.replicas_scraped() or _snapshot_replicas(inp, tenant, workload.name) or replicas
        if reading.ok and reading.value and pods > 0:
            return float(reading.value) / pods
        declared = workload.cpu_request if resource == "cpu" else workload.memory_request
        return parse_quantity(declared)

    @staticmethod
    def _patch(
        inp: PassInput,
        tenant: Tenant,
        workload: Workload,
        spec: RightsizingSpec,
        recs: Mapping[Resource, Recommendation | None],
        current: Mapping[Resource, float],
        prior: JsonValue,
        by_container: Mapping[str, Mapping[Resource, Recommendation | None]] | None = None,
        ceilings: Mapping[str, str] | None = None,
    ) -> tuple[RequestPatch | None, dict[str, str]]:
        """The guarded patch for a pool workload in apply mode (carrying the state it implies once applied),
        and what was decided per resource."""
        decided: dict[str, str] = {}
        if spec.mode != "apply":
            return None, {r: "recommend mode" for r in RESOURCES}
        if tenant.isolation != "pool":
            return None, {r: "silo: instance type is a provisioning change" for r in RESOURCES}
        prior_map = prior if isinstance(prior, dict) else {}
        failures, failed_at = _failures(prior_map)
        if failed_at is not None:
            next_try = failed_at + timedelta(seconds=spec.retry.delay(failures))
            if inp.now < next_try:
                waiting = (f"last patch not applied at {failed_at.isoformat()} ({failures} in a row); next try at "
                           f"{next_try.isoformat()}")
                return None, {r: waiting for r in RESOURCES}
        new_state = {r: dict(prior_map.get(r, {})) for r in RESOURCES if isinstance(prior_map.get(r), dict)}
        requests: dict[str, str] = {}
        per_container: dict[str, dict[str, str]] = {}
        notes: list[str] = []
        for resource in RESOURCES:
            rec = recs[resource]
            if rec is None:
                decided[resource] = "no usage samples"
                continue
            # Below an OOM kill's bump the request is raised whatever the history's length: a pod killed at
            # start-up is the workload with the least history, and waiting for a day of it kept it crash-looping.
            urgent = rec.oom_floor is not None and current[resource] < rec.oom_floor
            if rec.history_hours < spec.min_history_hours and not urgent:
                decided[resource] = f"only {rec.history_hours:.0f} h of history (< {spec.min_history_hours:g} h)"
                continue
            last = prior_map.get(resource)
            last_change = _parse_time(last.get("at")) if isinstance(last, dict) else None
            desired = rec.request_at(inp.now.hour)
            hours = _applied_hours(last) if rec.schedule is not None else {}
            step = plan_step(
                current=current[resource], desired=desired, now=inp.now, last_change=last_change,
                min_interval=timedelta(hours=spec.min_interval_hours), max_change_percent=spec.max_change_percent,
                min_change_percent=spec.min_change_percent, urgent=urgent,
                fmt=lambda value, r=resource: _fmt(r, value),  # type: ignore[misc]
                cap_from=hours.get(str(inp.now.hour)), hourly=rec.schedule is not None,
            )
            decided[resource] = step.reason
            if step.apply:
                requests[resource] = _quantity(resource, step.value)
                for container, share in _shares(by_container or {}, resource, inp.now.hour).items():
                    per_container.setdefault(container, {})[resource] = _quantity(resource, step.value * share)
                notes.append(f"{resource}: {step.reason}")
                new_state[resource] = {"at": inp.now.isoformat(), "value": step.value}
                if rec.schedule is not None:
                    new_state[resource]["hours"] = {**hours, str(inp.now.hour): step.value}
        if not requests:
            return None, decided
        # Not applied: the state as it was, and the streak one longer (`_failures`).
        on_failed: dict[str, JsonValue] = {r: prior_map[r] for r in RESOURCES if r in prior_map}
        on_failed["retry"] = {"failures": failures + 1, "at": inp.now.isoformat()}
        patch = RequestPatch(
            tenant.id, workload.name, tenant_namespace(tenant.id), workload.name, requests, "; ".join(notes),
            spec.raise_limits, per_container, state_key=f"{tenant.id}/{workload.name}", on_applied=new_state,
            ceilings=dict(ceilings or {}), on_failed=on_failed,
            retry_at=(inp.now + timedelta(seconds=spec.retry.delay(failures + 1))).isoformat(),
        )
        return patch, decided


def _failures(prior: Mapping[str, JsonValue]) -> tuple[int, datetime | None]:
    """The patches not applied in a row, and when the last of them was decided (state `retry`; 0 and None
    where there is none, or it cannot be read)."""
    retry = prior.get("retry")
    if not isinstance(retry, dict):
        return 0, None
    count, at = retry.get("failures"), _parse_time(retry.get("at"))
    if not isinstance(count, int) or isinstance(count, bool) or count < 1 or at is None or at.tzinfo is None:
        return 0, None
    return count, at


def _applied_hours(last: JsonValue) -> dict[str, float]:
    """The request applied at each UTC hour while a daily schedule was followed (state `hours`).

    A schedule's step cap measures from what was applied at the same hour before, not from the hour
    just gone: the cap damps a change of the recommendation, and the hour-to-hour steps are the schedule
    itself. Measured from the previous hour, a daily job's hour at 8x the rest of the day could never be
    reached at a 30-50% cap, and the job was throttled every day while the recommendation said it was
    covered. A new schedule still ramps in, by the cap, day by day at each hour.
    """
    hours = last.get("hours") if isinstance(last, dict) else None
    if not isinstance(hours, dict):
        return {}
    return {h: float(v) for h, v in hours.items()
            if is_number(v) and math.isfinite(v) and v > 0}


def _container_recommendations(history: UsageHistory, tenant: str, workload: str, spec: RightsizingSpec,
                               as_of: float, memo: _HourlyMemo) -> dict[str, dict[Resource, Recommendation | None]]:
    """Each container's own recommendation, where the history has per-container series.

    The policy's per-pod minimum is shared out between the containers. OOM kills shape the pod's total,
    which the patch splits by these recommendations, and each container's own: the kills of that
    container where the history has them per container (`UsageHistory.container_ooms`), else, in a pod
    of one container (the pool Deployments'), the pod's. Without them a container's VPA status showed the
    memory target from before its kill while the patch asked for the bump.
    """
    names = sorted({c for r in RESOURCES for c in history.per_container(tenant, workload, r)})
    by_container = history.container_ooms.get((tenant, workload))
    pod_kills = history.ooms.get((tenant, workload), ()) if len(names) == 1 and not by_container else ()
    out: dict[str, dict[Resource, Recommendation | None]] = {}
    for name in names:
        out[name] = {}
        for resource in RESOURCES:
            series = history.per_container(tenant, workload, resource).get(name)
            base = resource_params(spec, resource)
            params = dataclasses.replace(base, minimum=base.minimum / len(names))
            out[name][resource] = memo.get(history, as_of, (tenant, workload, name, resource), partial(
                recommend, series.times, series.values, as_of, params,
                (by_container or {}).get(name, pod_kills) if resource == "memory" else ())) if series else None
    return out


def _shares(by_container: Mapping[str, Mapping[Resource, Recommendation | None]], resource: Resource,
            hour: int) -> dict[str, float]:
    """Each container's share of the pod's `resource`, from their own recommendations (empty: unknown)."""
    wanted = {c: recs.get(resource) for c, recs in by_container.items()}
    if not wanted or any(rec is None for rec in wanted.values()):
        return {}
    values = {c: rec.request_at(hour) for c, rec in wanted.items() if rec is not None}
    total = sum(values.values())
    return {c: v / total for c, v in values.items()} if total > 0 else {}


def _resource_row(current: float, rec: Recommendation | None, hour: int) -> ResourceRecommendation:
    """One resource's part of a workload's recommendation, as reported (rounded where people read it)."""
    if rec is None:
        return ResourceRecommendation(current, None, None, None, None, 0.0, 0.0, None,
                                      NO_SAMPLES)
    return ResourceRecommendation(
        current=current, recommended=rec.request_at(hour), target=rec.target, lower=rec.lower, upper=rec.upper,
        confidence=round(rec.confidence, 3), history_hours=round(rec.history_hours, 1),
        schedule=tuple(rec.schedule) if rec.schedule else None, reason=rec.reason,
    )


def _instance_change(inp: PassInput, tenant: Tenant, workload: Workload, current: str | None,
                     recommended: str | None) -> InstanceChange | None:
    """What applying an instance-type recommendation changes, and how: a provisioning change, through Pulumi."""
    if recommended is None or recommended == current:
        return None
    template = launch_template_name(inp.config.catalog.environment, tenant.id, workload.name)
    return InstanceChange(
        resource="aws:ec2/launchTemplate:LaunchTemplate", name=template, property="instanceType",
        from_type=current, to_type=recommended,
        apply=(f"set instance_type: {recommended} on workload {workload.name} of tenant {tenant.id} in the "
               f"stack catalogue, then `pulumi up` (launch template {template}; the Auto Scaling group "
               "replaces instances on its next refresh)"),
    )


def _snapshot_replicas(inp: PassInput, tenant: str, workload: str) -> float | None:
    reading = inp.snapshot.reading(tenant, workload, "replicas")
    return float(reading.value) if reading.ok and reading.value else None


def _mean_request(rec: Recommendation) -> float:
    return sum(rec.schedule) / 24.0 if rec.schedule is not None else rec.target


def _fmt(resource: Resource, value: float) -> str:
    return _quantity(resource, value)


def make_decider() -> RightsizingDecider:
    """Factory the engine's decider registry calls."""
    return RightsizingDecider()
