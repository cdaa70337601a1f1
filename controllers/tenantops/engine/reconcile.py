"""One reconciliation pass: observe → decide → act → record, with every failure contained to its subject.

A broken query makes one metric missing; a decider that raises is recorded as an outcome while the
others still decide; an actuator failure is that workload's outcome while the others are still scaled;
only the store itself failing (the disk) fails the pass. The result lists what happened, for the
logs, `--json`, the controller's own metrics and the tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tenantops.act.base import ActOutcome, OutcomeStatus
from tenantops.collector import collector_paused
from tenantops.config.catalog import Tenant
from tenantops.config.loader import Config
from tenantops.decide import alerts as lifecycle
from tenantops.decide.base import Decider, DeciderOutput, PassInput
from tenantops.engine import intents
from tenantops.engine.ceiling import apply_ceiling, ceiling_alert
from tenantops.engine.effects import Actuators, act
from tenantops.engine.inputs import InputProvider, provider_name
from tenantops.engine.settlement import Settlement
from tenantops.engine.write_order import by_urgency
from tenantops.observe.facts import FactChecker
from tenantops.observe.replicas import LiveReplicas, ReplicaReader, live_replicas
from tenantops.observe.source import MetricsSource
from tenantops.record.metrics import ControllerMetrics
from tenantops.record.store import QueuedMessage, StateStore
from tenantops.structs.findings import Findings
from tenantops.structs.plan import EFFECT_FIELDS, Alert, Decision, Effect, Plan, ScaleAction
from tenantops.structs.reports import ReportRequest
from tenantops.structs.requests import RequestPatch
from tenantops.structs.snapshot import Snapshot

if TYPE_CHECKING:
    from tenantops.act.requests import PatchOutcome
    from tenantops.engine.report_effects import ReportOutcome

log = logging.getLogger(__name__)

E = TypeVar("E")

PlanMail = Callable[[Config, Sequence[Alert], datetime], Sequence[QueuedMessage]]
"""The mail of a pass's alert notifications, committed with its plan (`notify.alerting.plan_mail`)."""


