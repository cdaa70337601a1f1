"""Building PromQL from values that come from outside (tenant ids, workload names, catalogue fields).

A tenant id is validated as a DNS label today, but a label value in a query is a string literal, and a
string literal built by concatenation is an injection waiting for the first relaxed validator. Every
value that goes into a query goes through `quote`, which produces a literal PromQL's lexer reads back as
exactly the original text (and which JSON also decodes identically, which the tests use as an oracle).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# RE2 metacharacters; `=~` matchers are fully anchored regexes, so a literal needs every one escaped.
_REGEX_META = frozenset("\\.+*?()|[]{}^$")


def _escape_char(ch: str) -> str:
    simple = _SIMPLE_ESCAPES.get(ch)
    if simple is not None:
        return simple
    code = ord(ch)
    if code < 0x20 or code == 0x7F:
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError("label value contains a lone surrogate, which is not valid UTF-8")
    return ch


def escape_label_value(value: str) -> str:
    """The body of a double-quoted PromQL string (without the quotes) that reads back as `value`."""
    if all(" " <= ch <= "~" and ch not in '"\\' for ch in value):
        return value  # the common case (ids, names) needs no work
    return "".join(_escape_char(ch) for ch in value)


def quote(value: str) -> str:
    """A double-quoted PromQL string literal for `value`."""
    return f'"{escape_label_value(value)}"'


def escape_regex(value: str) -> str:
    """A RE2 pattern that matches exactly `value` (to be quoted with `quote` before use in `=~`)."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in value)


def _check_label_name(name: str) -> str:
    if not _LABEL_NAME.match(name):
        raise ValueError(f"invalid Prometheus label name {name!r}")
    return name


def label_matchers(labels: Mapping[str, str]) -> str:
    """`{name="value",...}` with every value escaped; names are checked, not escaped (they cannot be)."""
    body = ",".join(f"{_check_label_name(k)}={quote(v)}" for k, v in labels.items())
    return "{" + body + "}"


def one_of(label: str, values: Iterable[str]) -> str:
    """A matcher `label=~"a|b|c"` selecting exactly the given values (each escaped as a regex, then quoted)."""
    alternatives = sorted(set(values))
    if not alternatives:
        raise ValueError(f"one_of({label!r}) needs at least one value")
    return f"{_check_label_name(label)}=~{quote('|'.join(escape_regex(v) for v in alternatives))}"
