"""Float flags with a range refuse NaN and infinities (exit 2 naming the flag) before anything starts.

click's FloatRange compares, and every comparison with NaN is false: `demo --minutes nan` passed [0.25, 60],
started loading the traces and ended in `error: ValueError: cannot convert float NaN to integer` (exit 1),
and `--drill-seconds inf` passed `x>=1`.
"""

from __future__ import annotations

import pytest

from tenantops.cli.main import main

CASES = [
    ["demo", "--minutes", "nan"], ["demo", "--minutes", "inf"], ["demo", "--speed", "nan"],
    ["demo", "--speed", "-inf"], ["faults", "--drill-seconds", "nan"], ["faults", "--drill-seconds", "inf"],
    ["simulate", "--trace", "t.csv", "--capacity", "nan"], ["simulate", "--trace", "t.csv", "--capacity", "inf"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c[:1] + c[-2:]) for c in CASES])
def test_a_float_flag_refuses_nan_and_infinity(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    err = capsys.readouterr().err
    assert caught.value.code == 2, err
    assert f"Invalid value for '{argv[-2]}': {argv[-1]!r} is not a finite number" in err
