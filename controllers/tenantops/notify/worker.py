"""The notification worker: mail delivery and alert routing run on their own threads, never the pass's.

A mail server that answers one reply every two seconds, or never, a webhook that hangs, an Alertmanager
that is down: each of these used to hold the controller's only thread after every pass, so passes came
12 s or 30 s apart and nothing scaled in between. The pass now hands its notification work to a
`Courier` and goes on; the courier runs the jobs one at a time per lane, each bounded by its own timeouts
(the transports' per-message deadline, the webhook's request timeout).

Lanes keep one channel's slowness from delaying another's: the controller gives mail, the chat webhook and
Alertmanager a lane each (`engine.wiring`), so a mail server holding a message for its 30-second deadline
delays the next mail, not the webhook post or the Alertmanager resolve of the same pass. Each lane has its
own thread, started with its first job; jobs of one lane run in the order they were submitted.

Jobs carry a key. A job whose key is already waiting on its lane replaces it, because only the latest
matters: "deliver what is due in the outbox" and "the active set for Alertmanager" mean the same thing
whenever they run. Alertmanager posts of different passes have different keys and queue in order; at most
`max_pending` wait on a lane, and past that the oldest is dropped and counted (its alert stays active and
is posted again with the next pass's active set; mail, webhook messages and resolves are never dropped,
they wait in the durable outbox).

`close(timeout)` lets the queues finish for up to `timeout` seconds when the controller stops; what is
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

DEFAULT_LANE = "notify"

DROPPED = Counter("tenantops_notify_jobs_dropped_total",
                  "Notification jobs dropped because too many were waiting (a route is stalled).")


class _Lane:
    """One lane's waiting jobs, its thread, and since when its current job runs."""

    def __init__(self) -> None:
        self.jobs: OrderedDict[str, Callable[[], None]] = OrderedDict()
        self.busy_since: float | None = None
        self.thread: threading.Thread | None = None


class Courier:
    """Daemon threads running keyed notification jobs in order, one thread per lane (see the module
    docstring)."""

    def __init__(self, *, max_pending: int = 64, name: str = "tenantops-notify",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_pending = max_pending
        self.name = name
        self.stats: Tally[str] = Tally()  # submitted, replaced, dropped, done, failed
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._cond = threading.Condition()
        self._closed = False

    def submit(self, key: str, job: Callable[[], None], *, lane: str = DEFAULT_LANE) -> None:
        """Queue `job` under `key` on `lane` (replacing a job of the same key waiting there); returns at
        once. A lane's jobs run one after another on its own thread, started with its first job."""
        with self._cond:
            if self._closed:
                log.warning("notification job %s submitted after close; not run", key)
                return
            waiting = self._lanes.get(lane)
            if waiting is None:
                waiting = self._lanes[lane] = _Lane()
                waiting.thread = threading.Thread(target=self._loop, args=(waiting,), name=f"{self.name}-{lane}",
                                                  daemon=True)
                waiting.thread.start()
            self.stats["submitted"] += 1
            if key in waiting.jobs:
                self.stats["replaced"] += 1
                del waiting.jobs[key]
            waiting.jobs[key] = job
            while len(waiting.jobs) > self.max_pending:
                old, _ = waiting.jobs.popitem(last=False)
                self.stats["dropped"] += 1
                DROPPED.inc()
                log.error("notification job %s dropped: %d jobs waiting behind a stalled route (%s)", old,
                          len(waiting.jobs), lane)
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return sum(len(lane.jobs) for lane in self._lanes.values())

    def busy_for(self) -> float:
        """Seconds the longest-running current job has run (0 when idle): how /metrics and logs tell a
        stalled route."""
        with self._cond:
            now = self._clock()
            return max((now - lane.busy_since for lane in self._lanes.values() if lane.busy_since is not None),
                       default=0.0)

    def _idle(self) -> bool:
        return all(not lane.jobs and lane.busy_since is None for lane in self._lanes.values())

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job runs or waits on any lane (tests, `reconcile --once`); False on timeout."""
        deadline = self._clock() + timeout
        with self._cond:
            while not self._idle():
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
            left = sum(len(lane.jobs) for lane in self._lanes.values())
            for lane in self._lanes.values():
                lane.jobs.clear()
            self._cond.notify_all()
        if not finished:
            log.warning("stopping with %d notification job(s) unfinished; queued mail stays in the outbox", left)
        return finished

    def _loop(self, lane: _Lane) -> None:
        while True:
            with self._cond:
                while not lane.jobs and not self._closed:
                    self._cond.wait()
                if self._closed and not lane.jobs:
                    return
                key, job = lane.jobs.popitem(last=False)
                lane.busy_since = self._clock()
            outcome = "failed"
            try:
                job()
                outcome = "done"
            except Exception:
                log.exception("notification job %s failed", key)
            finally:
                with self._cond:  # lanes finish on their own threads: the tally is kept under the lock
                    self.stats[outcome] += 1
                    lane.busy_since = None
                    self._cond.notify_all()
