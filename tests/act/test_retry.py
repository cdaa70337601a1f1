"""Bounded retry with backoff: the delays it asks for and the attempts it makes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantops.act.retry import CallCounter, CallFailed, Classified, ErrorClass, RetryPolicy, call_with_retry

from .builders import RecordingSleep

policies = st.builds(
    RetryPolicy,
    attempts=st.integers(min_value=1, max_value=8),
    base_delay=st.floats(min_value=0, max_value=5),
    max_delay=st.floats(min_value=0, max_value=10),
    multiplier=st.floats(min_value=1, max_value=4),
)


@given(policies, st.integers(min_value=1, max_value=20), st.none() | st.floats(min_value=0, max_value=100))
def test_delay_is_capped_and_never_negative(policy: RetryPolicy, retry: int, hint: float | None) -> None:
    delay = policy.delay(retry, hint)
    assert 0 <= delay <= policy.max_delay
    if hint is not None and hint <= policy.max_delay:
        assert delay >= hint  # the server's Retry-After is honoured when it fits under the cap


@given(policies, st.integers(min_value=1, max_value=19))
def test_delay_never_shrinks_from_one_retry_to_the_next(policy: RetryPolicy, retry: int) -> None:
    assert policy.delay(retry) <= policy.delay(retry + 1)


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def classify(exc: BaseException) -> Classified | None:
    if isinstance(exc, TimeoutError):
        return Classified(ErrorClass.TRANSIENT, "timeout")
    if isinstance(exc, PermissionError):
        return Classified(ErrorClass.PERMANENT, "forbidden")
    if isinstance(exc, FileExistsError):
        return Classified(ErrorClass.CONFLICT, "conflict")
    return None


@given(st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=8))
def test_transient_failures_are_retried_exactly_up_to_the_bound(attempts: int, failures: int) -> None:
    policy = RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=2.0)
    call, sleep, counter = Flaky([TimeoutError()] * failures), RecordingSleep(), CallCounter()
    if failures < attempts:
        assert call_with_retry(call, classify, policy, sleep=sleep, counter=counter) == "ok"
        assert call.calls == failures + 1 and len(sleep.delays) == failures
    else:
        with pytest.raises(CallFailed) as caught:
            call_with_retry(call, classify, policy, sleep=sleep, counter=counter)
        assert caught.value.attempts == attempts and call.calls == attempts
        assert len(sleep.delays) == attempts - 1
    assert counter.calls == call.calls


@pytest.mark.parametrize("error", [PermissionError(), FileExistsError()])
def test_permanent_and_conflict_errors_are_not_retried(error: Exception) -> None:
    call, sleep = Flaky([error]), RecordingSleep()
    with pytest.raises(CallFailed) as caught:
        call_with_retry(call, classify, RetryPolicy(attempts=5), sleep=sleep)
    assert call.calls == 1 and sleep.delays == []
    assert caught.value.classified.kind in (ErrorClass.PERMANENT, ErrorClass.CONFLICT)


def test_unknown_exceptions_propagate_unchanged() -> None:
    with pytest.raises(ZeroDivisionError):
        call_with_retry(Flaky([ZeroDivisionError()]), classify, RetryPolicy(attempts=5), sleep=RecordingSleep())


@pytest.mark.parametrize("kwargs", [{"attempts": 0}, {"conflicts": -1}, {"multiplier": 0.5}, {"timeout": 0}])
def test_nonsense_policies_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
