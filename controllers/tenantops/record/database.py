"""Which database holds the controller's state, and how it is named in messages.

`TENANTOPS_DATABASE_URL` (flag `--database`, config key `database_url`) picks the backend: unset, the
embedded SQLite file at `Settings.state` (the demo, a laptop, one replica with a PersistentVolume);
`postgresql://…` when replicas share one state, so that a failover resumes stabilisation windows, alert
episodes, the cost ledger and the outbox instead of starting from an empty copy. A plain path is taken
as a SQLite file, so every existing `--state PATH` keeps working.

URLs carry passwords; every message, log line and exception shows `masked(url)` instead.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool, QueuePool, StaticPool

from tenantops.endpoints import hide_secret_parameters, userinfo_is_ambiguous
from tenantops.record.errors import SchemaTooNew, SchemaTooOld, StateMissing, StateStoreError, StateUnavailable

log = logging.getLogger(__name__)

__all__ = ["Database", "SchemaTooNew", "SchemaTooOld", "StateMissing", "StateStoreError", "StateUnavailable",
           "database_url", "masked", "may_exist", "open_database", "parse"]


class HasStateSettings(Protocol):
    @property
    def state(self) -> str: ...

    @property
    def database_url(self) -> str | None: ...


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file (absolute, so the URL means the same from any directory)."""
    text = str(path)
    if text == ":memory:":
        return "sqlite://"
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def database_url(settings: HasStateSettings) -> str:
    """The state store URL the settings select: `database_url` when set, else the SQLite file `state`."""
    return settings.database_url or sqlite_url(settings.state)


def parse(location: str | Path) -> URL:
    """A URL from a URL or a plain SQLite path. `postgres://` and `postgresql://` use psycopg (v3)."""
    text = str(location)
    if "://" not in text and text != ":memory:":
        text = sqlite_url(text)
    elif text == ":memory:":
        text = "sqlite://"
    if _password_misread(text):
        raise ValueError(f"not a database URL: {masked(text)!r} (its password holds an @ and a / ? or #: "
                         "percent-encode @ as %40, / as %2F, ? as %3F, # as %23)")
    try:
        url = make_url(text)
    except ArgumentError:
        raise ValueError(f"not a database URL: {masked(text)!r} (expected sqlite:///PATH or "
                         "postgresql://USER:PASSWORD@HOST:PORT/DB)") from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported state database {masked(text)!r}: use sqlite:///PATH or postgresql://…")
    return url


def masked(location: str | Path | URL) -> str:
    """The URL with its password (in the user part or a `?password=` parameter) replaced by ***."""
    if isinstance(location, URL):
        return hide_secret_parameters(location.render_as_string(hide_password=True))
    text = str(location)
    if "://" not in text:
        return text
    head, _, rest = text.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if authority.count("@") <= 1 and not _password_misread(text):  # SQLAlchemy ends a password at its first `@`
        try:
            return hide_secret_parameters(make_url(text).render_as_string(hide_password=True))
        except ArgumentError:
            pass
    # Not parseable, or an unencoded `@` in the password (with a `/`, `?` or `#` after it, SQLAlchemy reads
    # the rest as host and database): hide whatever sits between '://user:' and the URL's last '@'.
    creds, at, _ = rest.rpartition("@") if _password_misread(text) else authority.rpartition("@")
    if not at:
        return hide_secret_parameters(text)
    return hide_secret_parameters(f"{head}://{creds.split(':', 1)[0]}:***@{rest[len(creds) + 1:]}")


def _password_misread(text: str) -> bool:
    """A user:password@ part with an `@` and then a `/`, `?` or `#` in the password, followed by another
    `@` (`postgresql://ops:p@ss/w@db/x`): SQLAlchemy's parser, ending the password at its first `@`,
    takes `ss` for the host. A `/` alone in a password it reads right (`ops:12/3@db`)."""
    _, sep, rest = text.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return bool(sep) and "@" in authority and userinfo_is_ambiguous(text)


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and for an in-memory SQLite database)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


# -- opening -------------------------------------------------------------------------------------------


_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: any constant that is this project's; two replicas migrate one at a time.
_MIGRATION_LOCK = 0x7465_6E61


