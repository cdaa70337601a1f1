"""Reading JSON back into typed values: each field checked for its type, each error naming its path.

The codecs of the findings types (`structs.findings`, `structs.rightsizing_findings`) read what an
edge wrote (`rightsize --json`, a `report --savings` file) through this, so a hand-edited or truncated
file is refused with the field that is wrong (`rightsizing.recommendations[2].cpu.current: missing`)
instead of failing somewhere downstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FindingsUnreadable(ValueError):
    """Findings JSON a codec cannot read; the message names the field."""


_ABSENT: Any = object()


def is_number(value: Any) -> bool:
    """A JSON number: an int or float, and not a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class JsonFields:
    """Typed reads of one JSON object's fields, each error naming the field's path (`where.name`)."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, Mapping):
            raise FindingsUnreadable(f"{where}: expected an object, got {type(raw).__name__}")
        self.raw: Mapping[str, Any] = raw
        self.where = where

    def at(self, name: str) -> str:
        return f"{self.where}.{name}"

    def get(self, name: str, default: Any = _ABSENT) -> Any:
        """The raw value; a missing field is an error unless there is a `default`."""
        if name in self.raw:
            return self.raw[name]
        if default is _ABSENT:
            raise FindingsUnreadable(f"{self.at(name)}: missing")
        return default

    def _wrong(self, path: str, wanted: str, value: Any) -> FindingsUnreadable:
        return FindingsUnreadable(f"{path}: expected {wanted}, got {value!r}")

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str):
            raise self._wrong(self.at(name), "a string", value)
        return value

    def opt_text(self, name: str) -> str | None:
        return None if self.get(name) is None else self.text(name)

    def integer(self, name: str) -> int:
        value = self.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(self.at(name), "an integer", value)
        return value

    def number(self, name: str) -> float:
        value = self.get(name)
        if not is_number(value):
            raise self._wrong(self.at(name), "a number", value)
        return float(value)

    def opt_number(self, name: str, default: Any = _ABSENT) -> float | None:
        """A number or null; with a `default` (None), an absent field too."""
        return None if self.get(name, default) is None else self.number(name)

    def items(self, name: str) -> list[Any]:
        value = self.get(name)
        if not isinstance(value, list | tuple):
            raise self._wrong(self.at(name), "a list", value)
        return list(value)

    def numbers(self, name: str) -> tuple[float, ...]:
        values = self.items(name)
        for i, value in enumerate(values):
            if not is_number(value):
                raise self._wrong(f"{self.at(name)}[{i}]", "a number", value)
        return tuple(float(v) for v in values)

    def texts(self, name: str) -> tuple[str, ...]:
        values = self.items(name)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self._wrong(f"{self.at(name)}[{i}]", "a string", value)
        return tuple(values)

    def obj(self, name: str) -> JsonFields:
        return JsonFields(self.get(name), self.at(name))
