"""The contract between the reconciliation pass and each concern that decides something in it.

Each concern (autoscaling, right-sizing, cost, alerts) is a `Decider`: given one pass's inputs and its
own prior state it returns actions, alerts, audit decisions, its typed findings (`structs.findings`) and
the state keys it changed.
The engine persists state between passes and across restarts; deciders never touch storage or clocks,
which is what lets `simulate` and the tests replay them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

from tenantops.config.loader import Config
from tenantops.structs.findings import Finding
from tenantops.structs.network import NetworkEgress
from tenantops.structs.plan import EFFECT_FIELDS, Alert, Decision, Effect, ScaleAction
from tenantops.structs.reports import ReportRequest
from tenantops.structs.requests import RequestPatch
from tenantops.structs.snapshot import Snapshot
from tenantops.structs.usage import UsageHistory

JsonValue = Any
"""A value the engine can store as JSON (dicts, lists, str, numbers, bool, None)."""

E = TypeVar("E")


@dataclass(frozen=True)
class PassInput:
    """Everything a decider may look at in one pass. `now` is the pass's time; never read the clock.

    Besides the snapshot, the pass carries inputs the composition root's input providers add before the
    deciders run (`engine.root`): slow ones refreshed less often than every pass (`usage_history`, from
    range queries over days), the network egress of the interval the cost decider charges (`network`) and
    other concerns' committed state from earlier passes (`spend_mtd_usd`, the
    cost ledger's month-to-date), so no decider reads another's output of the same pass or is handed
    anything by having an attribute set on it.
    """

    snapshot: Snapshot
    config: Config
    now: datetime
    dry_run: bool = False
    usage_history: UsageHistory | None = None
    spend_mtd_usd: Mapping[str, float] = field(default_factory=dict)
    # Each pooled tenant's network egress over the interval the cost decider charges (`observe.network`);
    # None: no reader in this controller (network transfer is then not measured).
    network: NetworkEgress | None = None
    # The controller's own conditions a person must hear about, by cause (a catalogue reload held for
    # confirmation): the facts decider alerts on them.
    notices: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeciderOutput:
    """One decider's part of the pass's plan.

    `alerts` are the conditions that hold now, raised every pass while they hold: the engine's lifecycle
    stage decides whether anyone hears about them. `cleared` says how absence is read: None means the
    decider evaluated everything it can raise, so an alert it raised before and not now has cleared; a
    tuple lists the only keys it evaluated and found clear.
    """

    scale: tuple[ScaleAction, ...] = ()
    patches: tuple[RequestPatch, ...] = ()  # request patches; each carries the state its applied outcome implies
    reports: tuple[ReportRequest, ...] = ()  # report requests; each carries the state its recording implies
    alerts: tuple[Alert, ...] = ()
    cleared: tuple[str, ...] | None = None
    decisions: tuple[Decision, ...] = ()
    findings: Finding | None = None  # the concern's read-only conclusions (typed; JSON only at the edges)
    # Only the state keys that changed this pass: key -> new JSON value, or None to delete the key.
    state: Mapping[str, JsonValue] = field(default_factory=dict)

    def effects(self, kind: type[E]) -> tuple[E, ...]:
        """This output's effects of one type (a Plan's effect type, `structs.plan.EFFECT_FIELDS`)."""
        found: tuple[E, ...] = getattr(self, EFFECT_FIELDS[kind])
        return found


class Decider(Protocol):
    """One concern's decision step. `name` namespaces its state."""

    name: str

    def decide(self, inp: PassInput, state: Mapping[str, JsonValue]) -> DeciderOutput: ...


class Keep:
    """The value of `KEEP`: a confirmation rule's answer "store nothing", distinct from every JSON value
    (None included, which deletes a key)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = Keep()
"""A confirmation rule's answer when the outcome changes nothing in the concern's state."""


ConfirmRule = Callable[[Effect, Effect | None, datetime, JsonValue, bool], JsonValue]
"""(effect as proposed, effect as made or None, the pass that decided it, its key's committed value,
whether it was tried) -> the key's value to commit, or `KEEP`: one concern's rule of what an outcome
confirms."""


def confirm_applied(proposed: Effect, made: Effect | None, at: datetime, state: JsonValue,
                    tried: bool = True) -> JsonValue:
    """The confirmation rule of a concern that has none of its own (`Confirms`): a request patch names the
    state its application implies (`on_applied`), committed once the requests are in effect, and what its
    failure implies (`on_failed`, right-sizing's retry backoff), committed when the API server refused it
    or its attempt failed, and never for a patch not tried (fenced by the Lease or the pass's deadline, no
    client, left out of the plan): a patch never sent is no failure, and starts or lengthens no backoff. A
    report request names the state its recording implies, committed once it is in the outbox. Nothing else
    is stored, made or not (a patch without `on_failed` or not tried, a request not recorded, is proposed
    again next pass)."""
    if made is not None and isinstance(proposed, RequestPatch | ReportRequest):
        return proposed.on_applied
    if made is None and tried and isinstance(proposed, RequestPatch) and proposed.on_failed is not None:
        return proposed.on_failed
    return KEEP


@runtime_checkable
class Confirms(Protocol):
    """A concern whose state waits on the outcome of its effects in its own way (the autoscaler: the scale
    change its `decide` left proposed in the rate-limit periods of the action's `state_key`).

    The engine commits a concern's state from an effect's outcome in one place, for every effect type
    (`engine.settlement`): it commits the state `decide` returned with the plan, acts, and then asks the
    concern's rule, for each effect that names a `state_key`, what that key becomes. `made` is the effect
    as it took effect (a scale write from the count it started at, to the count written), None when
    nothing was (failed, refused, fenced or skipped, held at the current count by the guard stage, lost to
    another decider, or read back after a restart as not made). `tried` is False when nothing was asked of
    the target either (fenced or skipped, no client, lost to another decider; the actuator tells which
    outcomes those are), so nothing refused it. `state` is the key's committed value (None when the key is
    gone). The rule is pure; it answers `KEEP` to store nothing. A concern without this
    method has `confirm_applied`.
    """

    name: str

    def confirm(self, proposed: Effect, made: Effect | None, at: datetime, state: JsonValue,
                tried: bool = True) -> JsonValue: ...