class Database:
    """One state database: its URL, its SQLAlchemy engine, and transactions of the right kind.

    `begin()` is a write transaction: SQLite's `BEGIN IMMEDIATE` (the write lock up front, so a claim or
    a pass never races another writer), PostgreSQL's default READ COMMITTED with row locks taken by the
    statements that need them. `read()` is a read-only one (SQLite: deferred, never blocks a writer).
    A database opened `read_only` has only read-only transactions, `begin()`'s too: the SQLite file is
    opened `mode=ro`, a PostgreSQL session with `default_transaction_read_only`, so a write is refused.
    """

    def __init__(self, url: URL, engine: Engine, *, read_only: bool = False) -> None:
        self.url = url
        self.engine = engine
        self.read_only = read_only
        self.name = masked(url.set(drivername=url.get_backend_name()))

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def is_postgresql(self) -> bool:
        return self.backend == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(tenantops_read_only=True) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(location: str | Path | URL, *, init: bool = False, pooled: bool = True,
                  busy_timeout_ms: int = 5000, connect_timeout_s: int = 5, read_only: bool = False) -> Database:
    """Open, check and migrate the state database at `location` (a URL or a SQLite path).

    Raises `StateMissing` when a SQLite file that existed is now empty or deleted with its WAL left
    (unless `init`: the operator says this is a new installation), `StateUnavailable` when the database
    cannot be reached or written, `SchemaTooNew` when a newer controller migrated it. Each message names
    the database with its password masked. `pooled=False` connects per use (short-lived readers).

    `read_only` (the commands that only read: `audit`, `cost`, `plan`, `report`): no write lock, no file
    created, no migration. The schema must be this build's (`check_schema`): an older one raises
    `SchemaTooOld`, since the controller that wrote it may still be writing it and a migration under it
    would change its tables beneath it.
    """
    url = location if isinstance(location, URL) else parse(location)
    path = sqlite_file(url)
    if path is not None and read_only:
        _check_sqlite_file(path, init=False)
        if not path.is_file():
            raise StateUnavailable(f"no state database at {path}")
    elif path is not None:
        try:
            _check_sqlite_file(path, init=init)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                _create_sqlite_file(url, path, busy_timeout_ms=busy_timeout_ms)
        except OSError as exc:  # its directory is a file, cannot be made or searched
            if isinstance(exc, FileExistsError):  # mkdir found a file where a directory of the path goes
                why = f"{exc.filename} is not a directory"
            else:
                why = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
            raise StateUnavailable(f"cannot use the state database {path}: {why}") from None
    engine = _engine(url, pooled=pooled, busy_timeout_ms=busy_timeout_ms, connect_timeout_s=connect_timeout_s,
                     read_only=read_only)
    db = Database(url, engine, read_only=read_only)
    try:
        if read_only:
            check_schema(db)
        else:
            migrate(db)
    except StateStoreError:
        engine.dispose()
        raise
    except DBAPIError as exc:
        engine.dispose()
        raise StateUnavailable(f"cannot use the state database {db.name}: {describe(exc)}") from None
    return db


def describe(exc: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy's wrapper adds the SQL and a link)."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0] if text else type(inner).__name__


def _check_sqlite_file(path: Path, *, init: bool) -> None:
    leftovers = [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    if path.exists() and path.is_file() and path.stat().st_size == 0:
        if not init:
            raise StateMissing(
                f"state database {path} is empty (0 bytes): its state and audit are gone, so starting would "
                "forget every stabilisation window, alert episode and the cost ledger. Restore it from a "
                "backup, or start once with --init if this is a new installation."
            )
        path.unlink()
        for extra in leftovers:
            extra.unlink()
    elif not path.exists() and leftovers:
        if not init:
            raise StateMissing(
                f"state database {path} is missing but {leftovers[0].name} is still beside it: the file was "
                "deleted while the controller had it open. Restore it from a backup, or start once with "
                "--init to begin with an empty state."
            )
        for extra in leftovers:
            extra.unlink()


def _create_sqlite_file(url: URL, path: Path, *, busy_timeout_ms: int) -> None:
    """Create a new SQLite file whole: migrated under a temporary name beside it, then linked into place.

    SQLite creates a file empty and writes it later, so a process starting beside the one creating it (a
    second replica on the volume, `tenantops report`) would find 0 bytes and take them for an emptied
    database, whose advice, --init, deletes the file being created. When another process linked its file
    first, that one is used and ours is dropped. A filesystem without hard links is written in place.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    engine = _engine(url.set(database=str(temporary)), pooled=False, busy_timeout_ms=busy_timeout_ms,
                     connect_timeout_s=0)
    try:
        migrate(Database(url, engine))
        engine.dispose()  # the last connection closed: its WAL is checkpointed into the file and removed
        os.link(temporary, path)
    except FileExistsError:
        pass
    except DBAPIError as exc:
        raise StateUnavailable(f"cannot create the state database {path}: {describe(exc)}") from None
    except OSError:
        pass  # no hard links here: `open_database` creates the file in place
    finally:
        engine.dispose()
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            leftover.unlink(missing_ok=True)


def _wal(cursor: Any, busy_timeout_ms: int) -> None:
    """`PRAGMA journal_mode = WAL`, waiting out another connection's write as a busy timeout would.

    Switching a rollback-journal file to WAL needs the file to itself, and SQLite answers "database is
    locked" at once, not after the busy timeout, while another connection holds a write transaction
    (its busy handler is not used for that lock). Replicas starting together on such a file (one made by
    another tool, or restored from a copy) then failed: the first one's migration held the write lock and
    the others' connections were refused the moment they opened.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _engine(url: URL, *, pooled: bool, busy_timeout_ms: int, connect_timeout_s: int,
            read_only: bool = False) -> Engine:
    if url.get_backend_name() == "sqlite":
        file = sqlite_file(url)
        memory = file is None
        read_only = read_only and file is not None
        connect: dict[str, Any] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        if read_only and file is not None:  # SQLite itself refuses any write (a `file:` URI, `mode=ro`)
            url = url.set(database=f"file:{quote(str(file))}", query={"mode": "ro", "uri": "true"})
        engine = sa.create_engine(url, connect_args=connect,
                                  poolclass=StaticPool if memory else (QueuePool if pooled else NullPool))

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun explicitly, below
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if not memory and not read_only:
                # WAL lets `tenantops audit` and the outbox read while a pass writes.
                _wal(cursor, busy_timeout_ms)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            reading = read_only or conn.get_execution_options().get("tenantops_read_only", False)
            conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = connect_timeout_s
    if read_only:  # every transaction of the session read-only: the server refuses a write
        options = str(url.query.get("options", ""))
        connect_args["options"] = f"{options} -c default_transaction_read_only=on".strip()
    if pooled:
        return sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4, connect_args=connect_args)
    return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)


