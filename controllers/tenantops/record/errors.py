"""Why the state store cannot be used, as exception types light enough for the CLI's entry point to catch
(they import nothing; the database layer raises them with the database named, password masked)."""

from __future__ import annotations


class StateStoreError(RuntimeError):
    """The state store cannot be used as asked; the message names the database (password masked)."""


class StateUnavailable(StateStoreError):
    """The database cannot be reached or refuses to work (down, read-only, wrong credentials)."""


class StateMissing(StateStoreError):
    """The state that existed is gone (an empty file, a deleted file whose WAL is left): not a fresh install."""


class SchemaTooNew(StateStoreError):
    """The database was migrated by a newer controller; this one will not write into it."""


class Fenced(StateStoreError):
    """This replica is no longer the writer: another took over, or its Lease ran out during the pass."""


class SchemaTooOld(StateStoreError):
    """A read-only command found the database at an older schema; it does not migrate it (a controller of
    the version that wrote it may still be writing it)."""
