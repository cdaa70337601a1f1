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

# A URL's userinfo is taken to run to the URL's last `@` (it ends at whitespace), not to the first `/`, `?`
# or `#`: a password may hold any of them unencoded (`https://ops:123/x@host/`, which parsers read as host
# `ops`, port 123), or an `@`, and a user part may be a token alone. An `@` in a path (written `%40` in the
# settings, which refuse it unencoded) takes what precedes it along: more hidden, never a password shown.
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)\S*@", re.IGNORECASE)
_SECRET_PARAMETER = re.compile(r"(?P<key>[?&;](?:" + "|".join(re.escape(k) for k in SECRET_PARAMETERS)
                               + r")=)[^&;#\s]*", re.IGNORECASE)


def hide_secret_parameters(text: str) -> str:
    """`...?password=pw&sslmode=require` -> `...?password=***&sslmode=require`, anywhere in `text`."""
    return _SECRET_PARAMETER.sub(r"\g<key>***", text)


def redact(text: str) -> str:
    """`text` with every URL's user:password part removed and its credential parameters masked: the one
    rule for what a log line, an error or a report may show of a URL. The part removed runs to the URL's
    last `@`, wherever the password's own `/`, `?`, `#` or `@` would have ended it for a URL parser."""
    if "://" not in text:
        return text
    return hide_secret_parameters(_USERINFO.sub(r"\g<scheme>", text))


def userinfo_is_ambiguous(url: str) -> bool:
    """Whether `url` has an `@` after its authority (in its path, query or fragment): where a user:password
    part holding an unencoded `/`, `?` or `#` puts its end. Clients then connect to the wrong host with a
    piece of the password as host or port, and their errors show it: such a URL is refused as a setting."""
    _, sep, rest = url.partition("://")
    end_of_authority = re.search(r"[/?#]", rest)
    return bool(sep and end_of_authority and "@" in rest[end_of_authority.end():])


def origin(url: str) -> str:
    """`https://u:pw@hooks.example/services/T/B/token` -> `https://hooks.example`: how a message names an
    endpoint whose path may itself be the credential (chat webhooks carry their token there)."""
    parts = urlsplit(redact(url))
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
