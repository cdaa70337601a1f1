"""Processes that open one state database at the same instant, as replicas starting together do."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenantops.record.store import StateStore


def _open_when_released(location: str, read: Callable[[StateStore], Any], barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        with StateStore(location) as store:
            results.put(read(store))
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(f"{type(exc).__name__}: {exc}")


def open_at_once(location: str | Path, processes: int,
                 read: Callable[[StateStore], Any] = lambda store: "ok") -> list[Any]:
    """What `read` found in each process (forked, released together by a barrier), or the error it raised."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_open_when_released, args=(str(location), read, barrier, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return outcomes
