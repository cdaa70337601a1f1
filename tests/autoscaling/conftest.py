from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.fixture
def repo() -> Path:
    return REPO
