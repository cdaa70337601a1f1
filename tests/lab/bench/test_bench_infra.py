"""`tenantops bench infra` runs the real program for a synthetic catalogue and reports what it registered."""

from __future__ import annotations

import json

import pytest

from tenantops.cli.main import main


def test_bench_infra_counts_every_tenant(capsys: pytest.CaptureFixture[str]) -> None:
    main(["bench", "infra", "--tenants", "6", "--json"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "bench infra: [1/1] 6 tenants" in captured.err
    assert result["tenants_exported"] == 6
    assert result["pool_tenants"] + result["silo_tenants"] == 6
    assert result["silo_tenants"] >= 1  # the synthetic catalogue has silo enterprise tenants
    assert result["resources"] > 6 * 15 and result["seconds"] > 0
    assert 0 < sum(result["top_resource_types"].values()) <= result["resources"]
