"""Policy documents: the registry's schemas, their documented examples, and cross-document checks."""

from __future__ import annotations

import inspect
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from tenantops.config import ConfigError, load_policies
from tenantops.config.kinds.scaling import ScalingSpec
from tenantops.config.registry import kinds

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"


def _example(model: type) -> dict[str, object]:
    doc = inspect.getdoc(model) or ""
    assert "Example:" in doc, f"{model.__name__} has no YAML example in its docstring"
    text = textwrap.dedent(doc.split("Example:", 1)[1])
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize("kind", sorted(kinds()))
def test_documented_example_is_valid(kind: str) -> None:
    info = kinds()[kind]
    example = _example(info.model)
    assert example["kind"] == kind
    info.model.model_validate(example["spec"])


def test_shipped_policies_are_valid() -> None:
    policies = load_policies(POLICIES)
    assert set(policies.tiers) == {"free", "pro", "enterprise"}
    assert policies.pricing.regions


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def test_unknown_kind_lists_the_valid_ones(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "zz.yaml").write_text("kind: ScalingPolicyy\nname: x\nspec: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert str(issue).startswith(f"{target / 'zz.yaml'}:1: kind: unknown kind 'ScalingPolicyy'; valid kinds: ")
    assert "ScalingPolicy" in issue.message and "Tier" in issue.message


def test_unknown_key_in_spec(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "zz.yaml").write_text(
        "kind: BudgetPolicy\nname: extra\nspec:\n  actual_thresholds: [50]\n  forcast_thresholds: [90]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    assert [str(i) for i in caught.value.issues] == [f"{target / 'zz.yaml'}:5: spec.forcast_thresholds: unknown key"]


def test_tier_naming_a_missing_policy(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "zz.yaml").write_text(
        "kind: Tier\nname: gold\nspec:\n  scaling: nope\n  rightsizing: standard\n  budget: standard\n"
        "  alerts: standard\n  breakers: default\n  quota: {cpu: '1', memory: 1Gi, pods: 5}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert issue.field == "spec.scaling" and "unknown ScalingPolicy 'nope'" in issue.message


def test_duplicate_document(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "zz.yaml").write_text(
        "kind: BudgetPolicy\nname: standard\nspec: {}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert issue.line == 2 and "already defined at" in issue.message


def test_a_policy_file_with_an_upper_case_suffix_is_read_and_watched(tmp_path: Path) -> None:
    """`tiers.YAML` (as some editors and Windows tools save it) was ignored without a word."""
    from tenantops.engine.runner import fingerprint

    target = _copy(tmp_path)
    (target / "extra.YAML").write_text("kind: BudgetPolicy\nname: standard\nspec: {}\n", encoding="utf-8")
    (target / ".hidden.yaml").write_text("kind: Nonsense\n", encoding="utf-8")  # a ConfigMap's own entries
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert issue.file.endswith("extra.YAML") and "already defined at" in issue.message
    watched = [Path(p).name for p, _, _ in fingerprint(tmp_path / "catalog.yaml", target)]
    assert "extra.YAML" in watched and ".hidden.yaml" not in watched


def test_missing_global_default(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "reports.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    messages = {i.field: i.message for i in caught.value.issues}
    assert "ReportPolicy" in messages and "ControllerPolicy" in messages


def test_a_global_document_not_named_default_is_an_error_not_ignored(tmp_path: Path) -> None:
    """Only `default` of a global kind applies; a second one (a weekly report for other recipients, an
    EU price list) used to load and then do nothing, without a word."""
    target = _copy(tmp_path)
    extra = target / "zz.yaml"
    extra.write_text("# the finance team's report\nkind: ReportPolicy\nname: finance\n"
                     "spec: {schedule: \"0 9 1 * *\", recipients: [finance@example.com]}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (str(extra), 2, "name")
    assert "only the document named 'default' applies" in issue.message and "'finance'" in issue.message


@pytest.mark.parametrize("name", ["Free Tier!", "gold plan", "x" * 64, "-gold", "gold.", "gölд"])
def test_a_tier_name_that_is_no_kubernetes_label_value_is_an_error_at_its_line(tmp_path: Path, name: str) -> None:
    """A tier's name is the `tier` label of its tenants' namespaces, Deployments and quotas (and their cost
    tag): a name the API server refuses as a label value used to pass validate, and then `pulumi up` failed
    for every pooled tenant of the tier."""
    target = _copy(tmp_path)
    tiers = target / "tiers.yaml"
    tiers.write_text(tiers.read_text(encoding="utf-8").replace("name: free\n", f"name: {name!r}\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (str(tiers), 5, "name")
    assert "label value" in issue.message


def test_tier_names_may_be_any_kubernetes_label_value(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    tiers = target / "tiers.yaml"
    tiers.write_text(tiers.read_text(encoding="utf-8").replace("name: free\n", "name: Gold_2.v1\n"), encoding="utf-8")
    assert "Gold_2.v1" in load_policies(target).tiers


def test_a_pool_whose_node_type_has_no_price_is_an_error_at_its_line(tmp_path: Path) -> None:
    """The pool's nodes are what its idle capacity costs; without their price the idle and shared cost
    dropped out of every total, so tenants and buckets no longer added up to the bill."""
    target = _copy(tmp_path)
    cost = target / "cost.yaml"
    lines = cost.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if line.lstrip().startswith("eu-west-1: {instance_type:"))
    lines[number] = lines[number].replace("m6i.xlarge", "m7i.xlarge")
    cost.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (str(cost), number + 1, "spec.pools.eu-west-1.instance_type")
    assert issue.message.startswith("pool instance type 'm7i.xlarge' has no price in eu-west-1 in the Pricing policy")


def test_passes_further_apart_than_a_pass_may_charge_are_an_error(tmp_path: Path) -> None:
    """A pass charges the time since the one before, at most max_pass_gap_seconds (900): with passes every
    30 minutes to spare Prometheus, half of every tenant's cost went uncounted, pass after pass."""
    target = _copy(tmp_path)
    reports = target / "reports.yaml"
    text = reports.read_text(encoding="utf-8")
    line = text[: text.index("interval_seconds: 30")].count("\n") + 1
    reports.write_text(text.replace("interval_seconds: 30", "interval_seconds: 1800"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (str(reports), line, "spec.interval_seconds")
    assert "max_pass_gap_seconds is 900" in issue.message and "at least 1803" in issue.message
    cost = target / "cost.yaml"
    cost.write_text(cost.read_text(encoding="utf-8").replace("max_pass_gap_seconds: 900",
                                                             "max_pass_gap_seconds: 1803"), encoding="utf-8")
    assert load_policies(target).controller.interval_seconds == 1800


def test_more_budget_thresholds_than_an_aws_budget_takes_are_an_error_at_their_line(tmp_path: Path) -> None:
    """Each distinct threshold is one notification of the tenant's AWS Budget, which takes at most ten:
    eleven passed validate and preview, then failed `pulumi up` halfway through the tenants."""
    target = _copy(tmp_path)
    cost = target / "cost.yaml"
    text = cost.read_text(encoding="utf-8")
    assert "  actual_thresholds: [50, 80, 100]\n  forecast_thresholds: [90, 100]\n" in text
    line = text[: text.index("  forecast_thresholds: [90, 100]")].count("\n") + 1
    cost.write_text(text.replace("  actual_thresholds: [50, 80, 100]",
                                 "  actual_thresholds: [10, 20, 30, 40, 50, 60, 70, 80, 100, 100]"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (str(cost), line, "spec.forecast_thresholds")
    assert issue.message == "11 distinct actual and forecast thresholds; an AWS Budget takes at most 10 notifications"
    cost.write_text(text.replace("  actual_thresholds: [50, 80, 100]",
                                 "  actual_thresholds: [10, 20, 30, 40, 50, 60, 80, 100, 100]"), encoding="utf-8")
    assert load_policies(target)  # ten distinct (the repeated 100 is one notification) is AWS's limit


def test_bad_quantity(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    text = (target / "tiers.yaml").read_text(encoding="utf-8").replace('cpu: "16"', "cpu: lots", 1)
    (target / "tiers.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert issue.field == "spec.quota.cpu" and "Kubernetes quantity" in issue.message


@pytest.mark.parametrize(("line", "field", "hint"), [
    ("- {metric: cpu, type: utilization, target: 70}", "target", "for 70% write 0.7"),
    ("- {metric: cpu, target: 80}", "target", "for 80% write 0.8"),
    ("- {metric: cpu, type: utilization, target: 0.7, capacity: 90}", "capacity", "for 90% write 0.9"),
])
def test_utilisation_in_percent_is_rejected_at_its_line(tmp_path: Path, line: str, field: str, hint: str) -> None:
    """The HPA habit `target: 70` would mean 7000% of the request; it is an error at the file, line and field."""
    target = _copy(tmp_path)
    (target / "zz.yaml").write_text(
        f"kind: ScalingPolicy\nname: percent\nspec:\n  metrics:\n    {line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line) == (str(target / "zz.yaml"), 5)
    assert issue.field.endswith(f"metrics[0].{field}")
    assert "fraction of the request, at most 1" in issue.message and hint in issue.message


def test_per_replica_targets_are_not_bounded(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "zz.yaml").write_text(
        "kind: ScalingPolicy\nname: rps\nspec:\n  metrics:\n    - {metric: requests, type: per_replica, target: 70}\n",
        encoding="utf-8")
    spec = load_policies(target).get("ScalingPolicy", "rps")
    assert isinstance(spec, ScalingSpec) and spec.metrics[0].target == 70


@pytest.mark.parametrize(("queries", "message"), [
    ('    "cpu_{kind}": x\n', "a split is written name_{label=value|value}"),
    ('    "cpu_{kind=request|limit}": x\n    cpu_request: y\n', "'cpu_request' is given by both"),
])
def test_a_malformed_or_overlapping_query_split_is_rejected(tmp_path: Path, queries: str, message: str) -> None:
    """A query named `cpu_{kind=request|limit}` gives two readings; a name that is not such a split, or two
    queries giving one reading, is an error at the policy's file and line, not a reading silently lost."""
    target = _copy(tmp_path)
    (target / "zz.yaml").write_text(f"kind: MetricsPolicy\nname: split\nspec:\n  queries:\n{queries}",
                                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(target)
    (issue,) = caught.value.issues
    assert issue.file == str(target / "zz.yaml") and issue.field.endswith("queries")
    assert message in issue.message
