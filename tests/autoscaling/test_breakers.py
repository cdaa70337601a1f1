from __future__ import annotations

from tenantops.decide.breakers import freeze, global_ceiling, limit_step


def test_freeze_blocks_only_scale_down() -> None:
    assert freeze(3, 5, ["cpu missing"])[0] == 5
    assert freeze(3, 5, ["cpu missing"])[1] is not None
    assert freeze(8, 5, ["cpu missing"]) == (8, None)
    assert freeze(3, 5, []) == (3, None)


def test_step_limit_both_ways() -> None:
    assert limit_step(100, 10, 20, 5)[0] == 30
    assert limit_step(1, 10, 20, 5)[0] == 5
    assert limit_step(12, 10, 20, 5) == (12, None)


def test_global_ceiling_trims_scale_ups_only() -> None:
    out, trip = global_ceiling([10, 10, 10], [20, 30, 5], 40)
    assert trip is not None
    assert out[2] == 5  # scale-down untouched
    assert sum(out) <= 40
    assert out[0] >= 10 and out[1] >= 10


def test_global_ceiling_silent_when_under() -> None:
    assert global_ceiling([1, 2], [3, 4], 10) == ([3, 4], None)
