"""The contract between the reconciliation pass and each concern that decides something in it.

Each concern (autoscaling, right-sizing, cost, alerts) is a `Decider`: given one pass's inputs and its
own prior state it returns actions, alerts, audit decisions, its typed findings (`structs.findings`) and
the state keys it changed.
The engine persists state between passes and across restarts; deciders never touch storage or clocks,
which is what lets `simulate` and the tests replay them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from tenantops.config.loader import Config
from tenantops.structs.findings import Finding
from tenantops.structs.plan import Alert, Decision, ScaleAction
from tenantops.structs.requests import RequestPatch
from tenantops.structs.snapshot import Snapshot
from tenantops.structs.usage import UsageHistory

JsonValue = Any
"""A value the engine can store as JSON (dicts, lists, str, numbers, bool, None)."""


@dataclass(frozen=True)
class PassInput:
    """Everything a decider may look at in one pass. `now` is the pass's time; never read the clock.

    Besides the snapshot, the pass carries inputs the composition root's input providers add before the
    deciders run (`engine.root`): slow ones refreshed less often than every pass (`usage_history`, from
    range queries over days) and other concerns' committed state from earlier passes (`spend_mtd_usd`, the
    cost ledger's month-to-date), so no decider reads another's output of the same pass or is handed
    anything by having an attribute set on it.
    """

    snapshot: Snapshot
    config: Config
    now: datetime
    dry_run: bool = False
    usage_history: UsageHistory | None = None
    spend_mtd_usd: Mapping[str, float] = field(default_factory=dict)
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
    alerts: tuple[Alert, ...] = ()
    cleared: tuple[str, ...] | None = None
    decisions: tuple[Decision, ...] = ()
    findings: Finding | None = None  # the concern's read-only conclusions (typed; JSON only at the edges)
    # Only the state keys that changed this pass: key -> new JSON value, or None to delete the key.
    state: Mapping[str, JsonValue] = field(default_factory=dict)


class Decider(Protocol):
    """One concern's decision step. `name` namespaces its state."""

    name: str

    def decide(self, inp: PassInput, state: Mapping[str, JsonValue]) -> DeciderOutput: ...


@runtime_checkable
class SettlesScale(Protocol):
    """A decider whose state remembers the scale changes it made (the autoscaler's rate-limit periods).

    Its `decide` leaves each change it asks for proposed in the state of the action's `state_key`; the
    engine commits that state with the plan, acts, and then settles every such action from what became of
    its write: `change` is the replicas the write moved (applied: desired minus the count it started
    from), 0 when nothing was written (failed, refused, fenced or skipped, held by the guard stage, lost
    to another decider, or read back after a restart as not made). `settle` is pure: the stored value in,
    the value to store out; None in (the key is gone) gives None (nothing to store).
    """

    name: str

    def settle(self, state: JsonValue, at: datetime, change: int) -> JsonValue: ...
