"""The installation-wide replica ceiling holds excess scale-ups, smallest increases first."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tenantops.engine.ceiling import RULE, apply_ceiling
from tenantops.structs.plan import ScaleAction, ScaleTarget, TargetKind

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _action(tenant: str, current: int, desired: int) -> ScaleAction:
    return ScaleAction(tenant, "api", ScaleTarget(TargetKind.KUBERNETES, "api", f"tenant-{tenant}"), current, desired,
                       "r", "why")


def test_under_the_ceiling_nothing_changes() -> None:
    actions = [_action("a", 2, 5), _action("b", 4, 1)]
    out, records = apply_ceiling(actions, current_total=6, ceiling=100, now=NOW)
    assert out == actions and records == []


def test_smallest_increases_admitted_first_and_scale_downs_free_room() -> None:
    actions = [_action("big", 1, 20), _action("small", 1, 3), _action("down", 10, 4)]
    out, records = apply_ceiling(actions, current_total=15, ceiling=20, now=NOW)
    by = {a.tenant: a for a in out}
    assert by["small"].desired == 3 and by["down"].desired == 4  # 15 - 6 + 2 = 11 <= 20
    assert by["big"].desired == 1 and by["big"].rule == RULE  # +19 would make 30
    assert [(r.tenant, r.kind, r.rule) for r in records] == [("big", "breaker", RULE)]
    assert records[0].inputs["wanted"] == 20


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=20), st.integers(0, 40),
       st.integers(1, 400))
def test_property_total_stays_under_the_ceiling_or_never_grows(pairs, others, ceiling) -> None:
    actions = [_action(f"t{i}", c, d) for i, (c, d) in enumerate(pairs)]
    total = others + sum(c for c, _ in pairs)
    out, records = apply_ceiling(actions, total, ceiling, NOW)
    after = others + sum(a.desired for a in out)
    assert after <= max(ceiling, total - sum(max(0, c - d) for c, d in pairs))
    for before, now in zip(actions, out, strict=True):
        if before.desired <= before.current:
            assert now == before  # scale-downs and no-ops pass untouched
        else:
            assert now.desired in (before.desired, before.current)
    assert len(records) == sum(1 for b, a in zip(actions, out, strict=True) if a.desired != b.desired)
