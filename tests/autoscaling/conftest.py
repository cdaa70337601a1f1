from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tenantops.config import Config, load_config
from tenantops.config.kinds.scaling import ScalingSpec

REPO = Path(__file__).resolve().parents[2]


def spec(**overrides: object) -> ScalingSpec:
    base: dict[str, object] = {
        "algorithm": "predictive",
        "metrics": [{"metric": "cpu", "type": "utilization", "target": 0.7}],
        "scale_up": {"max_percent": 900, "max_pods": 16, "period_seconds": 60},
        "scale_down": {"stabilization_seconds": 0, "max_percent": 100, "period_seconds": 15},
    }
    base.update(overrides)
    return ScalingSpec.model_validate(base)


def pool_config(tmp_path: Path, cpu_limit: str | None = None) -> Config:
    """The repository's policies and one pro-tier pooled workload of 500m (with `cpu_limit`, if given)."""
    limit = f', cpu_limit: "{cpu_limit}"' if cpu_limit else ""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent(f"""\
        tenants:
          - id: acme
            tier: pro
            isolation: pool
            region: us-east-1
            budget_usd_month: 100000
            contacts: [ops@acme.example]
            workloads:
              - {{name: api, min_replicas: 1, max_replicas: 60, cpu_request: 500m{limit}}}
        """), encoding="utf-8")
    return load_config(catalog, REPO / "policies")


@pytest.fixture
def repo() -> Path:
    return REPO
