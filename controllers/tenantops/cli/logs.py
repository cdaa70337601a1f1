"""Log output of the CLI and the controller: text for people, JSON lines for log pipelines.

Every module logs with `extra={...}` (tenant, workload, rule, reason, outcome ...); those fields are what a
log pipeline filters on, so both formats keep them: JSON as keys of the line's object, text as `key=value`
after the message. Secrets never reach the output: a `SecretStr` prints masked, and a URL's user:password
part and its credential parameters (`?password=`, `endpoints.redact`) are removed from any string field.

`run` logs at INFO by default (a controller that logs nothing at its default level cannot be followed);
one-shot commands at WARNING, since their result is what they print. urllib3's per-retry warnings repeat
the whole URL-encoded query and are shown only at -vv, as are Alembic's migration steps.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import SecretStr

from tenantops.endpoints import redact

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _clean(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return str(value)
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return _clean(str(value))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a call passed with `extra=`, cleaned of secrets."""
    return {k: _clean(v) for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _clean(record.getMessage()),
        }
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = _clean(self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = _clean(super().format(record))
        fields = extra_fields(record)
        if fields:
            text += " " + " ".join(f"{k}={json.dumps(v, default=str, ensure_ascii=False)}"
                                   for k, v in fields.items())
        return str(text)


def default_level(command: str | None, verbose: int, level: str | None) -> int:
    if level:
        return int(getattr(logging, level.upper()))
    base = logging.INFO if command == "run" else logging.WARNING
    return max(logging.DEBUG, base - 10 * verbose)


class _CliHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` installs, told apart from handlers an embedding program (or pytest) set."""


def configure(fmt: LogFormat, level: int, *, verbose: int = 0) -> None:
    """Send every log record to stderr in `fmt` at `level`.

    Like `logging.basicConfig`, this leaves alone a process whose logging someone else already set up
    (a program embedding the CLI, pytest's capture); it replaces only its own handler of an earlier call.
    """
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose >= 2 else logging.ERROR)
    # Alembic logs its plugins, its dialect and each revision's whole docstring at INFO, a dozen lines (some
    # without a timestamp) before `run`'s first own line; the state store says in one line what it migrated.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _CliHandler)]
    if len(ours) < len(root.handlers):
        return
    for old in ours:
        root.removeHandler(old)
    handler = _CliHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
