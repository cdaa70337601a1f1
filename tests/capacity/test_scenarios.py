"""Growth scenarios: a scenario that adds nothing changes nothing; each change does what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config.errors import ConfigError
from tenantops.config.kinds.capacity import Change, ScaleTenant, Scenario, load_scenarios
from tenantops.decide.capacity.scenarios import Monthly, apply

MONTHS = ("2027-01", "2027-02")


def monthly(v: float) -> Monthly:
    return Monthly(MONTHS, (v, v), (v * 0.9, v * 0.9), (v * 1.1, v * 1.1))


FORECASTS = {"a": monthly(100), "b": monthly(200), "c": monthly(300)}
TIERS = {"a": "pro", "b": "pro", "c": "enterprise"}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1e5), min_size=1, max_size=8))
def test_a_scenario_that_adds_nothing_changes_nothing(values: list[float]) -> None:
    forecasts = {f"t{i}": monthly(v) for i, v in enumerate(values)}
    tiers = dict.fromkeys(forecasts, "pro")
    for scenario in (Scenario(name="none"),
                     Scenario(name="x1", changes=[Change(scale_tenant=ScaleTenant(tenant="t0", factor=1))])):
        result = apply(scenario, forecasts, tiers, MONTHS)
        assert result.tenants == forecasts
        assert result.customers == len(forecasts)


def test_add_tenants_like_the_tier_median_and_scale() -> None:
    scenario = Scenario.model_validate({"name": "s", "changes": [
        {"add_tenants": {"count": 200, "tier": "pro"}},
        {"scale_tenant": {"tenant": "c", "factor": 3}},
    ]})
    result = apply(scenario, FORECASTS, TIERS, MONTHS)
    assert result.customers == 203
    # median of pro tenants (100, 200) taken as the lower middle: 100 each
    assert result.fleet.point[0] == pytest.approx(100 + 200 + 900 + 200 * 100)


def test_scale_fleet_multiplies_customers_and_cost() -> None:
    scenario = Scenario.model_validate({"name": "10x", "changes": [{"scale_fleet": {"factor": 10}}]})
    result = apply(scenario, FORECASTS, TIERS, MONTHS)
    assert result.customers == 30 and result.fleet.point[0] == pytest.approx(6000)


def test_scenario_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "growth.yaml"
    path.write_text("scenarios:\n  - name: a\n    changes:\n      - add_tenants: {count: 5, tier: gold}\n"
                    "      - scale_tenant: {tenant: nobody, factor: 2}\n      - {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_scenarios(path, tiers={"pro"}, tenants={"a"})
    text = "\n".join(str(i) for i in err.value.issues)
    assert "exactly one of" in text and "changes[2]" in text
    path.write_text("scenarios:\n  - name: a\n    changes:\n      - add_tenants: {count: 5, tier: gold}\n"
                    "      - scale_tenant: {tenant: nobody, factor: 2}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_scenarios(path, tiers={"pro"}, tenants={"a"})
    lines = {(i.line, i.field) for i in err.value.issues}
    assert (4, "scenarios[0].changes[0].add_tenants.tier") in lines
    assert (5, "scenarios[0].changes[1].scale_tenant.tenant") in lines


def test_the_documented_example_file_is_valid_against_the_dev_catalogue() -> None:
    from tenantops.config import load_config

    repo = Path(__file__).resolve().parents[2]
    config = load_config(repo / "stacks" / "dev.catalog.yaml", repo / "policies")
    parsed = load_scenarios(repo / "docs" / "examples" / "growth.yaml", tiers=set(config.policies.tiers),
                            tenants={t.id for t in config.tenants})
    assert [s.name for s in parsed.scenarios] == ["+200 pro tenants like the median", "acme 3x", "10x customers"]
