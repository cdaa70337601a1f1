"""Bounded retries with exponential backoff, shared by the actuators.

Throttling (429, AWS `Throttling`) and server errors are the API telling us to come back later; hammering
it makes the overload worse and a pass must still finish in bounded time. So every actuator call gets a
fixed number of attempts with a growing, capped delay, and whatever is still failing becomes a
`RETRYABLE` outcome for the next pass instead of an exception that would stop the other tenants.
Conflicts are not retried here: they need a fresh read first, which only the actuator knows how to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from tenantops.act.base import ActOutcome, OutcomeStatus
from tenantops.structs.plan import ScaleAction

T = TypeVar("T")


class ErrorClass(StrEnum):
    TRANSIENT = "transient"  # retry after a delay: throttling, 5xx, timeouts, refused connections
    CONFLICT = "conflict"  # stale read: read again, then write again
    PERMANENT = "permanent"  # retrying cannot help: not found, forbidden, invalid


@dataclass(frozen=True, slots=True)
class Classified:
    """What an error means for the caller, in words for the outcome and the log."""

    kind: ErrorClass
    detail: str
    retry_after: float | None = None  # the server's own hint (Retry-After), seconds


class CallFailed(Exception):
    """A call failed permanently, hit a conflict, or stayed transient through every attempt."""

    def __init__(self, classified: Classified, attempts: int) -> None:
        super().__init__(classified.detail)
        self.classified = classified
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Defaults keep a failing call under ~2 s so one bad target cannot stall a pass."""

    attempts: int = 4  # tries per call for transient errors (1 = no retry)
    base_delay: float = 0.2  # seconds before the first retry
    max_delay: float = 1.0  # cap of any one delay, the server's Retry-After included
    multiplier: float = 2.0
    conflicts: int = 3  # fresh read-then-write rounds after a 409 before giving up for this pass
    timeout: float = 5.0  # seconds per request

    @property
    def deadline(self) -> float:
        """The longest one request can take with its retries: every attempt timing out, with the longest delay
        between them. An actuator's call is a few such requests (its `call_deadline`); a replica may start it
        only if its Lease outlasts that (`engine.lease` fencing)."""
        return self.attempts * self.timeout + (self.attempts - 1) * self.max_delay

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.conflicts < 0:
            raise ValueError("attempts must be >= 1 and conflicts >= 0")
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1 or self.timeout <= 0:
            raise ValueError("delays must be >= 0, multiplier >= 1 and timeout > 0")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based); a server hint wins but stays capped."""
        computed = self.base_delay * self.multiplier ** (retry - 1)
        if retry_after is not None and retry_after >= 0:
            computed = max(computed, retry_after)
        return min(computed, self.max_delay)


@dataclass(slots=True)
class CallCounter:
    """Counts the requests one `apply` made, for the outcome's `attempts`, and holds when that apply must
    be done by (`within`): an apply is several requests (a read and a write, each retried, and read-write
    rounds after a conflict), and the fence lets it start only when the Lease outlasts its deadline, so no
    request may start that could end after it."""

    calls: int = 0
    until: float | None = None  # time.monotonic() by which every request of the apply has ended

    @classmethod
    def within(cls, seconds: float) -> CallCounter:
        return cls(until=time.monotonic() + seconds)

    def fits(self, seconds: float) -> bool:
        """Whether something taking up to `seconds` (a request's timeout, a wait and a request) ends in time."""
        return self.until is None or time.monotonic() + seconds <= self.until


def spent_detail(last: str = "") -> str:
    """What an apply whose deadline left no time for its next request says (after its last error, if any)."""
    why = "the call's deadline left no time for another request"
    return f"{last}; {why}" if last else why


def spent(counter: CallCounter, last: Classified | None = None) -> CallFailed:
    """The failure of an apply whose deadline left no time for its next request: retryable next pass."""
    return CallFailed(Classified(ErrorClass.TRANSIENT, spent_detail(last.detail if last else "")), counter.calls)


def call_with_retry(
    call: Callable[[], T],
    classify: Callable[[BaseException], Classified | None],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    counter: CallCounter | None = None,
) -> T:
    """Run `call`, retrying transient errors with backoff; raise CallFailed for anything else, and
    (transient) when the `counter`'s deadline leaves no time for the next attempt.

    `classify` returns None for exceptions it does not know, which propagate unchanged: a bug in our
    own code should not be dressed up as an API failure.
    """
    for attempt in range(1, policy.attempts + 1):
        if counter is not None:
            if not counter.fits(policy.timeout):
                raise spent(counter)
            counter.calls += 1
        try:
            return call()
        except Exception as exc:
            classified = classify(exc)
            if classified is None:
                raise
            if classified.kind is not ErrorClass.TRANSIENT or attempt == policy.attempts:
                raise CallFailed(classified, attempt) from exc
            delay = policy.delay(attempt, classified.retry_after)
            if counter is not None and not counter.fits(delay + policy.timeout):
                raise spent(counter, classified) from exc
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def finish(action: ScaleAction, status: OutcomeStatus, observed: int | None, counter: CallCounter,
           detail: str, logger: logging.Logger, *, written: int | None = None,
           uid: str | None = None) -> ActOutcome:
    """Log an actuator's outcome once, with its subject and reason, and build the value the engine records."""
    level = logging.WARNING if status in (OutcomeStatus.FAILED, OutcomeStatus.RETRYABLE) else logging.INFO
    logger.log(level, "act: %s %s %s/%s: %s", status, action.target, action.tenant, action.workload, detail,
               extra={"event": f"act.{status}", "target": str(action.target), "tenant": action.tenant,
                      "workload": action.workload, "desired": action.desired, "observed": observed})
    return ActOutcome(action=action, status=status, observed=observed, detail=detail,
                      attempts=max(counter.calls, 1), written=written, uid=uid)


def status_of(failed: CallFailed) -> OutcomeStatus:
    """A permanent error fails the action; anything that outlived its retries may succeed on a later pass."""
    return OutcomeStatus.FAILED if failed.classified.kind is ErrorClass.PERMANENT else OutcomeStatus.RETRYABLE
