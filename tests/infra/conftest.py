"""The Pulumi program's tests: the real program under Pulumi mocks (no CLI, no cloud)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

from tenantops.config import Config, load_config  # noqa: E402
from tenantops_infra.mocked import PROJECT_ROOT, MockRun, run_program  # noqa: E402


@pytest.fixture(scope="session")
def dev_config() -> Config:
    return load_config(PROJECT_ROOT / "stacks/dev.catalog.yaml", PROJECT_ROOT / "policies")


@pytest.fixture(scope="session")
def dev_run() -> MockRun:
    """The dev stack's program, run once per session (it takes a few seconds) and only read by tests."""
    return run_program({"tenantops:catalog": "stacks/dev.catalog.yaml", "tenantops:policies": "policies"})


@pytest.fixture(scope="session")
def prod_run() -> MockRun:
    return run_program(
        {"tenantops:catalog": "stacks/prod.catalog.yaml", "tenantops:eksCluster": "tenantops-prod"}, stack="prod"
    )
