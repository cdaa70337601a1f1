"""Where the repository's own files are, found from this package rather than the working directory.

A default such as `policies/` that is read relative to the working directory works only from the
repository root; found from the package it means the same folder whether `tenantops` is started from
the root, from `tests/` or from a cron job's home. An installed copy (no repository around it) falls
back to the working directory, where a container's image puts its files.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def repository_root() -> Path | None:
    """The checkout this package was imported from (the folder with pyproject.toml and `controllers/`)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "controllers" / "tenantops").is_dir():
            return parent
    return None


def repository_path(relative: str) -> str:
    """`relative` inside the repository when running from a checkout, else `relative` as given."""
    root = repository_root()
    return str(root / relative) if root is not None else relative
