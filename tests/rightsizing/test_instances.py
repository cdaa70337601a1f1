"""Instance types for silo tenants: cheapest fit, saving, risk."""

from __future__ import annotations

import pytest

from tenantops.config.kinds.cost import InstancePrice, RegionPrices
from tenantops.decide.rightsizing.instances import recommend_instance
from tenantops.decide.rightsizing.pricing import HOURS_PER_MONTH

GIB = 2.0**30
PRICES = RegionPrices(
    cpu_core_hour=0.03, memory_gib_hour=0.004, storage_gb_month=0.02,
    instances={
        "small": InstancePrice(vcpu=2, memory_gib=4, on_demand=0.04),
        "mem": InstancePrice(vcpu=2, memory_gib=16, on_demand=0.12),
        "big": InstancePrice(vcpu=4, memory_gib=16, on_demand=0.19),
    },
)


def _choose(cpu: float, mem: float, **kw: object):  # type: ignore[no-untyped-def]
    args = {"cpu_upper": cpu, "memory_upper": mem, "headroom": 0.2, "replicas": 2, "confidence": 1.0,
            "current_type": "big"}
    args.update(kw)
    return recommend_instance(PRICES, cpu=cpu, memory=mem, **args)  # type: ignore[arg-type]


def test_cheapest_type_that_fits_with_headroom_and_its_saving() -> None:
    choice = _choose(0.5, 2 * GIB)
    assert choice.recommended == "small"
    assert choice.saving_month == pytest.approx((0.19 - 0.04) * 2 * HOURS_PER_MONTH)
    # 3.5 GiB x 1.2 = 4.2 GiB no longer fits the 4 GiB type.
    assert _choose(0.5, 3.5 * GIB).recommended == "mem"


def test_risk_rises_with_pressure_and_with_little_history() -> None:
    calm = _choose(0.5, 1 * GIB, cpu_upper=0.6, memory_upper=1 * GIB)
    tight = _choose(0.5, 1 * GIB, cpu_upper=2.2, memory_upper=1 * GIB)
    unsure = _choose(0.5, 1 * GIB, cpu_upper=0.6, memory_upper=1 * GIB, confidence=0.2)
    assert calm.risk == 0 and calm.risk_label == "very low"
    assert tight.risk == 3
    assert unsure.risk == calm.risk + 1


def test_nothing_fits() -> None:
    choice = _choose(16, 2 * GIB)
    assert choice.recommended is None and choice.risk == 4 and "no instance type" in choice.reason
