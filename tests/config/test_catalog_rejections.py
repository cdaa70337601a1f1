"""Every rejection the catalogue loader promises, each reported at its exact file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tenantops.config import ConfigError, load_config, load_policies
from tenantops.config.loader import Policies

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"

VALID_TENANT = """\
  - id: acme
    tier: pro
    isolation: pool
    region: us-east-1
    budget_usd_month: 100
    contacts: [ops@acme.example]
    workloads:
      - {name: api, min_replicas: 1, max_replicas: 5}
"""


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies(POLICIES)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def issues_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, POLICIES)
    return [str(i) for i in caught.value.issues]


def test_valid_catalogue_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "tenants:\n" + VALID_TENANT), POLICIES)
    assert [t.id for t in config.tenants] == ["acme"]
    assert config.for_tenant("acme").tier_name == "pro"


def test_unknown_key_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT + "    colour: blue\n")
    assert issues_of(path) == [f"{path}:10: tenants[0].colour: unknown key"]


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "tenantz: []\ntenants: []\n")
    found = issues_of(path)
    assert f"{path}:1: tenantz: unknown key" in found


def test_duplicate_tenant_ids_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT + VALID_TENANT)
    assert issues_of(path) == [f"{path}:10: tenants[1].id: duplicate tenant id 'acme' (first at line 2)"]


@pytest.mark.parametrize("bad_id", ["Acme", "-acme", "acme-", "ac_me", "a" * 41, "acmé"])
def test_ids_must_be_dns_labels(tmp_path: Path, bad_id: str) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("id: acme", f"id: {bad_id}"))
    found = issues_of(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:2: tenants[0].id: ")


def test_unknown_tier_lists_the_defined_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("tier: pro", "tier: platinum"))
    assert issues_of(path) == [
        f"{path}:3: tenants[0].tier: unknown tier 'platinum'; defined tiers: enterprise, free, pro"
    ]


def test_min_above_max(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("min_replicas: 1, max_replicas: 5",
                                                                "min_replicas: 6, max_replicas: 5"))
    assert issues_of(path) == [
        f"{path}:9: tenants[0].workloads[0].max_replicas: max_replicas (5) is below min_replicas (6)"
    ]


@pytest.mark.parametrize(("bounds", "field"), [
    ("min_replicas: 1, max_replicas: 3000000000", "max_replicas"),
    ("min_replicas: 99999999999999999999999, max_replicas: 99999999999999999999999", "min_replicas"),
])
def test_replica_counts_past_what_kubernetes_and_auto_scaling_hold(tmp_path: Path, bounds: str, field: str) -> None:
    """A Deployment's replicas and an Auto Scaling group's sizes are 32-bit: a larger count passed validate
    and then failed `pulumi up` (and any scale write of it)."""
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("min_replicas: 1, max_replicas: 5", bounds))
    found = issues_of(path)
    expected = f"{path}:9: tenants[0].workloads[0].{field}: Input should be less than or equal to 2147483647"
    assert expected in found, found


def test_negative_budget(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("budget_usd_month: 100", "budget_usd_month: -5"))
    found = issues_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:6: tenants[0].budget_usd_month: ")


def test_malformed_email(tmp_path: Path) -> None:
    contacts = VALID_TENANT.replace("[ops@acme.example]", "[ops@acme.example, not-an-email]")
    path = write(tmp_path, "tenants:\n" + contacts)
    found = issues_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:7: tenants[0].contacts[1]: ")


def test_bad_yaml_reports_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n  - id: acme\n    tier: [pro\n")
    found = issues_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:4: <yaml>: invalid YAML")


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("    region: us-east-1\n",
                                                                "    region: us-east-1\n    region: eu-west-1\n"))
    assert f"{path}:6: tenants[0].region: duplicate key" in issues_of(path)


def test_tenants_may_share_fields_by_anchor_and_merge_key(tmp_path: Path) -> None:
    """The second tenant merges the first (`<<: *acme`) and overrides its id and one workload's bounds."""
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("  - id: acme", "  - &acme\n    id: acme").replace(
        "      - {name: api,", "      - &api {name: api,") + "  - <<: *acme\n    id: globex\n    workloads:\n"
                 "      - {<<: *api, max_replicas: 9}\n")
    globex = load_config(path, POLICIES).tenant("globex")
    assert globex.region == "us-east-1" and [(w.name, w.max_replicas) for w in globex.workloads] == [("api", 9)]
    bad = write(tmp_path, path.read_text(encoding="utf-8").replace("max_replicas: 9}", "max_replicas: -9}"))
    assert f"{bad}:14: tenants[1].workloads[0].max_replicas: " in issues_of(bad)[0]