@dataclass(frozen=True, slots=True)
class DeciderOutcome:
    name: str
    ok: bool
    detail: str = ""
    actions: int = 0
    alerts: int = 0
    decisions: int = 0
    state_changes: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class PassResult:
    """What one pass saw, decided and did."""

    at: datetime
    dry_run: bool
    tenants: int
    workloads: int
    snapshot: Snapshot
    query_errors: tuple[str, ...]
    deciders: tuple[DeciderOutcome, ...]
    outcomes: tuple[ActOutcome, ...]
    alerts: tuple[Alert, ...]  # the notifications the alert lifecycle let through: what reaches the outbox
    decisions: int
    state_written: int
    active_alerts: tuple[Alert, ...] = ()  # every condition firing now, raised this pass or not (a snoozed one
    # not yet told is left out: Alertmanager, which is posted the set, would page for it)
    patch_outcomes: tuple[PatchOutcome, ...] = ()
    report_outcomes: tuple[ReportOutcome, ...] = ()  # the scheduled report's requests, as the outbox took them
    findings: Findings = field(default_factory=Findings)  # each concern's typed read-only findings
    timings: Mapping[str, float] = field(default_factory=dict)
    plan: Plan | None = None  # what the guard stage let through, as the act stage applied it

    def count(self, status: OutcomeStatus) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def ok(self) -> bool:
        """True when nothing in the pass failed (a degraded pass still completes, but is not ok)."""
        failed = (OutcomeStatus.FAILED, OutcomeStatus.RETRYABLE)
        return (
            not self.query_errors
            and all(d.ok for d in self.deciders)
            and not any(o.status in failed for o in self.outcomes)
            and not any(o.status in failed for o in self.patch_outcomes)
            and not any(o.status in failed for o in self.report_outcomes)
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (no snapshot, no findings payloads)."""
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "ok": self.ok,
            "tenants": self.tenants,
            "workloads": self.workloads,
            "query_errors": list(self.query_errors),
            "deciders": [
                {"name": d.name, "ok": d.ok, "detail": d.detail, "actions": d.actions, "alerts": d.alerts,
                 "decisions": d.decisions, "state_changes": d.state_changes, "seconds": round(d.seconds, 4)}
                for d in self.deciders
            ],
            "actions": {status.value: self.count(status) for status in OutcomeStatus},
            "outcomes": [
                {"tenant": o.action.tenant, "workload": o.action.workload, "target": str(o.action.target),
                 "current": o.action.current, "desired": o.action.desired, "status": o.status.value,
                 "observed": o.observed, "detail": o.detail, "rule": o.action.rule}
                for o in self.outcomes
            ],
            "alerts": [
                {"key": a.key, "tenant": a.tenant, "severity": a.severity.value, "summary": a.summary,
                 "transition": a.transition, "episode": a.episode}
                for a in self.alerts
            ],
            "active_alerts": len(self.active_alerts),
            "patches": [
                {"tenant": o.patch.tenant, "workload": o.patch.workload, "requests": dict(o.patch.requests),
                 "status": o.status.value, "detail": o.detail}
                for o in self.patch_outcomes
            ],
            "reports": [
                {"key": o.request.key, "moment": o.request.moment.isoformat(), "status": o.status.value,
                 "detail": o.detail}
                for o in self.report_outcomes
            ],
            "decisions": self.decisions,
            "state_written": self.state_written,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def restrict(config: Config, tenants: Sequence[Tenant]) -> Config:
    """The same configuration over a subset of tenants (a shard), so deciders only see what this replica owns."""
    if len(tenants) == len(config.tenants):
        return config
    return Config(config.catalog.model_copy(update={"tenants": list(tenants)}), config.policies, config.catalog_path)


class Reconciler:
    """Holds the pass's collaborators; `run_pass` is called once per interval by the runner or CLI."""

    def __init__(
        self,
        source: MetricsSource,
        store: StateStore,
        deciders: Sequence[Decider],
        actuators: Actuators,
        *,
        replica_reader: LiveReplicas | ReplicaReader | None = None,
        metrics: ControllerMetrics | None = None,
        inputs: Sequence[InputProvider] = (),
        mail: PlanMail | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.source = source
        self.inputs = list(inputs)
        self.store = store
        self.deciders = list(deciders)
        self.actuators = actuators  # one per effect type (`engine.root.register_actuators`)
        self.facts = FactChecker(live_replicas(replica_reader))
        # Asked before each actuator call with the call's deadline; a reason means "do not start it".
        # The runner sets it (`Runner.fence`: the Lease's remaining time and the pass's own deadline).
        self.fence: Callable[[float], str | None] | None = None
        # The controller's own conditions for the facts decider to alert on (set by the runner).
        self.notices: dict[str, str] = {}
        # Set by the runner while a catalogue cut short is held (`runner.removals_since_record`): the
        # intents of the tenants it lacks are kept, not dropped, until the removal is confirmed.
        self.hold_removals = False
        self.metrics = metrics
        # The alert mail of each pass, queued in the pass's own record transaction (None: no mail route).
        self.mail = mail
        self._timer = timer

    @property
    def settlement(self) -> Settlement:
        """The one place decider state is committed from an outcome (the act stage's, or an intent's read
        back after a restart), with these deciders' rules over this store's committed state."""
        return Settlement(self.deciders, self.store.state)

    def run_pass(
        self, config: Config, now: datetime, *, dry_run: bool = False, tenants: Sequence[Tenant] | None = None
    ) -> PassResult:
        """Run one pass as of `now`. `tenants` restricts it to a shard (default: the whole catalogue).

        The cyclic garbage collector is paused for the pass (see `collector_paused`): a pass builds large
        acyclic structures (snapshot, plans, audit rows) that repeated full collections would rescan.
        """
        with collector_paused():
            return self._run_pass(config, now, dry_run=dry_run, tenants=tenants)

    def _run_pass(
        self, config: Config, now: datetime, *, dry_run: bool, tenants: Sequence[Tenant] | None
    ) -> PassResult:
        started = self._timer()
        timings: dict[str, float] = {}
        selected = list(config.tenants if tenants is None else tenants)
        scoped = restrict(config, selected)

        if not dry_run and not self.hold_removals:
            self._drop_intents_of_removed(config, now)
            self._recover(selected, now)
        snapshot = self._observe(scoped, now, selected)
        timings["observe"] = self._timer() - started

        mark = self._timer()
        inp = self._inputs(PassInput(snapshot=snapshot, config=scoped, now=now, dry_run=dry_run,
                                      notices=dict(self.notices)))
        outputs, outcomes_by_decider, decisions = self._decide(inp)
        timings["decide"] = self._timer() - mark

        # Guard: the rules over the whole plan, each once: one writer per workload, the global ceiling, the
        # order the writes are made in (most urgent first: `write_order`), then the alert lifecycle over
        # every alert (the guard's own included). Its output is the Plan.
        mark = self._timer()
        actions = _merge_actions(outputs, now, decisions)
        ceiling = config.policies.controller.global_replica_ceiling
        actions, held = apply_ceiling(actions, _replicas_now(snapshot), ceiling, now)
        actions = by_urgency(actions)
        decisions.extend(held)
        guard_alerts = (ceiling_alert(held, ceiling),) if held else ()
        alerting = self._alert_lifecycle(outputs, scoped, now, guard_alerts)
        decisions.extend(alerting.decisions)
        plan = Plan(
            at=now, scale=tuple(actions), patches=_marked(outputs, RequestPatch),
            reports=_marked(outputs, ReportRequest), alerts=alerting.notifications,
            decisions=tuple(decisions),
            findings=Findings.of(out.findings for out in outputs.values() if out.findings is not None),
        )
        timings["guard"] = self._timer() - mark

        # Record: the plan, the state it implies, one intent per write and the alert mail the lifecycle let
        # through, in one transaction before any actuator call. If this commit fails (database
        # unreachable, disk full, no longer the writer) the pass raises here and acts on nothing, and the
        # alert episodes it advanced are not advanced, so their mail comes with the next pass that records.
        # A dry run keeps decider state as it was (it must not change what the live controller does next)
        # and makes no writes, so it records no intents and queues no mail.
        mark = self._timer()
        changes: dict[str, dict[str, Any]] = {} if dry_run else {
            name: dict(out.state) for name, out in outputs.items() if out.state}
        if alerting.changes and not dry_run:
            changes[lifecycle.STATE] = dict(alerting.changes)
        pending: dict[str, Any] = {} if dry_run else self.actuators.intents(plan, now)
        if pending:
            changes[intents.STATE] = pending
        messages = self._mail(config, plan.alerts, now) if not dry_run else ()
        planned = self.store.commit(changes, decisions, messages=messages)
        timings["record"] = self._timer() - mark

        # Act: every effect of the plan through the actuator registered for its type, each call fenced.
        mark = self._timer()
        acted = act(plan, self.actuators, dry_run=dry_run, fence=self.fence, now=now)
        timings["act"] = self._timer() - mark

        # Record the outcomes: each clears its intent, with the decider state they confirm: every effect a
        # decider proposed that names a key of its state, settled from what became of it (a scale change is a
        # scale event only if its write was made; a patch's state only once its requests are in effect).
        mark = self._timer()
        after: dict[str, dict[str, Any]] = {intents.STATE: {key: None for key in pending}} if pending else {}
        settled = {} if dry_run else self.settlement.of_pass(_proposed(outputs), acted.confirmed, now)
        for namespace, values in settled.items():
            after.setdefault(namespace, {}).update(values)
        recorded = self.store.commit(after, acted.rows)
        decisions.extend(acted.rows)
        timings["record"] += self._timer() - mark
        timings["total"] = self._timer() - started
        twice = sum(1 for namespace, values in settled.items() for key in values if key in changes.get(namespace, {}))
        written = (planned.keys_written + planned.keys_deleted + recorded.keys_written + recorded.keys_deleted
                   - 2 * len(pending)  # intents are bookkeeping, not decider state
                   - twice)  # a key committed with the plan and settled after is one change, written twice

        result = PassResult(
            at=now, dry_run=dry_run, tenants=len(selected), workloads=len(snapshot), snapshot=snapshot,
            query_errors=snapshot.errors, deciders=tuple(outcomes_by_decider), outcomes=acted.of(ScaleAction),
            alerts=plan.alerts, decisions=planned.audit_rows + recorded.audit_rows,
            state_written=max(0, written), findings=plan.findings, timings=timings,
            active_alerts=alerting.active, patch_outcomes=acted.of(RequestPatch),
            report_outcomes=acted.of(ReportRequest), plan=plan,
        )
        self._export(result, decisions, acted.labels)
        log.info(
            "pass %s: %d tenants, %d workloads, %d query errors, %d actions (%s), %d decisions in %.3fs",
            now.isoformat(), result.tenants, result.workloads, len(result.query_errors), len(result.outcomes),
            ", ".join(f"{s.value}={result.count(s)}" for s in OutcomeStatus if result.count(s)) or "none",
            result.decisions, timings["total"],
        )
        return result

    # -- stages --------------------------------------------------------------------------------------

    def _recover(self, tenants: Sequence[Tenant], now: datetime) -> list[Decision]:
        """Intents a stopped controller left without outcome, read against the live state and audited
        before this pass decides anything (their writes may or may not have happened)."""
        pending = self.store.state(intents.STATE)
        if not pending:
            return []
        changes, rows = intents.recover(pending, self.actuators, {t.id for t in tenants}, now, self.settlement)
        if changes or rows:
            self.store.commit(changes, rows)
            for row in rows:
                log.warning("%s/%s: %s: %s", row.tenant, row.workload, row.rule, row.reason,
                            extra={"event": f"intent.{row.rule}", "tenant": row.tenant, "workload": row.workload})
        return rows

    def _drop_intents_of_removed(self, config: Config, now: datetime) -> list[Decision]:
        """Intents of tenants no longer in the catalogue (`config`, all of it, whatever this pass's shard)
        are cleared with an audit row each, never read back nor acted on (`intents.dropped`)."""
        gone = intents.removed(self.store.state(intents.STATE), {t.id for t in config.tenants})
        if not gone:
            return []
        rows = self.store.discard(intents.STATE, gone, lambda key, value: intents.dropped(key, value, now))
        for row in rows:
            log.warning("%s/%s: %s: %s", row.tenant, row.workload, row.rule, row.reason,
                        extra={"event": "intent.dropped", "tenant": row.tenant, "workload": row.workload})
        return rows

    def _observe(self, config: Config, now: datetime, tenants: Sequence[Tenant]) -> Snapshot:
        """The metrics source's snapshot, then the facts step: live counts, sane values, holds."""
        return self.facts.establish(self.source.observe(config, now, tenants), config, tenants, now)

    def _inputs(self, inp: PassInput) -> PassInput:
        """Each input provider adds its part; one that fails leaves its input at the default, logged."""
        for provide in self.inputs:
            try:
                inp = provide(inp, self.store.state)
            except Exception:
                log.exception("pass input %s failed; the pass goes on without it", provider_name(provide))
        return inp

    def _decide(
        self, inp: PassInput
    ) -> tuple[dict[str, DeciderOutput], list[DeciderOutcome], list[Decision]]:
        outputs: dict[str, DeciderOutput] = {}
        outcomes: list[DeciderOutcome] = []
        decisions: list[Decision] = []
        for decider in self.deciders:
            mark = self._timer()
            try:
                out = decider.decide(inp, self.store.state(decider.name))
                if not isinstance(out, DeciderOutput):
                    raise TypeError(f"returned {type(out).__name__}, not DeciderOutput")
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"
                log.exception("decider %s failed; the other deciders continue", decider.name)
                outcomes.append(DeciderOutcome(decider.name, False, detail, seconds=self._timer() - mark))
                decisions.append(Decision(inp.now, None, None, "error", f"decider:{decider.name}",
                                          f"decider {decider.name} failed: {detail}"[:1000]))
                if self.metrics is not None:
                    self.metrics.decider_failures.labels(decider.name).inc()
                continue
            outputs[decider.name] = out
            decisions.extend(out.decisions)
            outcomes.append(DeciderOutcome(
                decider.name, True, actions=len(out.scale), alerts=len(out.alerts), decisions=len(out.decisions),
                state_changes=len(out.state), seconds=self._timer() - mark,
            ))
        return outputs, outcomes, decisions

    def _alert_lifecycle(
        self, outputs: Mapping[str, DeciderOutput], config: Config, now: datetime, guard: Sequence[Alert] = ()
    ) -> lifecycle.Lifecycle:
        """The alert guard over the whole plan: every decider's alerts and the guard stage's own,
        deduplicated by episode, snoozed, escalated and resolved by one rule (`decide.alerts.advance`)."""
        raised = [lifecycle.Raised(name, out.alerts, out.cleared) for name, out in outputs.items()]
        raised.append(lifecycle.Raised("guard", guard))
        legacy_decider, legacy_key = lifecycle.LEGACY_STATE
        legacy = self.store.state(legacy_decider).get(legacy_key)
        return lifecycle.advance(self.store.state(lifecycle.STATE), raised, config, now,
                                 {t.id for t in config.tenants}, legacy if isinstance(legacy, Mapping) else None)

    def _mail(self, config: Config, alerts: Sequence[Alert], now: datetime) -> Sequence[QueuedMessage]:
        if self.mail is None or not alerts:
            return ()
        try:
            return self.mail(config, alerts, now)
        except Exception:  # a mail that cannot be composed must not stop the pass acting
            log.exception("alert mail of %d notification(s) could not be composed; not queued", len(alerts))
            return ()

    def _export(self, result: PassResult, decisions: Sequence[Decision],
                acted: Sequence[tuple[str, OutcomeStatus]]) -> None:
        m = self.metrics
        if m is None:
            return
        m.pass_duration.observe(result.timings.get("total", 0.0))
        m.passes.labels("ok" if result.ok else "degraded").inc()
        m.query_errors.inc(len(result.query_errors))
        by_kind: dict[str, int] = {}
        for d in decisions:
            by_kind[d.kind] = by_kind.get(d.kind, 0) + 1
            if d.kind == "breaker":
                m.breaker_trips.labels(d.rule).inc()
        for kind, n in by_kind.items():
            m.decisions.labels(kind).inc(n)
        for target, status in acted:
            m.actuations.labels(target, status.value).inc()
        m.tenants.set(result.tenants)
        m.workloads.set(result.workloads)
        m.state_keys.set(self.store.key_count())
        m.last_success.set(result.at.timestamp())


def _merge_actions(outputs: Mapping[str, DeciderOutput], now: datetime, decisions: list[Decision]) -> list[ScaleAction]:
    """One action per workload, marked with the concern that asked: if two deciders both want to scale it,
    the first registered wins and the other is recorded as a skip, because two writers on one replica
    count would fight every pass."""
    chosen: dict[tuple[str, str], tuple[str, ScaleAction]] = {}
    for name, out in outputs.items():
        for action in out.scale:
            key = (action.tenant, action.workload)
            if key in chosen:
                winner = chosen[key][0]
                decisions.append(Decision(now, action.tenant, action.workload, "skip", f"conflict:{name}",
                                          f"{name} also wanted {action.desired} replicas; {winner} decides",
                                          action.current, action.desired))
                continue
            chosen[key] = (name, action)
    return [replace(action, concern=name) for name, action in chosen.values()]


def _marked(outputs: Mapping[str, DeciderOutput], kind: type[E]) -> tuple[E, ...]:
    """Every decider's effects of one type but scale actions (which the guard stage merges first: request
    patches, report requests), each marked with the concern whose state its outcome settles."""
    return tuple(replace(effect, concern=name)  # type: ignore[type-var]
                 for name, out in outputs.items() for effect in out.effects(kind))


def _proposed(outputs: Mapping[str, DeciderOutput]) -> list[Effect]:
    """Every effect each decider proposed, of every Plan effect type, marked with the concern that asked
    (including those the guard stage then left out of the plan)."""
    return [replace(effect, concern=name) for name, out in outputs.items() for kind in EFFECT_FIELDS
            for effect in out.effects(kind)]


def _replicas_now(snapshot: Snapshot) -> int:
    """Replicas running now across the snapshot's workloads (those whose count is known)."""
    total = 0
    for workload in snapshot:
        reading = workload.get("replicas")
        if reading.ok and reading.value is not None:
            total += int(reading.value)
    return total
