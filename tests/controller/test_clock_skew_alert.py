"""A skew between the controller's clock and Prometheus' is one alert per episode, resolved when it ends.

The facts decider reads the pass's `Snapshot.clock` (measured by the metrics source) and raises one
installation-wide alert while the skew exceeds the ControllerPolicy's tolerance; the alert lifecycle
makes many passes of it one notification and a resolve. Nothing is held: freshness is Prometheus' clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.decide import alerts as lifecycle
from tenantops.decide.base import PassInput
from tenantops.decide.facts import CLOCK_SKEW_KEY, FactsDecider, clock_skew_alert
from tenantops.structs.snapshot import Snapshot, SourceClock

from .conftest import shared_config

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _snapshot(at: datetime, skew: float | None, measured: bool = True) -> Snapshot:
    clock = None if skew is None else SourceClock(at - timedelta(seconds=skew), skew, measured)
    return Snapshot(at, {}, clock=clock)


def test_default_tolerance_is_30_seconds() -> None:
    assert shared_config().policies.controller.clock_skew_tolerance_seconds == 30


@settings(max_examples=60, deadline=None)
@given(skew=st.floats(min_value=-7200, max_value=7200, allow_nan=False), tolerance=st.floats(0.5, 600))
def test_an_alert_exactly_when_the_skew_exceeds_the_tolerance(skew: float, tolerance: float) -> None:
    alert = clock_skew_alert(SourceClock(NOW, skew), tolerance)
    assert (alert is not None) == (abs(skew) > tolerance)
    if alert is not None:
        assert alert.key == CLOCK_SKEW_KEY and alert.tenant is None
        assert ("ahead of" if skew > 0 else "behind") in alert.summary


def test_no_clock_no_alert() -> None:
    assert clock_skew_alert(None, 30) is None


def test_many_passes_of_skew_are_one_notification_and_one_resolve() -> None:
    config = shared_config()
    tenants = {t.id for t in config.tenants}
    facts, state, lifecycle_state = FactsDecider(), {}, {}
    sent: list[Any] = []
    skews = [600.0] * 10 + [-610.0, 595.0] + [0.2] * 3  # ten minutes ahead (wobbling), then fixed
    for i, skew in enumerate(skews):
        at = NOW + timedelta(seconds=30 * i)
        out = facts.decide(PassInput(_snapshot(at, skew, measured=i != 4), config, at), state)
        state.update(out.state)
        assert not out.scale and not out.patches
        passed = lifecycle.advance(lifecycle_state, [lifecycle.Raised(facts.name, out.alerts, out.cleared)],
                                   config, at, tenants)
        lifecycle_state.update({k: v for k, v in passed.changes.items() if v is not None})
        sent += passed.notifications
        assert len(passed.active) == (1 if abs(skew) > 30 else 0)
    assert [(a.key, a.transition) for a in sent] == [(CLOCK_SKEW_KEY, "fire"), (CLOCK_SKEW_KEY, "resolve")]
    assert "600s ahead of Prometheus'" in sent[0].summary
