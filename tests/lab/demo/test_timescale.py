"""The demo's policy copy: the controller keeps its durations (it runs on trace time), query windows shrink
to wall time, the history copy lets an hourly pass charge its hour, and every copy still validates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantops.config import load_config
from tenantops_lab.demo.timescale import compress_durations, compress_ranges, write_compressed, write_history_config

REPO = Path(__file__).resolve().parents[3]


def test_scaling_durations_shrink_and_positive_ones_stay_positive() -> None:
    spec = {"startup_seconds": 120, "scale_down": {"stabilization_seconds": 300, "period_seconds": 15},
            "metrics": [{"metric": "cpu", "target": 0.7}], "stale_after_seconds": 180, "flag": True}
    out = compress_durations(spec, 60)
    assert out == {"startup_seconds": 2, "scale_down": {"stabilization_seconds": 5, "period_seconds": 1},
                   "metrics": [{"metric": "cpu", "target": 0.7}], "stale_after_seconds": 180, "flag": True}


def test_query_ranges_shrink_but_keep_four_scrapes() -> None:
    query = 'rate(x{a="[2m]"}[2m]) + rate(y[1h])'
    assert compress_ranges(query, 60, 8) == 'rate(x{a="[8s]"}[8s]) + rate(y[60s])'


@given(st.integers(1, 100000), st.floats(1, 600))
def test_compressed_durations_are_never_negative_and_never_longer(seconds: int, factor: float) -> None:
    out = compress_durations({"x_seconds": seconds, "period_seconds": seconds}, factor)
    assert 0 <= out["x_seconds"] <= seconds
    assert 1 <= out["period_seconds"] <= seconds


def test_the_repository_policies_compress_into_a_valid_configuration(tmp_path: Path) -> None:
    catalog, policies = write_compressed(REPO / "policies", REPO / "stacks" / "dev.catalog.yaml", tmp_path, 60,
                                         interval=1.0, scrape_seconds=0.5)
    config = load_config(catalog, policies)
    original = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    assert config.policies.controller.interval_seconds == 1.0
    assert config.policies.controller.jitter_seconds == 0
    for tenant in original.tenants:
        # Trace time: stabilisation windows, start-up and rate limits are the policy's own values.
        assert config.for_tenant(tenant.id).scaling == original.for_tenant(tenant.id).scaling
    # Prometheus evaluates ranges over wall time: a 2-minute window is 2 s (four 0.5 s scrapes).
    assert "[2m]" not in config.for_tenant("acme").metrics.queries["cpu"]
    assert "[2s]" in config.for_tenant("acme").metrics.queries["cpu"]
    assert [t.id for t in config.tenants] == [t.id for t in original.tenants]
    # The simulator's pods keep their requests, so right-sizing only recommends; alerts go by email only.
    assert any(original.for_tenant(t.id).rightsizing.mode == "apply" for t in original.tenants)
    assert all(config.for_tenant(t.id).rightsizing.mode == "recommend" for t in config.tenants)
    assert all(config.for_tenant(t.id).alerts.routes == ["email"] for t in config.tenants)


def test_the_history_copy_keeps_the_policies_and_lets_a_pass_charge_an_hour(tmp_path: Path) -> None:
    catalog, policies = write_history_config(REPO / "policies", REPO / "stacks" / "dev.catalog.yaml", tmp_path,
                                             pass_seconds=3600)
    config = load_config(catalog, policies)
    original = load_config(REPO / "stacks" / "dev.catalog.yaml", REPO / "policies")
    assert original.policies.allocation.max_pass_gap_seconds < 3600
    assert config.policies.allocation.max_pass_gap_seconds == 3600
    assert config.for_tenant("acme").metrics == original.for_tenant("acme").metrics
    assert config.policies.pricing == original.policies.pricing


def test_an_invalid_policy_copy_is_still_rejected(tmp_path: Path) -> None:
    from tenantops.config.errors import ConfigError

    bad = tmp_path / "in"
    bad.mkdir()
    for path in (REPO / "policies").glob("*.yaml"):
        (bad / path.name).write_text(path.read_text())
    scaling = (REPO / "policies" / "scaling.yaml").read_text()
    (bad / "scaling.yaml").write_text(scaling.replace("tolerance:", "tolerence:", 1))
    catalog, policies = write_compressed(bad, REPO / "stacks" / "dev.catalog.yaml", tmp_path / "out", 60,
                                         interval=1.0, scrape_seconds=2)
    with pytest.raises(ConfigError, match="tolerence"):
        load_config(catalog, policies)
