"""The fault suite's ledger: every test records each case it tried and whether the system held.

`tenantops faults` runs this folder with TENANTOPS_FAULT_RESULTS set and prints the table from the
ledger; plain pytest runs still fail on any case that did not hold.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


@dataclass
class FaultLedger:
    rows: list[dict[str, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def case(self, fault_class: str, held: bool, detail: str = "") -> bool:
        with self.lock:
            self.rows.append({"class": fault_class, "held": bool(held), "detail": detail[:300]})
        return held


_LEDGER = FaultLedger()


@pytest.fixture
def fault_ledger() -> Iterator[FaultLedger]:
    yield _LEDGER


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("TENANTOPS_FAULT_RESULTS")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            for row in _LEDGER.rows:
                out.write(json.dumps(row) + "\n")
