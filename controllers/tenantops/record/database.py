"""Which database holds the controller's state, and how it is named in messages.

`TENANTOPS_DATABASE_URL` (flag `--database`, config key `database_url`) picks the backend: unset, the
embedded SQLite file at `Settings.state` (the demo, a laptop, one replica with a PersistentVolume);
`postgresql://…` when replicas share one state, so that a failover resumes stabilisation windows, alert
episodes, the cost ledger and the outbox instead of starting from an empty copy. A plain path is taken
as a SQLite file, so every existing `--state PATH` keeps working.

URLs carry passwords; every message, log line and exception shows `masked(url)` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError


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
    """The URL with its password replaced by ***, for messages and logs."""
    if isinstance(location, URL):
        return location.render_as_string(hide_password=True)
    text = str(location)
    if "://" not in text:
        return text
    try:
        return make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        # Not parseable: hide whatever sits between '://user:' and '@'.
        head, _, rest = text.partition("://")
        creds, at, host = rest.rpartition("@")
        return f"{head}://{creds.split(':', 1)[0]}:***@{host}" if at else text


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and for an in-memory SQLite database)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)
