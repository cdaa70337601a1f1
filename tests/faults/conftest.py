"""The fault suite's ledger: every test records each case it tried and whether the system held.

`tenantops faults` runs this folder with TENANTOPS_FAULT_RESULTS set and prints the table from the
ledger; plain pytest runs still fail on any case that did not hold. Under pytest-xdist each worker holds
its own ledger, so the file is emptied once by the controlling process and every worker appends its rows
under a lock, instead of the last process to finish replacing the others' rows.
"""

from __future__ import annotations

import fcntl
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


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    target = os.environ.get("TENANTOPS_FAULT_RESULTS")
    if target and not _is_xdist_worker(session.config):
        open(target, "w", encoding="utf-8").close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("TENANTOPS_FAULT_RESULTS")
    if target and _LEDGER.rows:
        with open(target, "a", encoding="utf-8") as out:
            fcntl.flock(out, fcntl.LOCK_EX)
            out.write("".join(json.dumps(row) + "\n" for row in _LEDGER.rows))
