"""`tenantops validate` as CI and people call it: exit codes, error format, environment contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTOPS_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tenantops.cli.main", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60, check=False,
    )


def test_example_catalogue_is_valid() -> None:
    result = run("validate", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tenants"] == 12 and summary["valid"] is True


def test_bad_catalogue_exits_2_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants:\n  - id: UPPER\n", encoding="utf-8")
    result = run("validate", "--catalog", str(bad))
    assert result.returncode == 2
    assert f"{bad}:2: tenants[0].id:" in result.stderr


def test_environment_variables_select_the_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants: 3\n", encoding="utf-8")
    result = run("validate", env={"TENANTOPS_CATALOG": str(bad)})
    assert result.returncode == 2 and str(bad) in result.stderr
    result = run("validate", env={"TENANTOPS_POLICIES": str(tmp_path / "missing")})
    assert result.returncode == 2 and "policy directory does not exist" in result.stderr


def test_flag_beats_environment(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants: 3\n", encoding="utf-8")
    result = run("validate", "--catalog", "stacks/dev.catalog.yaml", env={"TENANTOPS_CATALOG": str(bad)})
    assert result.returncode == 0, result.stderr


def test_unknown_flag_is_bad_input() -> None:
    result = run("validate", "--no-such-flag")
    assert result.returncode == 2


def test_alias_loops_and_alias_bombs_are_bad_input_at_their_line(tmp_path: Path) -> None:
    """Aliases that refer to themselves, or multiply (six levels of nine-fold aliases are half a million
    values from 300 bytes; nine levels would fill the memory), exit 2 naming the file and line."""
    loop = tmp_path / "loop.yaml"
    loop.write_text("tenants: &t\n  - *t\n", encoding="utf-8")
    result = run("validate", "--catalog", str(loop))
    assert result.returncode == 2, result.stderr
    assert f"{loop}:1: tenants[0]: an alias refers to the value it is part of" in result.stderr
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcde", "bcdef", strict=True):
        levels.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join([*levels, "tenants: *f"]) + "\n", encoding="utf-8")
    result = run("validate", "--catalog", str(bomb))
    assert result.returncode == 2, result.stderr
    assert f"{bomb}:1: <yaml>: aliases expand to more than" in result.stderr


def test_json_of_an_invalid_catalogue_is_one_document_listing_the_issues(tmp_path: Path) -> None:
    """With --json an invalid catalogue printed nothing on stdout (the issues went to stderr only), so a CI
    step reading the document failed to parse it instead of seeing `valid: false`."""
    bad = tmp_path / "catalog.yaml"
    bad.write_text("tenants:\n  - id: Acme!\n", encoding="utf-8")
    result = run("validate", "--catalog", str(bad), "--json")
    assert result.returncode == 2
    summary = json.loads(result.stdout)
    assert summary["valid"] is False and summary["catalog"] == str(bad)
    issues = summary["issues"]
    assert issues and all(i["file"] == str(bad) and i["line"] >= 2 for i in issues), issues
    assert {"file", "line", "field", "message"} <= set(issues[0])
    assert f"{bad}:2:" in result.stderr  # the listing people read is still there
