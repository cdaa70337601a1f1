"""The benchmarks read the repository's policies by default from any working directory, as the product's
commands do (`tenantops.config.paths`), not a `policies/` folder beside wherever they are started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenantops.cli.main import main


def test_bench_catalog_runs_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    main(["bench", "catalog", "--tenants", "3", "--repeat", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert [row["tenants"] for row in result["rows"]] == [3]
