"""How the program finds its catalogue, and what it does with a bad one."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from tenantops.structs.naming import launch_template_name
from tenantops_infra.mocked import run_program

ONE_TENANT = """environment: qa
tenants:
  - id: solo
    tier: free
    isolation: pool
    region: eu-west-1
    budget_usd_month: 0
    contacts: [ops@solo.example]
    workloads: [{name: api, min_replicas: 0, max_replicas: 2}]
"""


def test_environment_variable_overrides_the_stack_catalogue(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(ONE_TENANT, encoding="utf-8")
    run = run_program({"tenantops:catalog": "stacks/dev.catalog.yaml"}, environ={"TENANTOPS_CATALOG": str(catalog)})
    assert list(run.outputs["tenants"]) == ["solo"]
    assert run.outputs["tenants"]["solo"]["bucket"] == "tenantops-qa-solo-data"
    budget = run.of_type("aws:budgets/budget:Budget")[0]
    assert budget.inputs["limitAmount"] == "0.01"  # a zero budget still gets a positive limit
    # free tier: data goes with the tenant
    bucket = run.of_type("aws:s3/bucket:Bucket")[0]
    assert (bucket.protect, bucket.retain_on_delete, bucket.inputs["forceDestroy"]) == (False, False, True)


def test_bad_catalogue_fails_the_run_naming_file_line_and_field(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(ONE_TENANT.replace("isolation: pool", "isolation: shared"), encoding="utf-8")
    with pytest.raises(pulumi.RunError) as exc:
        run_program({"tenantops:catalog": str(catalog)})
    assert f"{catalog}:5: tenants[0].isolation" in str(exc.value)


def test_missing_catalogue_setting_is_explained() -> None:
    with pytest.raises(pulumi.RunError, match="tenantops:catalog"):
        run_program({})


def test_a_silo_workload_naming_no_instance_type_is_charged_for_the_instance_it_is_launched_on(
        tmp_path: Path) -> None:
    """The program launched m6i.large while the cost allocation charged the region's cheapest instance
    (t3.medium, $0.0416/h against $0.096/h): the tenant's instance cost was less than half of its bill."""
    from datetime import UTC, datetime

    from tenantops.config import load_config
    from tenantops.decide.cost.allocation import allocate
    from tenantops.decide.cost.money import to_micro
    from tenantops.decide.cost.usage import workload_usages
    from tenantops.structs.snapshot import Snapshot

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(ONE_TENANT.replace("isolation: pool", "isolation: silo").replace(
        "min_replicas: 0, max_replicas: 2", "min_replicas: 3, max_replicas: 6"), encoding="utf-8")
    run = run_program({"tenantops:catalog": str(catalog)})
    [template] = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    launched = template.inputs["instanceType"]
    config = load_config(catalog, Path(__file__).resolve().parents[2] / "policies")
    charged = allocate(workload_usages(Snapshot(datetime(2026, 11, 2, tzinfo=UTC), {}), config),
                       config.policies.pricing, config.policies.allocation, 1.0).tenants["solo"]
    price = config.policies.pricing.regions["eu-west-1"].instances[launched].on_demand
    assert charged.instances == to_micro(3 * price)  # three instances for an hour, of the type launched


# Names AWS limits that the catalogue's own limits (environment 43, tenant id 40, workload 63 characters)
# can exceed: Budgets' BudgetName and EC2's LaunchTemplateName.
NAME_LIMITS = {"aws:budgets/budget:Budget": 100, "aws:ec2/launchTemplate:LaunchTemplate": 128}


def test_the_longest_names_the_catalogue_allows_fit_every_aws_name_limit(tmp_path: Path) -> None:
    """At the catalogue's longest names a budget was `tenantops-<env>-<id>-monthly`, 102 characters, and a
    silo launch template `tenantops-<env>-<id>-<workload>`, 158: both passed validate, and `pulumi up`
    stopped at them after the tenant's key, bucket and role were made. Long names are cut with a hash of
    the whole name, as buckets and roles already are, and stay distinct."""
    env, tenant = "e" * 43, "t" * 40
    workloads = ", ".join(f"{{name: {c * 63}, min_replicas: 1, max_replicas: 2}}" for c in "ab")
    catalog = tmp_path / "catalog.yaml"
    text = (ONE_TENANT.replace("environment: qa", f"environment: {env}").replace("id: solo", f"id: {tenant}")
            .replace("isolation: pool", "isolation: silo")
            .replace("workloads: [{name: api, min_replicas: 0, max_replicas: 2}]", f"workloads: [{workloads}]"))
    catalog.write_text(text, encoding="utf-8")
    run = run_program({"tenantops:catalog": str(catalog)})
    for typ, limit in NAME_LIMITS.items():
        names = [r.inputs["name"] for r in run.of_type(typ)]
        assert names and all(len(n) <= limit for n in names), (typ, [len(n) for n in names])
        assert len(set(names)) == len(names)
    assert {r.inputs["name"] for r in run.of_type("aws:ec2/launchTemplate:LaunchTemplate")} == {
        launch_template_name(env, tenant, c * 63) for c in "ab"}