def _revision(db: Database, conn: Connection) -> tuple[str | None, bool]:
    """The database's Alembic revision (None before migrations were tracked) and whether it holds a state
    table; raises `SchemaTooNew` for a revision, or an untracked SQLite schema version, this build does
    not know."""
    from tenantops.record import schema

    inspector = sa.inspect(conn)
    current = None
    if inspector.has_table("alembic_version"):
        current = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    if current == schema.HEAD:
        return current, True
    if current is not None and current not in _known_revisions():
        raise SchemaTooNew(f"state database {db.name} has schema revision {current}, newer than this tenantops "
                           f"({schema.HEAD}); refusing to touch it: use the version that migrated it")
    has_state = inspector.has_table("state")
    if current is None and has_state and not db.is_postgresql:
        version = conn.exec_driver_sql("PRAGMA user_version").scalar() or 0
        if int(version) > 1:
            raise SchemaTooNew(f"state database {db.name} has schema version {version} without migration "
                               "history, newer than this tenantops; refusing to touch it")
    return current, has_state


def _known_revisions() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}


def check_schema(db: Database) -> None:
    """A read-only opening's check, in a read-only transaction: the schema is this build's (`schema.HEAD`),
    or `SchemaTooNew` / `SchemaTooOld` names the database, its revision and this build's."""
    from tenantops.record import schema

    with db.read() as conn:
        current, has_state = _revision(db, conn)
    if current == schema.HEAD:
        return
    found = f"schema revision {current}" if current is not None else \
        "schema version 1" if has_state else "no tenantops schema"
    raise SchemaTooOld(f"state database {db.name} has {found}, older than this tenantops ({schema.HEAD}), and a "
                       "command that only reads it has it not migrated: the controller of the version that wrote "
                       "it may still be writing it. Upgrade that controller (it migrates the database as it "
                       "starts), or read it with the tenantops of its version")


def migrate(db: Database) -> None:
    """Bring the schema to `schema.HEAD` with Alembic, in one transaction (all or nothing).

    A database at HEAD costs one query. A file of schema version 1 (no Alembic table yet, but a `state`
    table) is stamped at revision 0001 and upgraded from there: earlier files migrate, never reset. A
    schema newer than this build knows raises `SchemaTooNew`: a controller never starts on it.
    """
    from tenantops.record import schema

    with db.begin() as conn:
        if db.is_postgresql:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        current, has_state = _revision(db, conn)
        if current == schema.HEAD:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = conn
        if current is None and has_state:
            command.stamp(config, "0001_v1")
        command.upgrade(config, "head")
        log.info("state database %s migrated from %s to schema %s", db.name,
                 current or ("schema version 1" if has_state else "empty"), schema.HEAD)
        if not db.is_postgresql:
            conn.exec_driver_sql(f"PRAGMA user_version = {schema.SQLITE_USER_VERSION}")


def may_exist(location: str | Path) -> bool:
    """False only for a SQLite file that is not there (readers then show 'no state yet' without creating
    one); a server database is assumed to exist and is opened to find out."""
    path = sqlite_file(parse(location))
    url = str(location)
    return path.exists() if path is not None else url not in ("", "sqlite://")
