"""A declared, versioned codec for state dataclasses, generated from their fields.

Decider state is stored as JSON between passes and across restarts. Writing each field out by hand in
`to_json`, again in `from_json` and again in a key list is how a field gets added in one place and not
the others, and a mismatch used to reset every workload silently. Here the stored form is the fields
themselves (by name, with `"v"` the version), so adding or removing a field is a one-line change in the
dataclass; a stored version older than the current one is upgraded by `migrations` (version -> function
to the next version), never dropped; fields a migration does not supply take their defaults. What cannot
be read (a newer version, a hand edit, a wrong type) raises `StateUnreadable` naming the field, and the
caller decides what to do, logged.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Migration = Callable[[dict[str, Any]], dict[str, Any]]


class StateUnreadable(ValueError):
    """A stored state this codec cannot read; the message names the version or the field."""


def _converter(hint: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = _converter(next(a for a in args if a is not type(None)))
        return lambda v: None if v is None else inner(v)
    if origin is list:
        if args and typing.get_origin(args[0]) is list:  # rows: each copied
            return lambda v: [list(x) for x in v]
        return lambda v: list(v)  # scalar lists are copied, not converted item by item (hot path)
    if hint is float:
        return float
    if hint is int:
        return int
    if hint is bool:
        return bool
    if hint is str:
        return str
    return lambda v: v


class StateCodec(Generic[T]):
    """`dump`/`load` for the dataclass `cls` at `version`, with `migrations` from older versions."""

    def __init__(self, cls: type[T], version: int, migrations: Mapping[int, Migration] | None = None,
                 check: Callable[[T], str | None] | None = None) -> None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} is not a dataclass")
        self.cls = cls
        self.version = version
        self.migrations = dict(migrations or {})
        self.check = check
        hints = typing.get_type_hints(cls)
        self._fields = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls)]
        missing = [v for v in range(min(self.migrations, default=version), version) if v not in self.migrations]
        if missing:
            raise ValueError(f"{cls.__name__}: no migration from version(s) {missing}")

    @property
    def fields(self) -> list[str]:
        return [name for name, _ in self._fields]

    def dump(self, obj: T) -> dict[str, Any]:
        out: dict[str, Any] = {"v": self.version}
        for name, convert in self._fields:
            value = getattr(obj, name)
            out[name] = convert(value) if isinstance(value, list) else value
        return out

    def load(self, data: Any) -> T:
        """The stored value as the current version; raises `StateUnreadable` when it cannot be read."""
        if not isinstance(data, Mapping):
            raise StateUnreadable(f"not an object but {type(data).__name__}")
        version = data.get("v")
        if not isinstance(version, int) or version > self.version:
            raise StateUnreadable(f"version {version!r} (this controller reads up to {self.version})")
        current = dict(data)
        while version < self.version:
            migrate = self.migrations.get(version)
            if migrate is None:
                raise StateUnreadable(f"version {version} is older than any migration")
            current = migrate(current)
            version += 1
        kwargs: dict[str, Any] = {}
        for name, convert in self._fields:
            if name in current:
                try:
                    kwargs[name] = convert(current[name])
                except (TypeError, ValueError) as exc:
                    raise StateUnreadable(f"field {name!r}: {exc}") from None
        obj = self.cls(**kwargs)
        if self.check is not None:
            problem = self.check(obj)
            if problem:
                raise StateUnreadable(problem)
        return obj
