"""Commands that never talk to a cluster do not import the Kubernetes client (its package `__init__` builds
the whole API client, which every `tenantops validate` in CI would otherwise pay for)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli.helpers import ROOT, tenantops


def imported_modules(stderr: str) -> set[str]:
    """Top-level package names a run imported, from the `-X importtime` lines on its stderr."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_validate_parses_quantities_without_importing_kubernetes() -> None:
    result = tenantops("validate", cwd=ROOT, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    modules = imported_modules(result.stderr)
    assert "tenantops" in modules and "pydantic" in modules  # the trace is real: the models were built
    assert "kubernetes" not in modules


def test_bad_quantity_is_still_rejected_by_the_kubernetes_parser(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    tiers = policies / "tiers.yaml"
    text = tiers.read_text(encoding="utf-8")
    assert "default_memory: 128Mi" in text
    tiers.write_text(text.replace("default_memory: 128Mi", "default_memory: 128Mx", 1), encoding="utf-8")
    result = tenantops("validate", "--policies", str(policies), cwd=ROOT, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 2
    assert "'128Mx' is not a Kubernetes quantity" in result.stderr
    assert "kubernetes" not in imported_modules(result.stderr)
