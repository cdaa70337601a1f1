"""Saying in one line which endpoint could not be reached and which setting points at it.

A refused connection surfaces through requests, urllib3, the Kubernetes client or smtplib as a chain of
wrapped exceptions whose text repeats the URL-encoded request; what a person needs is the setting to
fix and why it failed: `TENANTOPS_PROMETHEUS_URL=http://127.0.0.1:9: connection refused`. The reason is
found by walking the chain for the operating-system error at its bottom, without importing any client.
"""

from __future__ import annotations

import re
import socket
import ssl
from urllib.parse import urlsplit


class Unreachable(Exception):
    """An endpoint did not answer: a runtime failure (exit 1), named by the setting that selects it."""

    def __init__(self, setting: str, url: str, reason: str) -> None:
        self.setting = setting
        self.url = redact(url)
        self.reason = reason
        super().__init__(f"{setting}={self.url}: {reason}")


SECRET_PARAMETERS = ("password", "sslpassword", "passwd", "pwd", "secret", "token", "access_token", "api_key",
                     "apikey", "x-amz-signature", "x-amz-security-token", "x-amz-credential")
"""Query parameters whose value is a credential: libpq takes `?password=` as readily as `user:pw@`."""

# userinfo runs to the last `@` before the path (a password may hold an unencoded `@`) and may have no user
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/?#\s@]*(?:@[^/?#\s@]*)*@", re.IGNORECASE)
_SECRET_PARAMETER = re.compile(r"(?P<key>[?&;](?:" + "|".join(re.escape(k) for k in SECRET_PARAMETERS)
                               + r")=)[^&;#\s]*", re.IGNORECASE)


def hide_secret_parameters(text: str) -> str:
    """`...?password=pw&sslmode=require` -> `...?password=***&sslmode=require`, anywhere in `text`."""
    return _SECRET_PARAMETER.sub(r"\g<key>***", text)


def redact(text: str) -> str:
    """`text` with every URL's user:password part removed and its credential parameters masked: the one
    rule for what a log line, an error or a report may show of a URL."""
    if "://" not in text:
        return text
    return hide_secret_parameters(_USERINFO.sub(r"\g<scheme>", text))


def origin(url: str) -> str:
    """`https://u:pw@hooks.example/services/T/B/token` -> `https://hooks.example`: how a message names an
    endpoint whose path may itself be the credential (chat webhooks carry their token there)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}" if parts.scheme and host else redact(url)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (cause, context, urllib3's `reason`, exceptions in its args), in order."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 32:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(e for e in inner if isinstance(e, BaseException))
    return seen


def connection_problem(exc: BaseException) -> str | None:
    """A short reason when `exc` means "could not talk to the server at all"; None for any other failure
    (an HTTP error status, a bad query, a malformed answer: the server was reached)."""
    for error in _chain(exc):
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({error.verify_message})"
        if isinstance(error, ssl.SSLError):
            return f"TLS failed ({error.reason or error})"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, socket.gaierror):
            return "host name not found"
        if isinstance(error, ConnectionResetError | BrokenPipeError):
            return "connection reset"
        if isinstance(error, TimeoutError):
            return "timed out"
        if isinstance(error, OSError) and error.errno is not None and error.strerror:
            return error.strerror.lower()
    for error in _chain(exc):
        name = type(error).__name__
        if name in ("ConnectTimeoutError", "ConnectTimeout", "ReadTimeoutError", "ReadTimeout"):
            return "timed out"
    return None


def unreachable(setting: str, url: str, exc: BaseException) -> Unreachable | None:
    """`Unreachable` for a connection-level failure of `exc`, else None."""
    reason = connection_problem(exc)
    return Unreachable(setting, url, reason) if reason is not None else None