def test_every_issue_is_reported_in_one_run(tmp_path: Path) -> None:
    second = VALID_TENANT.replace("id: acme", "id: Bad_Id").replace("tier: pro", "tier: gold")
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("budget_usd_month: 100", "budget_usd_month: -1")
                 + second + VALID_TENANT)
    found = issues_of(path)
    fields = [f.split(": ")[1] for f in found]
    assert fields == ["tenants[0].budget_usd_month", "tenants[1].id", "tenants[1].tier", "tenants[2].id"]


def test_override_errors_point_into_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT
                 + "    overrides:\n      scaling: {tolerance: 2}\n")
    found = issues_of(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:11: tenants[0].overrides.scaling.tolerance: ")


def test_overrides_merge_over_the_tier(tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n" + VALID_TENANT
                 + "    overrides:\n      scaling: {scale_down: {stabilization_seconds: 900}}\n")
    config = load_config(path, POLICIES)
    resolved = config.for_tenant("acme").scaling
    tier_doc = config.policies.get("ScalingPolicy", config.policies.tiers["pro"].scaling)
    assert resolved.scale_down.stabilization_seconds == 900
    assert resolved.scale_up == tier_doc.scale_up  # type: ignore[attr-defined]


def test_catalogue_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    assert issues_of(path) == [f"{path}:1: <document>: a catalogue is one mapping with a `tenants:` list"]


def test_missing_file(tmp_path: Path) -> None:
    found = issues_of(tmp_path / "nope.yaml")
    assert len(found) == 1 and "cannot read" in found[0]


@pytest.mark.parametrize("bad_name", ['"Acme\\r\\nBcc: all@example.com"', '"Acme\\nCorp"', '"Acme\\tCorp"',
                                      '"\\x1b[31mAcme"', '"   "', '"' + "A" * 201 + '"'])
def test_display_names_are_one_line_of_text(tmp_path: Path, bad_name: str) -> None:
    """The name goes into mail subjects: a line break there would inject headers (or fail every mail)."""
    body = VALID_TENANT.replace("    tier: pro\n", f"    name: {bad_name}\n    tier: pro\n")
    path = write(tmp_path, "tenants:\n" + body)
    found = issues_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:3: tenants[0].name: ")


@pytest.mark.parametrize("hidden", ["\u202e", "\u2066", "\u200b", "\ufeff"])
def test_display_names_hold_no_reordering_or_invisible_spacing(tmp_path: Path, hidden: str) -> None:
    """A right-to-left override shows the rest of a mail subject reversed; a zero-width space makes two
    tenants that read the same differ."""
    body = VALID_TENANT.replace("    tier: pro\n", f"    name: \"Acme {hidden}gnillib\"\n    tier: pro\n")
    path = write(tmp_path, "tenants:\n" + body)
    [found] = issues_of(path)
    assert found.startswith(f"{path}:3: tenants[0].name: must not hold invisible") and f"U+{ord(hidden):04X}" in found


def test_display_names_may_be_any_one_line_text(tmp_path: Path) -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # a zero-width non-joiner, as Persian writes it
    body = VALID_TENANT.replace("    tier: pro\n", f"    name: \"{persian}\"\n    tier: pro\n")
    assert load_config(write(tmp_path, "tenants:\n" + body), POLICIES).tenants[0].display_name == persian


def test_display_names_may_be_any_one_line_text_in_latin(tmp_path: Path) -> None:
    body = VALID_TENANT.replace("    tier: pro\n", "    name: \"Acme & Söhne <GmbH> 'Ω'\"\n    tier: pro\n")
    config = load_config(write(tmp_path, "tenants:\n" + body), POLICIES)
    assert config.tenants[0].display_name == "Acme & Söhne <GmbH> 'Ω'"


def test_a_tenant_in_a_region_without_prices_is_refused_at_its_region(tmp_path: Path) -> None:
    """Its cost used to be skipped: $0 in every month to date, report and budget check, with one log line."""
    path = write(tmp_path, "tenants:\n" + VALID_TENANT.replace("us-east-1", "ap-southeast-2"))
    assert issues_of(path) == [
        f"{path}:5: tenants[0].region: the Pricing policy has no prices for region 'ap-southeast-2' "
        "(priced: eu-central-1, eu-west-1, us-east-1); the tenant's cost would not be counted"
    ]


def test_a_silo_workload_whose_instance_type_has_no_price_is_refused_at_it(tmp_path: Path) -> None:
    """It used to be charged at the region's cheapest instance, whatever it really runs on."""
    tenant = VALID_TENANT.replace("isolation: pool", "isolation: silo").replace(
        "max_replicas: 5}", "max_replicas: 5, instance_type: m6i.large}\n"
        "      - {name: gpu, min_replicas: 1, max_replicas: 2, instance_type: p5.48xlarge}")
    path = write(tmp_path, "tenants:\n" + tenant)
    (issue,) = issues_of(path)
    assert issue.startswith(f"{path}:10: tenants[0].workloads[1].instance_type: instance type 'p5.48xlarge' "
                            "has no price in us-east-1 in the Pricing policy (priced: c6i.large, ")
    # A pooled tenant's instance_type is not what it is charged by, so it is not checked.
    pooled = VALID_TENANT.replace("max_replicas: 5}", "max_replicas: 5, instance_type: p5.48xlarge}")
    assert load_config(write(tmp_path, "tenants:\n" + pooled), POLICIES).tenants[0].id == "acme"


@pytest.mark.parametrize("isolation", ["silo", "pool"])
def test_two_tenants_whose_id_and_workload_join_to_one_name_are_refused(tmp_path: Path, isolation: str) -> None:
    """`acme` + `eu-api` and `acme-eu` + `api` were one Auto Scaling group `tenantops-dev-acme-eu-api` (silo),
    and one Pulumi resource name `acme-eu-api` (either isolation): the controller scaled the group for both
    tenants and `pulumi up` stopped at a duplicate resource."""
    acme = VALID_TENANT.replace("isolation: pool", f"isolation: {isolation}").replace("name: api,", "name: eu-api,")
    acme_eu = VALID_TENANT.replace("isolation: pool", f"isolation: {isolation}").replace("id: acme", "id: acme-eu")
    path = write(tmp_path, "tenants:\n" + acme + acme_eu)
    assert issues_of(path) == [
        f"{path}:17: tenants[1].workloads[0].name: tenant 'acme-eu' workload 'api' and tenant 'acme' workload "
        "'eu-api' (line 9) both name their resources 'acme-eu-api'; rename one of the workloads"]
    # A tenant id that is a prefix of another's is not a collision by itself.
    fine = VALID_TENANT.replace("isolation: pool", f"isolation: {isolation}")
    other = fine.replace("id: acme", "id: acme-eu")
    assert [t.id for t in load_config(write(tmp_path, "tenants:\n" + fine + other), POLICIES).tenants] == [
        "acme", "acme-eu"]


def test_a_pooled_workload_above_its_tiers_per_container_maximum_is_refused(tmp_path: Path) -> None:
    # The free tier's namespace LimitRange allows 1 CPU and 2Gi per container: a pod asking more is refused
    # by the API server, so the Deployment would never run while `pulumi up` reported success.
    tenant = VALID_TENANT.replace("tier: pro", "tier: free").replace(
        "{name: api, min_replicas: 1, max_replicas: 5}",
        "{name: api, min_replicas: 1, max_replicas: 5, cpu_request: 1500m, memory_request: 4Gi}")
    path = write(tmp_path, "tenants:\n" + tenant)
    assert issues_of(path) == [
        f"{path}:9: tenants[0].workloads[0].cpu_request: 1500m is above the per-container maximum cpu of tier "
        "'free', 1 (limits.max_cpu); the namespace would refuse every pod of 'api'",
        f"{path}:9: tenants[0].workloads[0].memory_request: 4Gi is above the per-container maximum memory of tier "
        "'free', 2Gi (limits.max_memory); the namespace would refuse every pod of 'api'",
    ]
    silo = tenant.replace("isolation: pool", "isolation: silo")  # a silo's instances have no LimitRange
    assert [t.id for t in load_config(write(tmp_path, "tenants:\n" + silo), POLICIES).tenants] == ["acme"]


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "true", "False"])
def test_a_yaml_boolean_is_not_a_number(tmp_path: Path, word: str) -> None:
    """pydantic takes a boolean as 1 or 0 where a number is due, and YAML reads these words as booleans:
    `min_replicas: yes` was one replica, `budget_usd_month: on` one dollar."""
    body = VALID_TENANT.replace("min_replicas: 1", f"min_replicas: {word}").replace("budget_usd_month: 100",
                                                                                   f"budget_usd_month: {word}")
    path = write(tmp_path, "tenants:\n" + body)
    shown = "true" if word.lower() in ("yes", "on", "true") else "false"
    assert issues_of(path) == [
        f"{path}:6: tenants[0].budget_usd_month: expected a number, not the boolean {shown} (YAML reads "
        "yes/no/on/off as booleans)",
        f"{path}:9: tenants[0].workloads[0].min_replicas: expected a number, not the boolean {shown} (YAML reads "
        "yes/no/on/off as booleans)",
    ]


