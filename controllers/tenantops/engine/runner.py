"""`tenantops run`: repeat the pass every interval (plus jitter) until told to stop.

- Stopping: SIGTERM/SIGINT set a flag; a pass in progress finishes (its actions and audit rows land
  together) and the loop exits 0. The wait between passes is interruptible, so stopping is immediate
  when idle.
- Hot reload: before each pass the catalogue file and every policy file are fingerprinted (mtime,
  size); on a change the configuration is loaded again. An invalid edit is logged issue by issue and
  the last good configuration keeps running, so a typo in a policy can never stop the controller. A
  valid edit that removes more than `max_removed_share` of the tenants at once (a catalogue cut short
  at a tenant boundary is valid YAML) is held the same way, and alerted, until confirmed
  (`confirm_removals`, `tenantops run --confirm-removals`). A catalogue that was cut short while no
  controller ran has no last good configuration to keep: it is measured against the tenants of the last
  catalogue a writer accepted (recorded in the state, `CATALOGUE`), and until confirmed the tenants it
  lacks keep their queued mail and intents (`removals_since_record`, alert `controller-removals-held`).
- Leadership: with a leader hook, only the replica whose `try_acquire()` is true acts; the others keep
  their configuration fresh and wait. The hook is released on exit so a successor need not wait for
  the lease to expire.
- Sharding: a tenant filter (called each pass) selects the tenants this replica reconciles.
- Pre-pass hooks run just before the pass, with its configuration and `now`, only on a replica that
  acts. Slow inputs are not hooks: they are the reconciler's input providers (`engine.inputs`).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Protocol

from tenantops.config.catalog import Tenant
from tenantops.config.errors import ConfigError
from tenantops.config.loader import Config, load_config, policy_files
from tenantops.engine.reconcile import PassResult, Reconciler
from tenantops.record.http import Health
from tenantops.record.metrics import ControllerMetrics
from tenantops.signals import from_signal

log = logging.getLogger(__name__)


class LeaderHook(Protocol):
    """Leader election as the runner sees it (a Kubernetes Lease in production)."""

    def try_acquire(self) -> bool:
        """Acquire or renew; True while this replica may act."""
        ...

    def release(self) -> None: ...


class TimedLeaderHook(LeaderHook, Protocol):
    """An elector that can say how long its Lease still holds (`engine.lease`), for fencing each call."""

    def remaining(self) -> float: ...


TenantFilter = Callable[[Tenant], bool]
PrePassHook = Callable[[Config, datetime], None]
"""Called with the configuration and `now` of the pass about to run."""


def fingerprint(catalog: str | Path, policies: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime_ns, size) of the catalogue and every policy file: cheap enough to check every pass."""
    paths = [Path(catalog)]
    root = Path(policies)
    if root.is_dir():
        paths.extend(policy_files(root))
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), -1, -1))
    return tuple(out)


def mass_removal(old: Config, new: Config) -> str | None:
    """Why a reload from `old` to `new` must wait for confirmation (too many tenants gone at once), or None."""
    return _too_many_gone({t.id for t in old.tenants}, new, "the new catalogue")


def _too_many_gone(before: set[str], new: Config, what: str) -> str | None:
    gone = sorted(before - {t.id for t in new.tenants})
    share = new.policies.controller.max_removed_share
    if not before or len(gone) <= share * len(before):
        return None
    sample = ", ".join(gone[:10]) + (f" and {len(gone) - 10} more" if len(gone) > 10 else "")
    return (f"{what} removes {len(gone)} of {len(before)} tenants ({sample}), more than"
            f" max_removed_share {share:.0%}; confirm with --confirm-removals")


CATALOGUE = "catalogue"
"""The state concern holding `tenants`: the ids of the last catalogue a writer accepted."""


def removals_since_record(recorded: object, config: Config) -> str | None:
    """Why the tenants `config` lacks must keep their queued mail and intents until confirmed: more than
    `max_removed_share` of the recorded catalogue's tenants are gone (`recorded` is the state's list; None
    or not a list: nothing recorded yet, nothing to hold)."""
    if not isinstance(recorded, list):
        return None
    return _too_many_gone({str(t) for t in recorded}, config, "the catalogue, against the last one accepted,")


@dataclass(frozen=True, slots=True)
class ShardGroup:
    """The shard Leases a sharded leader hook acts under: their group (`prefix`, `shards` of them, in
    `namespace`), its identity, and `terms()`, the Leases it holds now with the term of each hold."""

    prefix: str
    shards: int
    identity: str
    namespace: str | None
    terms: Callable[[], Mapping[str, int]]


