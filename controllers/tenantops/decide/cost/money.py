"""Money as whole micro-dollars.

Allocation must conserve money exactly (tenant costs + idle + shared = total, to the last unit), which
floating point cannot promise once amounts are split and summed in different orders. Amounts are therefore
integers of 1e-6 USD inside the cost core and turn into floats only when shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MICRO = 1_000_000
_WEIGHT_SCALE = 2**40


def to_micro(usd: float) -> int:
    """Round a USD amount to whole micro-dollars."""
    return round(usd * MICRO)


def to_usd(micro: int | float) -> float:
    """Micro-dollars as USD, rounded to 1e-6 so printed figures do not show float noise."""
    return round(micro / MICRO, 6)


def split_exact(amount: int, weights: Sequence[float]) -> list[int]:
    """Split `amount` in proportion to `weights` so that the parts sum to `amount` exactly.

    Largest-remainder method: every part gets the floor of its share and the units left over go to the
    largest fractional remainders (ties to the earlier index, so the result is deterministic). With no
    positive weight the amount is split evenly.
    """
    n = len(weights)
    if n == 0:
        raise ValueError("cannot split an amount over no recipients")
    top = max((w for w in weights if w > 0), default=0.0)
    # Integer weights keep the arithmetic exact: float shares can floor to more than the amount.
    ints = [round(w / top * _WEIGHT_SCALE) if w > 0 else 0 for w in weights] if top > 0 else [1] * n
    total = sum(ints) or n
    if not any(ints):
        ints = [1] * n
    sign = -1 if amount < 0 else 1
    remaining = abs(amount)
    parts = [remaining * w // total for w in ints]
    remainders = [remaining * w % total for w in ints]
    left = remaining - sum(parts)
    order = sorted(range(n), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        parts[i] += 1
    return [sign * p for p in parts]


def split_mapping(amount: int, weights: Mapping[str, float]) -> dict[str, int]:
    """`split_exact` over named recipients, in sorted name order so the split does not depend on dict order."""
    names = sorted(weights)
    return dict(zip(names, split_exact(amount, [weights[n] for n in names]), strict=True))


MICRO_PER_CENT = MICRO // 100


def cents_adding_up(amounts: Mapping[str, int]) -> dict[str, int]:
    """Micro-dollar amounts as whole cents whose sum is their total rounded to the cent.

    Rounding each line on its own lets a column of cents miss its own total by up to half a cent a line
    (a finance reader adds the column up and finds the report a few cents out). Every line gets the floor
    of its cents, and the cents left to reach the rounded total go to the largest remainders (ties to the
    earlier name, so the result is deterministic). No line moves by a cent or more from its exact amount.
    """
    names = sorted(amounts)
    total = sum(amounts.values())
    target = (total + MICRO_PER_CENT // 2) // MICRO_PER_CENT  # half a cent rounds up
    floors = {n: amounts[n] // MICRO_PER_CENT for n in names}
    left = target - sum(floors.values())
    order = sorted(names, key=lambda n: (-(amounts[n] % MICRO_PER_CENT), n))
    for name in order[:left]:
        floors[name] += 1
    return floors
