"""Every /metrics series the project documents (named in backticks in the package's docstrings, the docs, the
README or deploy/README.md) is served by the controller `tenantops run` builds, on its own registry's HTTP endpoint."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.engine.root import build_controller
from tenantops.record.http import Health, HealthServer

from .conftest import REPO

pytestmark = pytest.mark.integration

DOCUMENTED = re.compile(r"`(tenantops_[a-z_]+[a-z])(?:\{[^`]*\})?`")


def documented_series() -> set[str]:
    """Every backticked `tenantops_*` name in the package and the docs, less the project's own Python packages
    (`tenantops_infra`, `tenantops_lab`), which the docs name in the same style."""
    sources = [*(REPO / "controllers" / "tenantops").rglob("*.py"), *(REPO / "docs").rglob("*.md"), REPO / "README.md",
               REPO / "deploy" / "README.md"]
    packages = {init.parent.name for root in ("infra", "tools")
                for init in (REPO / root).glob("**/tenantops_*/__init__.py")}
    names = {m.group(1) for path in sources if path.exists() for m in DOCUMENTED.finditer(path.read_text())}
    return names - packages


def _families(text: str) -> set[str]:
    """Names exposed: every sample name and every family's (a counter `x` is served as `x_total`)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            if kind == "counter":
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_every_documented_series_is_served(config_files: tuple[Path, Path], prometheus: Any, kube_api: Any,
                                           tmp_path: Path) -> None:
    documented = documented_series()
    assert {"tenantops_outbox_in_doubt_total", "tenantops_outbox_failed_total"} <= documented
    catalog, policies = config_files
    server = prometheus()
    settings = Settings(catalog=str(catalog), policies=str(policies), state=str(tmp_path / "state.db"),
                        prometheus_url=server.url, kube_url=kube_api.url)
    controller = build_controller(settings, dry_run=False, decider_names=["cost"])
    runner = controller.runner(load_config(catalog, policies))
    http = HealthServer(Health(), controller.metrics.registry, host="127.0.0.1", port=0).start()
    try:
        assert runner.tick() is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{http.port}/metrics", timeout=10) as response:
            served = _families(response.read().decode())
    finally:
        http.stop()
        controller.close()
    assert documented - served == set()
