"""The controller benchmark's memory pass reads everything the timed pass reads: tracing slows parsing several
times over, and under the shipped interval's query deadline the traced pass at N = 10,000 lost its last
queries, so its peak left out their answers."""

from __future__ import annotations

from tenantops.config import Config
from tenantops.config.catalog import CatalogSpec
from tenantops.config.loader import load_policies
from tenantops.config.paths import repository_path
from tenantops_lab.bench.catalog import synthetic_catalog
from tenantops_lab.bench.controller import without_query_deadline


def test_only_the_traced_pass_gets_a_day_for_its_queries() -> None:
    config = Config(CatalogSpec.model_validate(synthetic_catalog(6)), load_policies(repository_path("policies")))
    traced = without_query_deadline(config)
    assert traced.policies.controller.interval_seconds == 86400.0
    assert config.policies.controller.interval_seconds == 30  # the timed passes keep the shipped interval
    others = {k: d for k, d in config.policies.docs.items() if k[0] != "ControllerPolicy"}
    assert {k: d for k, d in traced.policies.docs.items() if k[0] != "ControllerPolicy"} == others
    controller = traced.policies.controller.model_dump()
    assert controller == {**config.policies.controller.model_dump(), "interval_seconds": 86400.0}
    for tenant in config.tenants:  # the same policies for every tenant, and the same tenants
        assert traced.for_tenant(tenant) == config.for_tenant(tenant)
    assert traced.tenants == config.tenants
