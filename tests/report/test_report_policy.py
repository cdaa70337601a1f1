"""A ReportPolicy with a bad schedule or time zone fails `validate` at its file and line, not at send time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tenantops.config import ConfigError, load_policies

from .conftest import REPO


@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ('schedule: "0 8 * * 1"', 'schedule: "every monday"', "spec.schedule", "not a cron expression"),
    ("timezone: Europe/Berlin", "timezone: Mars/Olympus", "spec.timezone", "not an IANA time zone"),
])
def test_bad_schedule_is_reported_at_its_line(tmp_path: Path, old: str, new: str, field: str, message: str) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    path = policies / "reports.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if new in ln)
    with pytest.raises(ConfigError) as info:
        load_policies(policies)
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.field) == (str(path), line, field)
    assert message in issue.message


def test_shipped_report_policy_loads() -> None:
    spec = load_policies(REPO / "policies").reports
    assert spec.schedule == "0 8 * * 1" and spec.timezone == "Europe/Berlin"
