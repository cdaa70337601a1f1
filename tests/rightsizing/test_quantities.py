"""Written quantities: read back by the Kubernetes client's parser, never below the value, at most one unit above."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantops.config.kinds.common import parse_quantity
from tenantops.quantities import MIB, quantity

CORES = st.floats(min_value=0.0, max_value=512.0, allow_nan=False)
BYTES = st.floats(min_value=0.0, max_value=2.0**40, allow_nan=False)


@settings(deadline=None)  # the first call loads the Kubernetes client's parser
@given(CORES)
def test_cpu_is_rounded_up_to_a_millicore(cores: float) -> None:
    written = quantity("cpu", cores)
    assert written.endswith("m")
    read = parse_quantity(written)
    assert read >= cores - 1e-9 and read >= 0.001
    assert read - cores <= 0.001 + 1e-9


@settings(deadline=None)
@given(BYTES)
def test_memory_is_rounded_up_to_a_mebibyte(size: float) -> None:
    written = quantity("memory", size)
    assert written.endswith("Mi")
    read = parse_quantity(written)
    assert read >= size - 1e-3 and read >= MIB
    assert read - size <= MIB + 1e-3


def test_examples() -> None:
    assert quantity("cpu", 0.2501) == "251m" and quantity("cpu", 0.25) == "250m" and quantity("cpu", 0) == "1m"
    assert quantity("memory", 300e6) == "287Mi" and quantity("memory", 512 * MIB) == "512Mi"
