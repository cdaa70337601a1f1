"""Commands that only read the state (`audit`, `cost`, `plan`, `report`) open it read-only: they never wait
for the write lock a controller's pass holds, never migrate a database (an older controller may still be
writing it), and say which database and why when its schema is not this build's. Each runs as a user runs
it, a fresh `tenantops` process, against a real SQLite file or PostgreSQL database."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from tests.cli.helpers import tenantops

from tenantops.record import schema
from tenantops.record.database import parse, sqlite_file
from tenantops.record.store import StateStore

READERS = [["audit"], ["cost"], ["plan"], ["report"]]
BUSY_TIMEOUT = 5.0  # seconds a writer waits for the lock (`open_database`'s busy_timeout_ms)


def _older(location: str, revision: str = "0004_leadership_namespace") -> None:
    """A database an older controller wrote: migrated up to `revision` only, with a row in its state."""
    engine = sa.create_engine(parse(location))
    config = Config()
    config.set_main_option("script_location", str(Path(schema.__file__).parent / "migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.execute(sa.text("INSERT INTO state VALUES ('cost', 'ledger', :v)"), {"v": json.dumps({})})
    engine.dispose()


def _revision(location: str) -> str | None:
    engine = sa.create_engine(parse(location))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def _read(location: str, args: list[str], cwd: Path) -> tuple[float, object]:
    """Run the reader `args` against `location` (a SQLite file by --state, else by TENANTOPS_DATABASE_URL)."""
    path = sqlite_file(parse(location))
    flags, env = (["--state", str(path)], {}) if path is not None else ([], {"TENANTOPS_DATABASE_URL": location})
    started = time.monotonic()
    result = tenantops(*args, *flags, cwd=cwd, env=env)
    return time.monotonic() - started, result


@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_a_reader_does_not_wait_for_a_pass_holding_the_write_lock(tmp_path: Path, args: list[str]) -> None:
    """A pass of the controller holds SQLite's write lock while it commits; `tenantops audit` took the lock
    itself to check the schema, waited the whole busy timeout and failed with 'database is locked'."""
    state = tmp_path / "state.db"
    StateStore(state).close()
    writer = sqlite3.connect(state, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO state VALUES ('probe', 'k', '1')")
        took, result = _read(f"sqlite:///{state}", args, tmp_path)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    assert took < BUSY_TIMEOUT


@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_a_reader_leaves_an_older_schema_as_it_is_and_says_so(state_url: str, tmp_path: Path,
                                                              args: list[str]) -> None:
    """An older controller still writes this database: a newer `tenantops` reading it must not migrate it
    under that controller, but say which database is at which revision and what to do."""
    _older(state_url)
    _, result = _read(state_url, args, tmp_path)
    assert result.returncode == 1, result.stdout  # type: ignore[attr-defined]
    error = result.stderr.strip().splitlines()[-1]  # type: ignore[attr-defined]
    name = str(sqlite_file(parse(state_url)) or "postgresql://")
    assert name in error and "0004_leadership_namespace" in error and "older than this tenantops" in error, error
    assert schema.HEAD in error and "not migrated" in error, error
    assert _revision(state_url) == "0004_leadership_namespace"


@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_a_reader_refuses_a_newer_schema_naming_the_database(state_url: str, tmp_path: Path,
                                                             args: list[str]) -> None:
    StateStore(state_url).close()
    engine = sa.create_engine(parse(state_url))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    _, result = _read(state_url, args, tmp_path)
    assert result.returncode == 1, result.stdout  # type: ignore[attr-defined]
    error = result.stderr.strip().splitlines()[-1]  # type: ignore[attr-defined]
    name = str(sqlite_file(parse(state_url)) or "postgresql://")
    assert name in error and "9999_future" in error and "newer than this tenantops" in error, error
    assert _revision(state_url) == "9999_future"


def test_a_reader_leaves_a_version_1_file_as_it_is(tmp_path: Path) -> None:
    """A file of schema version 1 (before migrations were tracked) is older too: read, it stays version 1."""
    state = tmp_path / "state.db"
    conn = sqlite3.connect(state)
    conn.executescript("CREATE TABLE state (decider TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
                       " PRIMARY KEY (decider, key)) WITHOUT ROWID; PRAGMA user_version = 1;")
    conn.close()
    _, result = _read(f"sqlite:///{state}", ["audit"], tmp_path)
    assert result.returncode == 1, result.stdout  # type: ignore[attr-defined]
    error = result.stderr.strip().splitlines()[-1]  # type: ignore[attr-defined]
    assert str(state) in error and "schema version 1" in error and "older than this tenantops" in error, error
    raw = sqlite3.connect(state)
    assert raw.execute("PRAGMA user_version").fetchone() == (1,)
    assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall() == []
    raw.close()
