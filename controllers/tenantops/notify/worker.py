"""The notification worker: mail delivery and alert routing run on their own thread, never the pass's.

A mail server that answers one reply every two seconds, or never, a webhook that hangs, an Alertmanager
that is down: each of these used to hold the controller's only thread after every pass, so passes came
12 s or 30 s apart and nothing scaled in between. The pass now hands its notification work to a
`Courier` and goes on; the courier runs the jobs one at a time, each bounded by its own timeouts (the
transports' per-message deadline, the webhook's request timeout).

Jobs carry a key. A job whose key is already waiting replaces it, because only the latest matters:
"deliver what is due in the outbox" and "the active set for Alertmanager" mean the same thing whenever
they run. Alertmanager posts of different passes have different keys and queue in order; at most
`max_pending` wait, and past that the oldest is dropped and counted (its alert stays active and is posted
again with the next pass's active set; mail, webhook messages and resolves are never dropped, they wait in
the durable outbox).

`close(timeout)` lets the queue finish for up to `timeout` seconds when the controller stops; what is
left is in the outbox and goes at the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import Counter

log = logging.getLogger(__name__)

DROPPED = Counter("tenantops_notify_jobs_dropped_total",
                  "Notification jobs dropped because too many were waiting (a route is stalled).")


class Courier:
    """One daemon thread running keyed notification jobs in order (see the module docstring)."""

    def __init__(self, *, max_pending: int = 64, name: str = "tenantops-notify",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_pending = max_pending
        self.stats: Tally[str] = Tally()  # submitted, replaced, dropped, done, failed
        self._clock = clock
        self._jobs: OrderedDict[str, Callable[[], None]] = OrderedDict()
        self._cond = threading.Condition()
        self._closed = False
        self._busy_since: float | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: str, job: Callable[[], None]) -> None:
        """Queue `job` under `key` (replacing a waiting job of the same key); returns at once."""
        with self._cond:
            if self._closed:
                log.warning("notification job %s submitted after close; not run", key)
                return
            self.stats["submitted"] += 1
            if key in self._jobs:
                self.stats["replaced"] += 1
                del self._jobs[key]
            self._jobs[key] = job
            while len(self._jobs) > self.max_pending:
                old, _ = self._jobs.popitem(last=False)
                self.stats["dropped"] += 1
                DROPPED.inc()
                log.error("notification job %s dropped: %d jobs waiting behind a stalled route", old,
                          len(self._jobs))
            self._cond.notify()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def busy_for(self) -> float:
        """Seconds the current job has run (0 when idle): how /metrics and logs tell a stalled route."""
        with self._cond:
            return 0.0 if self._busy_since is None else self._clock() - self._busy_since

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job runs or waits (tests, `reconcile --once`); False on timeout."""
        deadline = self._clock() + timeout
        with self._cond:
            while self._jobs or self._busy_since is not None:
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Let waiting jobs run for up to `timeout` seconds, then stop taking jobs. True if all finished."""
        finished = self.wait_idle(timeout)
        with self._cond:
            self._closed = True
            left = len(self._jobs)
            self._jobs.clear()
            self._cond.notify_all()
        if not finished:
            log.warning("stopping with %d notification job(s) unfinished; queued mail stays in the outbox", left)
        return finished

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed and not self._jobs:
                    return
                key, job = self._jobs.popitem(last=False)
                self._busy_since = self._clock()
            try:
                job()
                self.stats["done"] += 1
            except Exception:
                self.stats["failed"] += 1
                log.exception("notification job %s failed", key)
            finally:
                with self._cond:
                    self._busy_since = None
                    self._cond.notify_all()
