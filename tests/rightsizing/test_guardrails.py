"""Guardrails between a recommendation and a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide.rightsizing.guardrails import capped, plan_step

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


@settings(deadline=None)  # a property, not a timing: examples may wait for a shared CPU
@given(st.floats(0.01, 100), st.floats(0, 1000), st.floats(1, 100))
def test_a_step_never_moves_more_than_the_cap(current: float, desired: float, percent: float) -> None:
    value = capped(current, desired, percent)
    assert abs(value - current) <= current * percent / 100 + 1e-9
    assert min(current, desired) - 1e-9 <= value <= max(current, desired) + 1e-9


def _step(**kw: object) -> object:
    args = {"current": 1.0, "desired": 0.4, "now": NOW, "last_change": None, "min_interval": timedelta(hours=24),
            "max_change_percent": 30.0, "min_change_percent": 5.0}
    args.update(kw)
    return plan_step(**args)  # type: ignore[arg-type]


def test_capped_step_and_its_reason() -> None:
    step = _step()
    assert step.apply and abs(step.value - 0.7) < 1e-9  # type: ignore[attr-defined]
    assert "capped at 30%" in step.reason  # type: ignore[attr-defined]


def test_small_changes_and_recent_changes_wait() -> None:
    assert not _step(desired=0.97).apply  # type: ignore[attr-defined]
    recent = _step(last_change=NOW - timedelta(hours=3))
    assert not recent.apply and "next change allowed" in recent.reason  # type: ignore[attr-defined]
    assert _step(last_change=NOW - timedelta(hours=25)).apply  # type: ignore[attr-defined]


def test_urgent_skips_the_interval_but_not_the_cap() -> None:
    step = _step(desired=4.0, last_change=NOW - timedelta(hours=1), urgent=True)
    assert step.apply and abs(step.value - 1.3) < 1e-9  # type: ignore[attr-defined]


def test_an_hourly_schedule_changes_once_per_utc_hour_at_its_first_pass() -> None:
    india = timezone(timedelta(hours=5, minutes=30))  # a stored time with another offset names the same instant
    for last in (NOW - timedelta(minutes=20), (NOW - timedelta(minutes=20)).astimezone(india)):
        assert _step(hourly=True, last_change=last, now=NOW + timedelta(seconds=5)).apply  # type: ignore[attr-defined]
        same_hour = _step(hourly=True, last_change=last, now=NOW - timedelta(minutes=1))
        assert not same_hour.apply and "0:01:00" in same_hour.reason  # type: ignore[attr-defined]
