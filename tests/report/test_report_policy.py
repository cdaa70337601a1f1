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
    # croniter accepts these, but at run time the first never fires and the others are not five fields:
    # each pass's report hook failed and no report went out.
    ('schedule: "0 8 * * 1"', 'schedule: "0 8 31 2 *"', "spec.schedule", "matches no date"),
    ('schedule: "0 8 * * 1"', 'schedule: "0 8 * * 1 5"', "spec.schedule", "not a cron expression"),
    ('schedule: "0 8 * * 1"', 'schedule: "0 8 * * 1 0 2020"', "spec.schedule", "not a cron expression"),
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


@pytest.mark.parametrize("schedule", ["0 8 29 2 *", "@weekly", "30 7 1 * *", "0 8 31 2 1", "*/15 6-18 * * 1-5"])
def test_schedules_that_match_some_date_load(tmp_path: Path, schedule: str) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    path = policies / "reports.yaml"
    path.write_text(path.read_text().replace('schedule: "0 8 * * 1"', f'schedule: "{schedule}"'))
    assert load_policies(policies).reports.schedule == schedule


def test_shipped_report_policy_loads() -> None:
    spec = load_policies(REPO / "policies").reports
    assert spec.schedule == "0 8 * * 1" and spec.timezone == "Europe/Berlin"