@dataclass
class RunStats:
    passes: int = 0
    failed_passes: int = 0
    skipped_not_leader: int = 0
    reloads: int = 0
    rejected_reloads: int = 0
    held_reloads: int = 0
    last: PassResult | None = None


class Runner:
    def __init__(
        self,
        reconciler: Reconciler,
        config: Config,
        *,
        catalog: str | Path,
        policies: str | Path,
        dry_run: bool = False,
        leader: LeaderHook | None = None,
        tenant_filter: TenantFilter | None = None,
        health: Health | None = None,
        metrics: ControllerMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        on_pass: Sequence[Callable[[PassResult], None]] = (),
        before_pass: Sequence[PrePassHook] = (),
        confirm_removals: bool = False,
    ) -> None:
        self.reconciler = reconciler
        self.config = config
        self.catalog = catalog
        self.policies = policies
        self.dry_run = dry_run
        self.leader = leader
        self.tenant_filter = tenant_filter
        self.health = health
        self.metrics = metrics
        self.clock = clock
        self.rng = rng or random.Random()
        self.on_pass = list(on_pass)
        self.before_pass = list(before_pass)
        self.stats = RunStats()
        self._stop = threading.Event()
        self._fingerprint = fingerprint(catalog, policies)
        self._leading = False
        self._term: object = None  # the leader hook's `term` when this replica last became the writer
        self._tick_started = time.monotonic()
        self._calls_started = 0  # actuator calls this pass has let start (see `may_act`)
        self.confirm_removals = confirm_removals

    # -- control -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to exit after the current pass (safe from signal handlers and other threads)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        def stop_after(signum: int) -> None:
            log.warning("received %s: finishing the current pass, then exiting", signal.Signals(signum).name)
            self.stop()

        def handler(signum: int, frame: FrameType | None) -> None:
            from_signal(lambda: stop_after(signum), "tenantops-stop")  # never set the event on this thread

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- loop ----------------------------------------------------------------------------------------

    def run(self, max_passes: int | None = None) -> int:
        """Loop until stopped (or `max_passes` passes have run). Returns the process exit code (0)."""
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.tick()
                if max_passes is not None and self.stats.passes + self.stats.skipped_not_leader >= max_passes:
                    break
                delay = self.next_delay(time.monotonic() - started)
                if self._stop.wait(delay):
                    break
        finally:
            self._release()
        log.info("stopped after %d passes", self.stats.passes)
        return 0

    def next_delay(self, elapsed: float) -> float:
        """Interval plus a random jitter, minus the time the pass took: replicas and restarts spread out
        instead of hitting Prometheus in lockstep, and a slow pass does not push every later one back."""
        ctl = self.config.policies.controller
        return max(0.0, ctl.interval_seconds + self.rng.uniform(0, ctl.jitter_seconds) - elapsed)

    def tick(self) -> PassResult | None:
        """Reload if needed, check leadership, run one pass. Never raises for a pass failure."""
        if self.health is not None:
            self.health.beat()
        self.maybe_reload()
        if self.leader is not None:
            try:
                leading = self.leader.try_acquire()
            except Exception:
                log.exception("leader election failed; not acting this pass")
                leading = False
            # A new term of an elector that counts them is a new leadership too: a replica stalled past its
            # Lease while another took it over and handed it back takes it again without ever having
            # answered False, and the writer's generation in the store is now the other's.
            term = getattr(self.leader, "term", None)
            if leading != self._leading:
                log.warning("leadership %s", "acquired" if leading else "lost or not held")
            if self._shard_group() is not None:  # which shards it holds may change at any tick
                leading = self._fence_shards(leading)
            elif leading != self._leading or (leading and term != self._term):
                leading = self._fence(leading)
            self._leading = leading
            self._term = term if leading else None
            if self.metrics is not None:
                self.metrics.leader.set(1 if leading else 0)
            if not leading:
                self.stats.skipped_not_leader += 1
                if self.health is not None:
                    self.health.set_ready(True, "standby")
                return None
        tenants = self._selected()
        now = self.clock()
        if not self._hold_removals():
            self._drop_mail_of_removed(now)
        self._tick_started = time.monotonic()
        self._calls_started = 0
        self.reconciler.fence = self.may_act
        for prepare in self.before_pass:
            try:
                prepare(self.config, now)
            except Exception:
                log.exception("pre-pass hook %r failed", prepare)
        try:
            result = self.reconciler.run_pass(self.config, now, dry_run=self.dry_run, tenants=tenants)
        except Exception as exc:
            self.stats.failed_passes += 1
            log.exception("pass failed; retrying next interval")
            if self.metrics is not None:
                self.metrics.passes.labels("failed").inc()
            if self.health is not None and self.stats.passes == 0:
                self.health.set_ready(False, f"pass failed: {type(exc).__name__}")
            return None
        self.stats.passes += 1
        self.stats.last = result
        if self.health is not None:
            self.health.beat()
            self.health.set_ready(True)
        for hook in self.on_pass:
            try:
                hook(result)
            except Exception:
                log.exception("post-pass hook %r failed", hook)
        return result

    def _hold_removals(self) -> bool:
        """Whether the tenants the catalogue in effect lacks keep their queued mail and intents this pass
        (told to the reconciler, and alerted, through its notices); otherwise the catalogue is recorded as
        the last one accepted. A dry run holds and records nothing."""
        if self.dry_run:
            return False
        store = self.reconciler.store
        recorded = store.state(CATALOGUE).get("tenants")
        held = None if self.confirm_removals else removals_since_record(recorded, self.config)
        self.reconciler.hold_removals = held is not None
        if held is not None:
            if "removals-held" not in self.reconciler.notices:
                log.error("removals held: %s; the missing tenants keep their queued mail and intents", held)
            self.reconciler.notices["removals-held"] = held
            return True
        self.reconciler.notices.pop("removals-held", None)
        current = sorted(t.id for t in self.config.tenants)
        if recorded == current:
            return False
        try:
            store.commit({CATALOGUE: {"tenants": current}})
        except Exception as exc:  # the pass reports a state store it cannot write; this is not worth a traceback
            log.warning("recording the catalogue's tenants failed (%s); trying again next pass", exc)
        return False

    def _drop_mail_of_removed(self, now: datetime) -> None:
        """Pending mail about tenants no longer in the catalogue in effect is dropped, with audit rows
        (`StateStore.drop_mail_of_removed`). Checked before every pass the writer runs, not only after a
        reload or at start-up: mail queued for a tenant by the delivery worker just as a reload removed it
        goes too. A held reload keeps the old catalogue, so its tenants keep their mail."""
        if self.dry_run:
            return
        try:
            dropped = self.reconciler.store.drop_mail_of_removed([t.id for t in self.config.tenants], now)
        except Exception:
            log.exception("dropping the mail of removed tenants failed; trying again next pass")
            return
        for row in dropped:
            log.warning("%s: %s", row.tenant, row.reason, extra={"event": "outbox.dropped", "tenant": row.tenant})

    def _fence(self, leading: bool) -> bool:
        """On becoming leader: take the writer's generation in the state store and reload the committed
        state, so the first pass starts where the previous leader's last commit left off and that leader
        can commit nothing more. On losing it: refuse commits at once. A single-Lease elector (one with
        `name`, `identity` and `is_leader`); shard Leases are fenced per shard (`_fence_shards`). Any other
        hook reloads the committed state when it comes to lead, unfenced."""
        store = self.reconciler.store
        name, identity = getattr(self.leader, "name", None), getattr(self.leader, "identity", None)
        if not isinstance(name, str) or not isinstance(identity, str) or not hasattr(self.leader, "is_leader"):
            if not leading:
                return False
            try:
                store.reload()
            except Exception:
                log.exception("cannot read the committed state; not acting this pass")
                return False
            return True
        if not leading:
            store.release_writer()
            return False
        try:
            namespace = getattr(self.leader, "namespace", None)
            token = store.acquire_writer(identity, name, namespace if isinstance(namespace, str) else None)
        except Exception:
            log.exception("cannot take over as the state store's writer; not acting this pass")
            return False
        store.lease_check = lambda: bool(getattr(self.leader, "is_leader", False))
        log.warning("writer of %s, generation %d: state reloaded (%d keys)", store.name, token.generation,
                    store.key_count())
        return True

    def _shard_group(self) -> ShardGroup | None:
        """The shard group the leader hook acts in when it holds shard Leases (`ShardedElector`, a one-off
        pass's `AllShards`); None for any other hook."""
        leader = self.leader
        prefix, shards = getattr(leader, "prefix", None), getattr(leader, "shards", None)
        identity, namespace = getattr(leader, "identity", None), getattr(leader, "namespace", None)
        terms = getattr(leader, "terms", None)
        if not (callable(terms) and isinstance(prefix, str) and isinstance(shards, int) and isinstance(identity, str)):
            return None
        return ShardGroup(prefix, shards, identity, namespace if isinstance(namespace, str) else None, terms)

    def _fence_shards(self, leading: bool) -> bool:
        """Every tick of a sharded replica: commit as the writer of exactly the shard Leases it holds now, the
        single leader's rule per shard (`StateStore.hold_shards`). A shard taken over takes the next
        generation of its Lease's row, so the replica that held it before (stalled past its Lease, cut off)
        commits nothing more, not even the pass it had begun; and its tenants' state is reloaded, since it is
        what their last owner committed, not what this replica read at its start. The group is recorded with
        it, so that a one-off pass on this state acts only under the group's Leases. A shard shed or lost is
        dropped from the tokens; no shard held refuses every commit. False (not acting this pass) when the
        generations cannot be written."""
        group = self._shard_group()
        assert group is not None
        store = self.reconciler.store
        if not leading:
            store.release_writer()
            return False
        terms = group.terms
        held = terms()
        try:
            took = store.hold_shards(group.identity, group.prefix, group.shards, group.namespace, held)
        except Exception:
            log.exception("cannot take the generations of the shards held in the state; not acting this pass")
            return False
        if took:
            log.warning("shards %s held: state reloaded from %s (%d keys)", ", ".join(sorted(held)), store.name,
                        store.key_count())
        names = frozenset(held)
        store.lease_check = lambda: names <= terms().keys()
        return True

    def may_act(self, call_deadline: float) -> str | None:
        """Asked before each actuator call: None when it may start, else why not.

        Not when the Lease this replica acts under ends before the call's deadline (another replica may
        hold it by the time the write lands), and not when the pass has outrun its interval (the next pass
        is due with fresher facts; the rest of this one is skipped and each skip says so), except for the
        pass's first call: the plan's most urgent write (`engine.write_order`). A controller whose passes
        all outrun their interval (a loaded node, a slow Prometheus) skipped every write of every pass, and
        the next pass, as slow, skipped them again: a pooled workload's 1 -> 2 went unmade for nine minutes.
        One write a pass keeps it scaling what matters most; the Lease still fences every call.
        """
        remaining = getattr(self.leader, "remaining", None)
        if self.leader is not None and callable(remaining):
            left = float(remaining())
            if left < call_deadline:
                return f"the lease has {max(left, 0.0):.1f}s left, less than the call's {call_deadline:.1f}s deadline"
        ctl = self.config.policies.controller
        elapsed = time.monotonic() - self._tick_started
        if elapsed > ctl.interval_seconds + ctl.jitter_seconds and self._calls_started > 0:
            return f"the pass has run {elapsed:.1f}s, past its {ctl.interval_seconds:g}s interval"
        self._calls_started += 1
        return None

    def _selected(self) -> list[Tenant] | None:
        if self.tenant_filter is None:
            return None
        return [t for t in self.config.tenants if self.tenant_filter(t)]

    def maybe_reload(self) -> bool:
        """Reload on a changed fingerprint; True if a new configuration is now in effect."""
        current = fingerprint(self.catalog, self.policies)
        if current == self._fingerprint:
            return False
        self._fingerprint = current
        try:
            config = load_config(self.catalog, self.policies)
        except ConfigError as exc:
            self.stats.rejected_reloads += 1
            if self.metrics is not None:
                self.metrics.reload_failures.inc()
            log.error("configuration change rejected (%d issue(s)); keeping the last good configuration",
                      len(exc.issues))
            for issue in exc.issues:
                log.error("  %s", issue)
            return False
        held = None if self.confirm_removals else mass_removal(self.config, config)
        if held is not None:
            self.stats.held_reloads += 1
            if self.metrics is not None:
                self.metrics.reload_failures.inc()
            log.error("configuration change held: %s; keeping the last good configuration", held)
            self.reconciler.notices["reload-held"] = held
            return False
        self.reconciler.notices.pop("reload-held", None)
        self.config = config
        self.stats.reloads += 1
        log.warning("configuration reloaded: %d tenants", len(config.tenants))
        return True

    def _release(self) -> None:
        if self.leader is not None and self._leading:
            try:
                self.leader.release()
            except Exception:
                log.exception("releasing leadership failed; the lease will expire instead")
            self._leading = False
            if self.metrics is not None:
                self.metrics.leader.set(0)
