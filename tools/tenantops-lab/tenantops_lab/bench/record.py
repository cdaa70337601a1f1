"""The record stage on each state store backend (docs/benchmarks.md §3, "Record"): the same passes over N
tenants, committed to a SQLite file and to PostgreSQL.

Each database gets a fresh store and three passes that act (no actuators are configured, so every
action is a failed outcome, audited like any other): the first writes every decider key of a new
installation, the next two only what changed, as a running controller does. Figures are the passes'
own `record` stage (the one transaction of state, audit rows and mail) and the rows it wrote. The
comparison is PostgreSQL's steady record time over SQLite's.

`--database` names what to measure: `sqlite` (a file in the benchmark's temporary directory),
`postgresql` (a throwaway server, initdb + pg_ctl on a free loopback port), or a URL (written to).
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tenantops.config import Config
from tenantops.engine.deciders import build_deciders
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import register_actuators, report_queue
from tenantops.observe.prometheus import PrometheusSource
from tenantops.record.database import masked
from tenantops.record.store import StateStore

GOAL_POSTGRES_VS_SQLITE = 2.0
STEP = timedelta(seconds=15)


class Databases:
    """Turns `--database` values into fresh store locations, one per measurement."""

    def __init__(self, names: Sequence[str], workdir: Path, stack: contextlib.ExitStack) -> None:
        self.names = list(names)
        self.workdir = workdir
        self._stack = stack
        self._server: Any = None
        self._made = 0

    def location(self, name: str) -> str:
        self._made += 1
        if name == "sqlite":
            return f"sqlite:///{self.workdir / f'record-{self._made}.db'}"
        if name == "postgresql":
            if self._server is None:
                from tenantops_lab.sandbox.postgres import PostgresServer

                self._server = self._stack.enter_context(PostgresServer())
            url: str = self._server.create_database()
            return url
        return name


def measure_record(prometheus_url: str, config: Config, now: datetime, databases: Databases) -> dict[str, Any]:
    """Record figures per database for this N: first pass, steady passes (median), rows written."""
    out: dict[str, Any] = {}
    for name in databases.names:
        location = databases.location(name)
        with StateStore(location) as store:
            reconciler = Reconciler(PrometheusSource(prometheus_url, timeout=300), store, build_deciders(),
                                    register_actuators(reports=report_queue(store)))
            runs = [reconciler.run_pass(config, now + i * STEP) for i in range(3)]
        label = name if name in ("sqlite", "postgresql") else masked(name)
        out[label] = {
            "first_s": round(runs[0].timings["record"], 3),
            "steady_s": round(statistics.median(r.timings["record"] for r in runs[1:]), 3),
            "audit_rows": [r.decisions for r in runs],
            "keys_written": [r.state_written for r in runs],
        }
    sqlite, postgres = out.get("sqlite"), out.get("postgresql")
    if sqlite and postgres and sqlite["steady_s"] > 0:
        out["postgresql_vs_sqlite"] = round(postgres["steady_s"] / sqlite["steady_s"], 2)
        out["postgresql_vs_sqlite_first"] = round(postgres["first_s"] / max(sqlite["first_s"], 1e-9), 2)
        out["goal"] = GOAL_POSTGRES_VS_SQLITE
        out["met"] = out["postgresql_vs_sqlite"] <= GOAL_POSTGRES_VS_SQLITE
    return out


def describe(n: int, figures: dict[str, Any]) -> Iterator[str]:
    for name, row in figures.items():
        if isinstance(row, dict):
            yield (f"        record on {name}: first pass {row['first_s']:.3f} s, steady {row['steady_s']:.3f} s "
                   f"(audit rows {row['audit_rows']}, keys written {row['keys_written']})")
    if "postgresql_vs_sqlite" in figures:
        yield (f"        record at N={n}: postgresql/sqlite {figures['postgresql_vs_sqlite']}x steady, "
               f"{figures['postgresql_vs_sqlite_first']}x first pass (goal <= {GOAL_POSTGRES_VS_SQLITE}x): "
               f"{figures['met']}")
