"""Silo tenants' subnets are in the zones their region offers, whatever those zones are called."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from tenantops_infra.mocked import MockRun, run_program

SILO = """environment: qa
tenants:
  - id: solo
    tier: enterprise
    isolation: silo
    region: {region}
    budget_usd_month: 100
    contacts: [ops@solo.example]
    workloads: [{{name: api, min_replicas: 1, max_replicas: 4}}]
"""


def _run(tmp_path: Path, region: str, zones: list[str]) -> MockRun:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(SILO.format(region=region), encoding="utf-8")
    return run_program({"tenantops:catalog": str(catalog)}, zones={region: zones})


def test_subnets_take_the_zones_the_region_offers(tmp_path: Path) -> None:
    # Zone names are per account and region (ap-northeast-1 has no `b` for most accounts, a zone can be
    # retired or not yet enabled): `<region>a/b/c` named one the account does not have.
    run = _run(tmp_path, "eu-central-1", ["eu-central-1d", "eu-central-1a", "eu-central-1c"])
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    assert sorted(s.inputs["availabilityZone"] for s in subnets) == [
        "eu-central-1a", "eu-central-1c", "eu-central-1d"]
    assert len({s.inputs["cidrBlock"] for s in subnets}) == 3
    # The names of the subnets (and so their URNs) stay those of the first three zones.
    assert sorted(s.name for s in subnets) == ["solo-private-a", "solo-private-b", "solo-private-c"]
    (group,) = run.of_type("aws:autoscaling/group:Group")
    assert sorted(group.inputs["vpcZoneIdentifiers"]) == sorted(s.id for s in subnets)


def test_a_region_with_more_zones_uses_three_and_one_with_two_uses_both(tmp_path: Path) -> None:
    run = _run(tmp_path, "us-east-1", [f"us-east-1{z}" for z in "fedcba"])
    assert sorted(s.inputs["availabilityZone"] for s in run.of_type("aws:ec2/subnet:Subnet")) == [
        "us-east-1a", "us-east-1b", "us-east-1c"]
    # An account offered two zones (as us-west-1 offers new accounts `b` and `c`) had no third to use.
    (tmp_path / "two").mkdir()
    run = _run(tmp_path / "two", "eu-west-1", ["eu-west-1c", "eu-west-1b"])
    assert sorted(s.inputs["availabilityZone"] for s in run.of_type("aws:ec2/subnet:Subnet")) == [
        "eu-west-1b", "eu-west-1c"]


def test_a_region_with_too_few_zones_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        _run(tmp_path, "eu-west-1", ["eu-west-1b"])
    message = str(caught.value)
    assert "solo" in message and "eu-west-1" in message and "eu-west-1b" in message
    assert "at least 2" in message