def test_a_yaml_boolean_is_not_a_number_in_a_policy_either(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(POLICIES, tmp_path / "policies")
    scaling = tmp_path / "policies" / "scaling.yaml"
    text = scaling.read_text()
    assert "startup_seconds: " in text
    before, after = text.split("startup_seconds: ", 1)
    scaling.write_text(before + "startup_seconds: yes" + after[after.index("\n"):])
    with pytest.raises(ConfigError) as caught:
        load_policies(tmp_path / "policies")
    [issue] = [str(i) for i in caught.value.issues]
    assert "startup_seconds: expected a number, not the boolean true" in issue and "scaling.yaml:" in issue


def test_an_environment_whose_controller_role_name_iam_refuses(tmp_path: Path) -> None:
    """`tenantops-<environment>-controller` is the controller's IAM role, at most 64 characters."""
    fits = "e" * 43
    config = load_config(write(tmp_path, f"environment: {fits}\ntenants:\n" + VALID_TENANT), POLICIES)
    assert config.catalog.environment == fits
    path = write(tmp_path, f"environment: {fits}x\ntenants:\n" + VALID_TENANT)
    assert issues_of(path) == [f"{path}:1: environment: must be at most 43 characters (got 44): the controller's IAM "
                               f"role 'tenantops-{fits}x-controller' would be longer than IAM's 64"]


def test_a_contact_named_twice_in_any_case_is_refused_at_its_line(tmp_path: Path) -> None:
    body = VALID_TENANT.replace("contacts: [ops@acme.example]", "contacts: [ops@acme.example, Ops@Acme.example]")
    path = write(tmp_path, "tenants:\n" + body)
    assert issues_of(path) == [f"{path}:7: tenants[0].contacts: contact 'Ops@acme.example' appears twice "
                               "(addresses are compared in any case)"]


@pytest.mark.parametrize("text", ["NaN", "Infinity", "1e400"])
def test_a_request_the_api_server_cannot_read_is_refused_at_its_line(tmp_path: Path, text: str) -> None:
    """The client's quantity parser (Python's Decimal under it) reads NaN and Infinity, and 1e400 is a
    float's infinity: validate passed them, and the pool program would write a request the API server refuses."""
    tenant = VALID_TENANT.replace("{name: api, min_replicas: 1, max_replicas: 5}",
                                  f"{{name: api, min_replicas: 1, max_replicas: 5, cpu_request: {text}}}")
    path = write(tmp_path, "tenants:\n" + tenant)
    [issue] = issues_of(path)
    assert issue.startswith(f"{path}:9: tenants[0].workloads[0].cpu_request: ") and "not a Kubernetes quantity" in issue
