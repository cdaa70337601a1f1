"""Pass inputs beyond the snapshot, added by input providers the composition root registers.

An input provider is called with the pass's `PassInput` and a read-only view of committed state, and
returns the input with its part filled in. Slow inputs keep their own cadence here (usage history is
fetched hourly, not every pass), and committed state of other concerns is read through the store the
pass commits to, so a decider is never handed anything by mutating it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tenantops.config.loader import Config
from tenantops.decide.base import PassInput
from tenantops.structs.usage import UsageHistory

log = logging.getLogger(__name__)

StateView = Callable[[str], Mapping[str, Any]]
"""A concern's committed state by name (`StateStore.state`), read-only."""

InputProvider = Callable[[PassInput, StateView], PassInput]
"""Adds one input to the pass: called once per pass, before the deciders, on a replica that acts."""


class HistoryRefresh:
    """The usage-history input: fetched at most every `every` (and at the first pass), given to every pass.

    Recommendations move on a scale of hours while the range queries behind them read days of samples,
    so the passes in between reuse the last history. A fetch that raises or whose queries partly failed
    keeps the previous history (logged) and is tried again after `retry_after`, not every pass; with no
    previous history a partial one is taken, as some recommendations beat none.

    `background`: once there is a history, a due refresh runs in a thread of its own and the pass goes on
    with the history it has, so days of range queries never hold up a pass's scaling decisions (the first
    fetch still comes with its pass: a pass without any history is what the fetch is for).
    """

    name = "usage_history"

    def __init__(self, fetch: Callable[[Config, datetime], UsageHistory], *,
                 every: timedelta = timedelta(hours=1), retry_after: timedelta = timedelta(minutes=5),
                 background: bool = False) -> None:
        self.fetch = fetch
        self.every = every
        self.retry_after = retry_after
        self.history: UsageHistory | None = None
        self.fetched_at: datetime | None = None  # last complete fetch
        self.attempted_at: datetime | None = None
        self.fetches = 0
        self.failures = 0
        self.background = background
        self._worker: threading.Thread | None = None

    def __call__(self, inp: PassInput, state: StateView) -> PassInput:
        if self.background and self.history is not None:
            self._refresh_aside(inp.config, inp.now)
        else:
            self.refresh(inp.config, inp.now)
        return replace(inp, usage_history=self.history)

    def _refresh_aside(self, config: Config, now: datetime) -> None:
        """Start a due refresh in its own thread, unless one is still running; the pass does not wait."""
        if (self._worker is not None and self._worker.is_alive()) or not self.due(now):
            return
        self._worker = threading.Thread(target=self.refresh, args=(config, now), name="usage-history", daemon=True)
        self._worker.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a refresh running aside to finish; True when none is running any more."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return worker is None or not worker.is_alive()

    def due(self, now: datetime) -> bool:
        if self.attempted_at is None:
            return True
        if now < self.attempted_at:  # the clock stepped back: do not wait out a gap that never happened
            return True
        wait = self.every if self.attempted_at == self.fetched_at else min(self.retry_after, self.every)
        return now - self.attempted_at >= wait

    def refresh(self, config: Config, now: datetime) -> None:
        """Fetch if due; keep the last history on a failure."""
        if not self.due(now):
            return
        self.attempted_at = now
        self.fetches += 1
        try:
            history = self.fetch(config, now)
        except Exception as exc:
            self.failures += 1
            log.warning("usage history fetch failed (%s: %s); keeping the history from %s", type(exc).__name__,
                        exc, self._kept())
            return
        if history.errors:
            self.failures += 1
            if self.history is not None:
                log.warning("usage history fetch: %d queries failed (%s); keeping the history from %s",
                            len(history.errors), "; ".join(history.errors)[:300], self._kept())
                return
            log.warning("usage history fetch: %d queries failed (%s); using the partial history until a retry",
                        len(history.errors), "; ".join(history.errors)[:300])
            self.history = history
            return
        self.history = history
        self.fetched_at = now
        log.info("usage history refreshed: %d series from %s to %s", len(history.series),
                 history.start.isoformat(), history.end.isoformat())

    def _kept(self) -> str:
        return "none (no history yet)" if self.history is None else self.history.end.isoformat()


def provider_name(provider: InputProvider) -> str:
    """How a provider is named in logs and in the controller's description."""
    return str(getattr(provider, "name", None) or getattr(provider, "__name__", type(provider).__name__))
