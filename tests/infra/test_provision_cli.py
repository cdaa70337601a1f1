"""`tenantops provision`: input errors before Pulumi runs (exit 2), a clear message without the CLI (exit 1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tenantops.cli.main import main
from tenantops.cli.provision import PROJECT_ROOT, stack_paths
from tenantops.config import ConfigError


def _exit_code(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code or 0)


def test_stack_files_name_their_catalogues() -> None:
    for stack in ("dev", "prod"):
        catalog, policies = stack_paths(PROJECT_ROOT, stack)
        assert catalog == PROJECT_ROOT / "stacks" / f"{stack}.catalog.yaml" and catalog.is_file()
        assert policies == PROJECT_ROOT / "policies"


def test_missing_pulumi_cli_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH, so no `pulumi`
    monkeypatch.delenv("TENANTOPS_CATALOG", raising=False)
    monkeypatch.delenv("TENANTOPS_POLICIES", raising=False)
    assert shutil.which("pulumi") is None
    assert _exit_code(["provision", "--stack", "dev", "--preview"]) == 1
    err = capsys.readouterr().err
    assert "Pulumi CLI is not installed" in err and "get.pulumi.com" in err


def test_unknown_stack_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["provision", "--stack", "staging"]) == 2
    err = capsys.readouterr().err
    assert "unknown stack 'staging'" in err and "dev" in err and "prod" in err


def test_bad_catalogue_is_reported_before_pulumi_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text(
        "tenants:\n  - id: acme\n    tier: platinum\n    isolation: pool\n    region: us-east-1\n"
        "    budget_usd_month: 10\n    contacts: [ops@acme.example]\n"
        "    workloads: [{name: api, min_replicas: 1, max_replicas: 2}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _exit_code(["provision", "--stack", "dev", "--catalog", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: tenants[0].tier" in err and "platinum" in err


@pytest.mark.parametrize(("body", "line", "field"), [
    ("config: {tenantops:catalog: [\n", 2, "<yaml>"),
    ("- config\n", 1, "<document>"),
    ("config: [tenantops:catalog]\n", 1, "config"),
    ("config:\n  aws:region: us-east-1\n  tenantops:catalog: [stacks/a.yaml]\n", 3, "config.tenantops:catalog"),
    ("config:\n  tenantops:catalog: stacks/a.yaml\n  tenantops:policies: {dir: policies}\n", 3,
     "config.tenantops:policies"),
    ("config:\n  tenantops:catalog: stacks/a.yaml\n  tenantops:catalog: stacks/b.yaml\n", 3,
     "config.tenantops:catalog"),
])
def test_a_malformed_stack_file_is_bad_input_at_its_line(tmp_path: Path, body: str, line: int, field: str) -> None:
    """The stack file was read with a bare `yaml.safe_load`: bad YAML ended in `error: ParserError` and a
    `config:` that is no mapping in `AttributeError` (exit 1, no file named); a duplicate key let the last win."""
    (tmp_path / "stacks").mkdir()
    stack = tmp_path / "stacks" / "Pulumi.zz.yaml"
    stack.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        stack_paths(tmp_path, "zz")
    assert [(i.file, i.line, i.field) for i in caught.value.issues] == [(str(stack), line, field)]


@pytest.mark.parametrize("stack", ["../stacks/Pulumi.dev", "dev/../prod", "dev prod", ""])
def test_a_stack_name_that_is_no_name_is_unknown_and_the_stacks_are_listed(stack: str) -> None:
    with pytest.raises(ConfigError) as caught:
        stack_paths(PROJECT_ROOT, stack)
    (issue,) = caught.value.issues
    assert issue.field == "--stack" and issue.message.endswith("stacks: dev, prod")


@pytest.mark.parametrize("flags", [["--up", "--destroy"], ["--destroy", "--up"], ["--preview", "--up"],
                                   ["--preview", "--destroy"]])
def test_two_modes_at_once_are_a_usage_error_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    """The three modes shared one destination, so the last flag won: `--destroy --up` applied and
    `--up --destroy` destroyed, with no word of the other flag."""
    monkeypatch.setenv("PATH", str(tmp_path))  # were the flags accepted, the missing CLI would be exit 1
    assert _exit_code(["provision", "--stack", "dev", *flags, "--yes"]) == 2
    err = capsys.readouterr().err
    assert all(flag in err for flag in flags) and "Pulumi" not in err, err
