from __future__ import annotations

from tenantops.decide.breakers import freeze, limit_step


def test_freeze_blocks_only_scale_down() -> None:
    assert freeze(3, 5, ["cpu missing"])[0] == 5
    assert freeze(3, 5, ["cpu missing"])[1] is not None
    assert freeze(8, 5, ["cpu missing"]) == (8, None)
    assert freeze(3, 5, []) == (3, None)


def test_step_limit_both_ways() -> None:
    assert limit_step(100, 10, 20, 5)[0] == 30
    assert limit_step(1, 10, 20, 5)[0] == 5
    assert limit_step(12, 10, 20, 5) == (12, None)
