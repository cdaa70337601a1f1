from hypothesis import given
from hypothesis import strategies as st

from tenantops.decide.cost.money import cents_adding_up, split_exact, split_mapping, to_micro, to_usd


def test_split_is_proportional_and_exact() -> None:
    assert split_exact(100, [1, 3]) == [25, 75]
    assert split_exact(10, [1, 1, 1]) == [4, 3, 3]
    assert split_exact(-5, [1, 1]) == [-3, -2]


def test_no_positive_weight_splits_evenly() -> None:
    assert split_exact(9, [0, 0, 0]) == [3, 3, 3]


def test_mapping_split_does_not_depend_on_order() -> None:
    assert split_mapping(7, {"b": 1, "a": 1}) == split_mapping(7, {"a": 1, "b": 1}) == {"a": 4, "b": 3}


def test_micro_round_trip() -> None:
    assert to_micro(1.2345675) == 1234568
    assert to_usd(1234568) == 1.234568


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=40),
)
def test_split_conserves_every_unit(amount: int, weights: list[float]) -> None:
    parts = split_exact(amount, weights)
    assert sum(parts) == amount
    assert len(parts) == len(weights)
    if amount >= 0:
        assert all(p >= 0 for p in parts)
    total = sum(weights)
    if total > 0 and max(weights) / total > 1e-6:
        for part, w in zip(parts, weights, strict=True):
            # Each part is within one unit (plus weight rounding) of its exact share.
            assert abs(part - amount * w / total) <= 1 + abs(amount) * 1e-9


@given(st.dictionaries(st.text(min_size=1, max_size=4), st.integers(-10**12, 10**12), max_size=30))
def test_property_cents_add_up_to_the_rounded_total_and_each_is_within_a_cent(amounts: dict[str, int]) -> None:
    cents = cents_adding_up(amounts)
    assert set(cents) == set(amounts)
    total = sum(amounts.values())
    assert sum(cents.values()) * 10_000 - total in range(-4_999, 5_001)  # the total, rounded half up
    for name, micro in amounts.items():
        assert abs(cents[name] * 10_000 - micro) < 10_000
