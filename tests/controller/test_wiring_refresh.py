"""`HistoryRefresh` on its own: when it fetches, and what history the pass gets after a failure."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tenantops.config import Config
from tenantops.decide.base import PassInput
from tenantops.engine.inputs import HistoryRefresh
from tenantops.structs.snapshot import Snapshot
from tenantops.structs.usage import UsageHistory

from .conftest import shared_config

T0 = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Fetcher:
    """Answers a history ending at `now`; `outcomes` scripts each call: "ok", "raise" or "partial"."""

    def __init__(self, outcomes: list[str] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.calls: list[datetime] = []

    def __call__(self, config: Config, now: datetime) -> UsageHistory:
        self.calls.append(now)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "raise":
            raise ConnectionError("connection refused")
        return UsageHistory(now - timedelta(days=7), now, errors=("cpu: timeout",) if outcome == "partial" else ())


class BlockingFetcher(Fetcher):
    """A fetch that, after the first, waits until `release` is set (a slow range query)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def __call__(self, config: Config, now: datetime) -> UsageHistory:
        if self.calls:
            assert self.release.wait(10)
        return super().__call__(config, now)


def test_a_refresh_in_the_background_never_holds_up_a_pass() -> None:
    fetch = BlockingFetcher()
    refresh = HistoryRefresh(fetch, background=True)
    config = shared_config()
    first = refresh(PassInput(Snapshot(T0, {}), config, T0), lambda _name: {})
    assert first.usage_history is not None and first.usage_history.end == T0  # the first fetch comes with its pass
    later = T0 + HOUR
    for minutes in (0, 1, 2):  # the hourly fetch is under way and blocked: passes go on with the history they have
        inp = refresh(PassInput(Snapshot(later, {}), config, later + timedelta(minutes=minutes)), lambda _name: {})
        assert inp.usage_history is first.usage_history
    assert len(fetch.calls) == 1 and not refresh.wait(0.05)  # one refresh started, not one per pass
    fetch.release.set()
    assert refresh.wait(10)
    inp = refresh(PassInput(Snapshot(later, {}), config, later + timedelta(minutes=3)), lambda _name: {})
    assert inp.usage_history is not None and inp.usage_history.end == later
    assert fetch.calls == [T0, later]


def test_first_pass_fetches_then_hourly() -> None:
    fetch = Fetcher()
    refresh = HistoryRefresh(fetch)
    config = shared_config()
    for minutes in (0, 1, 59, 60, 61, 119, 125):
        refresh.refresh(config, T0 + timedelta(minutes=minutes))
    assert fetch.calls == [T0, T0 + HOUR, T0 + timedelta(minutes=125)]
    assert refresh.history is not None and refresh.history.end == T0 + timedelta(minutes=125)


def test_failure_keeps_previous_history_and_retries_after_the_pause() -> None:
    fetch = Fetcher(["ok", "raise", "partial", "ok"])
    refresh = HistoryRefresh(fetch, retry_after=timedelta(minutes=5))
    config = shared_config()
    refresh.refresh(config, T0)
    good = refresh.history
    refresh.refresh(config, T0 + HOUR)  # raises: kept
    assert refresh.history is good
    refresh.refresh(config, T0 + HOUR + timedelta(minutes=4))  # within the pause: not tried
    assert len(fetch.calls) == 2
    refresh.refresh(config, T0 + HOUR + timedelta(minutes=5))  # partial: still the complete one from T0
    assert refresh.history is good and refresh.failures == 2
    refresh.refresh(config, T0 + HOUR + timedelta(minutes=10))
    assert refresh.history is not None and refresh.history.end == T0 + HOUR + timedelta(minutes=10)
    assert refresh.fetched_at == T0 + HOUR + timedelta(minutes=10)


def test_partial_history_is_taken_when_there_is_none_yet() -> None:
    fetch = Fetcher(["partial"])
    refresh = HistoryRefresh(fetch)
    refresh.refresh(shared_config(), T0)
    assert refresh.history is not None and refresh.history.errors == ("cpu: timeout",)
    assert refresh.fetched_at is None  # not complete: tried again after the pause, not in an hour
    assert refresh.due(T0 + timedelta(minutes=5))


def test_a_clock_stepping_back_refetches() -> None:
    fetch = Fetcher()
    refresh = HistoryRefresh(fetch)
    refresh.refresh(shared_config(), T0)
    refresh.refresh(shared_config(), T0 - timedelta(minutes=1))
    assert len(fetch.calls) == 2


@given(st.lists(st.integers(1, 3 * 3600), min_size=1, max_size=40),
       st.lists(st.sampled_from(["ok", "ok", "raise", "partial"]), max_size=40))
def test_property_fetches_exactly_when_due_and_holds_the_latest_complete_history(
    gaps: list[int], outcomes: list[str]
) -> None:
    fetch = Fetcher(list(outcomes))
    every, retry = HOUR, timedelta(minutes=5)
    refresh = HistoryRefresh(fetch, every=every, retry_after=retry)
    config = shared_config()
    now = T0
    last_attempt: datetime | None = None
    last_ok: datetime | None = None
    latest_complete: datetime | None = None
    for i, gap in enumerate(gaps):
        now = now + timedelta(seconds=gap) if i else now
        calls = len(fetch.calls)
        refresh.refresh(config, now)
        fetched = len(fetch.calls) > calls
        wait = every if last_attempt is not None and last_attempt == last_ok else retry
        expected = last_attempt is None or now - last_attempt >= wait
        assert fetched == expected
        if fetched:
            last_attempt = now
            outcome = outcomes[len(fetch.calls) - 1] if len(fetch.calls) <= len(outcomes) else "ok"
            if outcome == "ok":
                last_ok = latest_complete = now
        held = refresh.history
        if latest_complete is not None:  # never replaced by a failed or partial fetch once one was complete
            assert held is not None and held.end == latest_complete and not held.errors
        assert fetch.calls == sorted(fetch.calls)
