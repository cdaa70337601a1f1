"""A local SMTP server (aiosmtpd) that keeps every message it accepts, for tests and the demo.

The report and alert senders use plain `smtplib`; delivering to a real SMTP server (not a patched
`smtplib`) checks the envelope, headers, MIME structure and AUTH exactly as a mail relay would see them.
It can be stopped and started again on the same port, so "the mail server was down, then came back"
can be tested against the real retry path, and it can refuse the next N messages with a temporary error,
or one recipient at RCPT TO while taking the message for the others.
"""

from __future__ import annotations

import email.policy
import logging
import threading
import time
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any

from tenantops_lab.sandbox.ports import LOOPBACK, free_port, wait_closed


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message with its SMTP envelope (which can differ from the To/From headers)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    login: str | None = None


@dataclass
class _Inbox:
    """State shared between the server's event-loop thread and the test thread."""

    messages: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    refuse_next: int = 0
    refuse_reply: str = "451 4.3.0 try again later"
    refused_recipients: dict[str, list[str]] = field(default_factory=dict)  # address -> replies to give, in order


class _Handler:
    def __init__(self, inbox: _Inbox, eml_dir: Path | None) -> None:
        self.inbox = inbox
        self.eml_dir = eml_dir

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        with self.inbox.lock:
            replies = self.inbox.refused_recipients.get(address.lower())
            if replies:
                return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.inbox.lock:
            if self.inbox.refuse_next > 0:
                self.inbox.refuse_next -= 1
                return self.inbox.refuse_reply
        raw = bytes(envelope.original_content or envelope.content)
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        login = auth.decode() if isinstance(auth, bytes) else None
        received = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message, raw, login)
        with self.inbox.lock:
            self.inbox.messages.append(received)
            index = len(self.inbox.messages)
            self.inbox.lock.notify_all()
        if self.eml_dir is not None:
            self.eml_dir.mkdir(parents=True, exist_ok=True)
            (self.eml_dir / f"{index:04d}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on `127.0.0.1:<port>`; context manager or `start()` / `stop()` (restartable, same port).

    With `username`/`password` set, AUTH PLAIN/LOGIN is required and allowed without TLS (loopback only).
    With `smtputf8`, the server offers SMTPUTF8 (RFC 6531) and takes non-ASCII addresses; without, it
    offers plain ASCII SMTP, as many relays still do.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        eml_dir: str | Path | None = None,
        smtputf8: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.smtputf8 = smtputf8
        self.host = LOOPBACK
        self.username = username
        self.password = password
        self.eml_dir = Path(eml_dir) if eml_dir is not None else None
        self._inbox = _Inbox()
        self._controller: Any = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == self.username and auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    def start(self) -> SmtpServer:
        if self._controller is not None:
            return self
        from aiosmtpd.controller import Controller

        class _QuietController(Controller):
            """aiosmtpd warns on every connection that AUTH without TLS is unsafe; on loopback it is fine."""

            def factory(self) -> Any:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    return super().factory()  # type: ignore[no-untyped-call]

        logging.getLogger("mail.log").setLevel(logging.ERROR)
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": self.smtputf8}
        if self.username is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=False)
        controller = _QuietController(
            _Handler(self._inbox, self.eml_dir), hostname=self.host, port=self.port, ready_timeout=10, **kwargs
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening (messages received so far are kept); `start()` again listens on the same port."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            wait_closed(self.port)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- inspection ----------------------------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedMail]:
        with self._inbox.lock:
            return list(self._inbox.messages)

    @property
    def messages(self) -> list[EmailMessage]:
        return [mail.message for mail in self.received]

    def clear(self) -> None:
        with self._inbox.lock:
            self._inbox.messages.clear()
            self._inbox.refuse_next = 0
            self._inbox.refused_recipients.clear()

    def refuse_next(self, count: int, reply: str = "451 4.3.0 try again later") -> None:
        """Answer the next `count` messages with `reply` (a temporary failure by default)."""
        with self._inbox.lock:
            self._inbox.refuse_next = count
            self._inbox.refuse_reply = reply

    def refuse_recipient(self, address: str, reply: str = "451 4.7.1 greylisted, try again later",
                         count: int = 1) -> None:
        """Answer RCPT TO for `address` with `reply` the next `count` times (a greylisting relay, a mailbox
        that does not exist); the message still goes to the other recipients."""
        with self._inbox.lock:
            self._inbox.refused_recipients[address.lower()] = [reply] * count

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until at least `count` messages arrived (or the timeout passed); returns all received."""
        deadline = time.monotonic() + timeout
        with self._inbox.lock:
            while len(self._inbox.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._inbox.lock.wait(remaining)
            return list(self._inbox.messages)
