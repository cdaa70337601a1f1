"""The RightsizingPolicy schema: its documented example validates, and bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tenantops.config import ConfigError
from tenantops.config.kinds.rightsizing import RightsizingSpec
from tenantops.config.loader import load_policies

REPO = Path(__file__).resolve().parents[2]


def test_docstring_example_is_a_valid_document() -> None:
    doc = RightsizingSpec.__doc__ or ""
    example = yaml.safe_load(doc.split("Example:", 1)[1])
    spec = RightsizingSpec.model_validate(example["spec"])
    assert spec.cpu_percentile == 0.95 and spec.effective_cpu_margin == 0.0 and spec.effective_memory_margin == 0.15


def test_margins_fall_back_to_the_shared_margin() -> None:
    spec = RightsizingSpec(margin=0.2, memory_margin=0.3)
    assert spec.effective_cpu_margin == 0.2 and spec.effective_memory_margin == 0.3


def test_bad_values_are_reported_with_file_line_and_field(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for source in (REPO / "policies").glob("*.yaml"):
        if source.name != "rightsizing.yaml":
            (policies / source.name).write_text(source.read_text())
    text = (REPO / "policies" / "rightsizing.yaml").read_text()
    text = text.replace("cpu_percentile: 0.99", "cpu_percentile: 1.5", 1).replace("min_memory: 512Mi",
                                                                              "min_memory: 512Mi\n  max_memory: 100Mi")
    (policies / "rightsizing.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_policies(policies)
    rendered = [str(i) for i in caught.value.issues]
    line = text.splitlines().index("  cpu_percentile: 1.5") + 1
    assert any(r.startswith(f"{policies / 'rightsizing.yaml'}:{line}: spec.cpu_percentile") for r in rendered)
    assert any("max_memory (100Mi) is below the minimum (512Mi)" in r for r in rendered)


@pytest.mark.parametrize(("retry", "field", "message"), [
    ("{initial_seconds: 600, max_seconds: 60}", "spec.retry", "max_seconds (60) is below initial_seconds (600)"),
    ("{initial_seconds: 0}", "spec.retry.initial_seconds", "greater than 0"),
    ("{max_seconds: .inf}", "spec.retry.max_seconds", ""),
    ("{initial: 300}", "spec.retry.initial", "unknown key"),
])
def test_a_bad_retry_backoff_is_named_by_file_line_and_field(tmp_path: Path, retry: str, field: str,
                                                            message: str) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for source in (REPO / "policies").glob("*.yaml"):
        (policies / source.name).write_text(source.read_text())
    path = policies / "rightsizing.yaml"
    text = path.read_text().replace("  mode: apply\n", f"  mode: apply\n  retry: {retry}\n", 1)
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_policies(policies)
    line = text.splitlines().index(f"  retry: {retry}") + 1
    rendered = [str(i) for i in caught.value.issues]
    assert any(r.startswith(f"{path}:{line}: {field}") and message in r for r in rendered), rendered


def test_the_retry_backoff_doubles_from_its_initial_wait_to_its_maximum() -> None:
    spec = RightsizingSpec()
    assert (spec.retry.initial_seconds, spec.retry.max_seconds) == (300, 21600)
    assert [spec.retry.delay(n) for n in (1, 2, 3, 7, 8, 1000)] == [300, 600, 1200, 19200, 21600, 21600]
    assert RightsizingSpec.model_validate({"retry": {"initial_seconds": 30}}).retry.delay(4) == 240


@pytest.mark.parametrize(("text", "value"), [(".5", 0.5), ("1e3", 1000.0), ("1Pi", 2.0**50), ("250m", 0.25),
                                             ("512Mi", 512 * 2.0**20), ("100u", 1e-4)])
def test_every_quantity_the_api_server_accepts_is_a_policy_quantity(text: str, value: float) -> None:
    from tenantops.decide.rightsizing.params import resource_params

    spec = RightsizingSpec(min_cpu=text, min_memory=text)
    assert resource_params(spec, "cpu").minimum == pytest.approx(value)
    assert resource_params(spec, "memory").minimum == pytest.approx(value)


# Python's Decimal, under the client's parser, reads NaN, Infinity and 1_000, and 1e400 overflows a float.
@pytest.mark.parametrize("text", ["lots", "-1", "1Qi", "", "1.2.3", "NaN", "Infinity", "-inf", "1e400", "1_000"])
def test_what_the_api_server_refuses_is_refused_naming_the_field(text: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        RightsizingSpec(min_cpu=text)
    assert caught.value.errors()[0]["loc"] == ("min_cpu",)
