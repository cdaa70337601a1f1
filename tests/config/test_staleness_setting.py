"""Staleness has one setting, the MetricsPolicy's `stale_after_seconds`: a BreakerPolicy (or a tenant's
breaker override) that still sets its own is rejected at its file, line and field, saying where it went.

A second limit in the breakers could only ever be the smaller of the two (the observe step has already
judged every reading by the metrics limit), so a larger breaker value silently never applied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tenantops.config import ConfigError, load_config, load_policies
from tenantops.config.kinds.scaling import BreakerSpec

from .test_catalog_rejections import POLICIES, VALID_TENANT, write

OVERRIDE = "    overrides:\n      breakers: {stale_after_seconds: 600}\n"


def test_a_breaker_staleness_limit_is_rejected_at_its_line(tmp_path: Path) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    (target / "zz.yaml").write_text(
        "kind: BreakerPolicy\nname: patient\nspec:\n  max_step_up: 10\n  stale_after_seconds: 600\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (str(target / "zz.yaml"), 5, "spec.stale_after_seconds")
    assert "MetricsPolicy spec.stale_after_seconds" in issue.message
    assert str(issue).startswith(f"{target / 'zz.yaml'}:5: spec.stale_after_seconds: no longer a BreakerPolicy")


def test_a_tenant_override_of_it_is_rejected_at_its_line(tmp_path: Path) -> None:
    catalog = write(tmp_path, "environment: test\ntenants:\n" + VALID_TENANT + OVERRIDE)
    with pytest.raises(ConfigError) as caught:
        load_config(catalog, POLICIES)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line) == (str(catalog), 12)
    assert issue.field == "tenants[0].overrides.breakers.stale_after_seconds"
    assert "MetricsPolicy spec.stale_after_seconds" in issue.message


def test_the_shipped_breakers_have_no_staleness_of_their_own() -> None:
    spec = load_policies(POLICIES).get("BreakerPolicy", "default")
    assert isinstance(spec, BreakerSpec)
    assert "stale_after_seconds" not in spec.model_dump()
    assert "stale_after_seconds" not in BreakerSpec.model_json_schema()["properties"]
