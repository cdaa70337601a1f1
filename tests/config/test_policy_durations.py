"""Durations in policies have an upper bound, stated once (`kinds.common`), and validate refuses a value past it
at its line.

Without one, a typo (hours written as seconds, a digit too many, `.inf`) passed validate and then failed at
run time, pass after pass: `snooze_hours: 1e308` overflowed the alert lifecycle's `timedelta` in every pass
that met a flapping alert of the tenant, a `period_days` of 10**12 made every scheduled report fail in the
outbox (retried for ever, never sent), and `lookback_days: 100000` made the right-sizing history tens of
thousands of range queries a pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.faults.helpers import TENANTS, write_config

from tenantops.config import ConfigError, load_config
from tenantops.config.kinds.common import MAX_DURATION_DAYS
from tenantops.decide.alerts import Raised, advance
from tenantops.structs.plan import Alert, Severity

HOURS = MAX_DURATION_DAYS * 24
CASES = [
    ("cost.yaml", "AlertPolicy", "standard", "snooze_hours", 1e308),
    ("cost.yaml", "AlertPolicy", "standard", "escalate_after_hours", HOURS + 1),
    ("rightsizing.yaml", "RightsizingPolicy", "standard", "min_interval_hours", 1e12),
    ("rightsizing.yaml", "RightsizingPolicy", "standard", "min_history_hours", 1e12),
    ("rightsizing.yaml", "RightsizingPolicy", "standard", "half_life_hours", 1e300),
    ("rightsizing.yaml", "RightsizingPolicy", "standard", "lookback_days", 100_000),
    ("rightsizing.yaml", "RightsizingPolicy", "standard", "step_seconds", 10**12),
    ("reports.yaml", "ReportPolicy", "default", "period_days", 10**12),
    ("reports.yaml", "ControllerPolicy", "default", "clock_skew_tolerance_seconds", float("inf")),
    ("cost.yaml", "CostAllocation", "default", "max_pass_gap_seconds", 1e300),
    ("reports.yaml", "ControllerPolicy", "default", "audit_retention_days", 100_000),
    # Below the least the audit keeps (the database refuses to delete younger rows): a typo, days for weeks.
    ("reports.yaml", "ControllerPolicy", "default", "audit_retention_days", 30),
]


def _edit(policies: Path, file: str, kind: str, name: str, key: str, value: Any) -> int:
    """Set `spec.<key>` of one document; returns the line the key is written on."""
    path = policies / file
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == kind and doc.get("name") == name:
            doc["spec"][key] = value
    text = yaml.safe_dump_all(docs, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line == f"kind: {kind}" and lines[i + 1] == f"name: {name}")
    return next(i for i in range(start, len(lines)) if lines[i].strip().startswith(f"{key}:")) + 1


@pytest.mark.parametrize(("file", "kind", "name", "key", "value"), CASES, ids=[f"{c[3]}={c[4]}" for c in CASES])
def test_a_duration_past_its_bound_is_refused_at_its_line(tmp_path: Path, file: str, kind: str, name: str,
                                                          key: str, value: Any) -> None:
    catalog, policies = write_config(tmp_path)
    line = _edit(policies, file, kind, name, key, value)
    with pytest.raises(ConfigError) as caught:
        load_config(catalog, policies)
    found = [(i.file, i.line, i.field) for i in caught.value.issues]
    assert (str(policies / file), line, f"spec.{key}") in found, found


def test_a_tenant_override_past_the_bound_is_refused_at_its_line(tmp_path: Path) -> None:
    tenants = [{**TENANTS[0], "overrides": {"alerts": {"snooze_hours": 1e308}}}, TENANTS[1]]
    catalog, policies = write_config(tmp_path, tenants)
    with pytest.raises(ConfigError) as caught:
        load_config(catalog, policies)
    assert [i.field for i in caught.value.issues] == ["tenants[0].overrides.alerts.snooze_hours"]
    assert caught.value.issues[0].file == str(catalog) and caught.value.issues[0].line > 0


def test_the_longest_accepted_snooze_and_escalation_run_the_alert_lifecycle(tmp_path: Path) -> None:
    """The bound is one the lifecycle can compute with: fire, clear, fire again (the flapping check) and
    stay firing (the escalation check) at the largest values validate accepts."""
    overrides = {"alerts": {"snooze_hours": HOURS, "escalate_after_hours": HOURS}}
    catalog, policies = write_config(tmp_path, [{**TENANTS[0], "overrides": overrides}, TENANTS[1]])
    config = load_config(catalog, policies)
    alert = Alert("cost:anomaly:daily:alpha", "alpha", Severity.WARNING, "cost-anomaly-daily", "spend up", "look")
    state: dict[str, Any] = {}
    now = datetime(2026, 3, 2, tzinfo=UTC)
    transitions = []
    for hour, firing in enumerate([True, False, True, True]):
        lifecycle = advance(state, [Raised("cost", [alert] if firing else [])], config, now + timedelta(hours=hour),
                            {"alpha", "beta"})
        state.update({k: v for k, v in lifecycle.changes.items() if v is not None})
        transitions += [a.transition for a in lifecycle.notifications]
    assert transitions == ["fire", "resolve"]  # the return within the snooze is the same episode, not a new mail
