"""Mail transports behind one `Transport` protocol: SMTP (optionally STARTTLS, or implicit TLS on port 465,
and AUTH) and Amazon SES.

Each transport turns its service's answers into the outbox's two failure kinds: SMTP 4xx replies and
connection problems are temporary, 5xx replies permanent; for SES, throttling and server-side errors are
temporary and a rejected message or an unverified sender permanent. The SMTP password is a `Secret`
revealed only in the `login` call, so it never reaches a log line or an exception message.

SMTP has a deadline per message, not only per socket operation: a server answering each command two
seconds late never trips a 30-second socket timeout yet takes half a minute per message. Every read
and write gets what is left of the message's deadline. And when the connection breaks or times out
after the whole message was sent (the server's `250` lost), the message is in doubt, not failed:
resending it would deliver it twice.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import Buffer

from tenantops.config.settings import Secret, Settings
from tenantops.endpoints import unreachable
from tenantops.notify.transport import (
    DeliveryError,
    InDoubtDeliveryError,
    PartialDeliveryError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    Transport,
)

log = logging.getLogger("tenantops.notify.mail")

SUBMISSIONS_PORT = 465
"""SMTP over implicit TLS (RFC 8314's `submissions`): the transport speaks TLS there from the first byte."""


def _smtp_error(code: int | None, text: str) -> DeliveryError:
    """4xx (and no code at all: the connection broke) is worth retrying; 5xx is not."""
    if code is not None and 500 <= code < 600:
        return PermanentDeliveryError(text, code)
    return TemporaryDeliveryError(text, code)


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class DeadlineSMTP(smtplib.SMTP):
    """`smtplib.SMTP` whose every socket operation gets what is left of one deadline for the whole
    message, and which notes when the message body (ending in `CRLF.CRLF`) has been sent."""

    def __init__(self, host: str, port: int, *, deadline_seconds: float,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self._deadline = time.monotonic() + deadline_seconds
        self._tls_context = tls_context  # implicit TLS (SMTPS): the socket is TLS before the greeting
        self.body_sent = False
        super().__init__(host, port, timeout=deadline_seconds)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # smtplib's own connection (as `SMTP._get_socket` opens it), wrapped in TLS for implicit TLS.
        sock = socket.create_connection((host, port), timeout, self.source_address)
        if self._tls_context is None:
            return sock
        return self._tls_context.wrap_socket(sock, server_hostname=host)

    def _remaining(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("per-message SMTP deadline reached")
        if self.sock is not None:
            self.sock.settimeout(left)

    def send(self, s: Buffer | str) -> None:
        self._remaining()
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.body_sent = True

    def getreply(self) -> tuple[int, bytes]:
        self._remaining()
        return super().getreply()


class SmtpTransport:
    """Plain `smtplib`: one connection per delivery run would save little for a few mails a week."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        username: str | None = None,
        password: Secret | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        implicit_tls: bool | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password if password is not None else Secret("")
        self.starttls = starttls
        # Port 465 is TLS from the first byte (submissions, RFC 8314); spoken to in plain SMTP it never greets.
        self.implicit_tls = port == SUBMISSIONS_PORT if implicit_tls is None else implicit_tls
        self.timeout = timeout
        self.ssl_context = ssl_context

    def __repr__(self) -> str:
        return (
            f"SmtpTransport(host={self.host!r}, port={self.port}, username={self.username!r},"
            f" password={self.password!r}, starttls={self.starttls}, implicit_tls={self.implicit_tls})"
        )

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        smtp: DeadlineSMTP | None = None
        try:
            tls = (self.ssl_context or ssl.create_default_context()) if self.implicit_tls else None
            smtp = DeadlineSMTP(self.host, self.port, deadline_seconds=self.timeout, tls_context=tls)
            smtp.ehlo()
            if self.starttls and not self.implicit_tls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password.get_secret_value())
            options, unsendable = self._utf8(smtp, sender, recipients)
            to = [r for r in recipients if r not in unsendable]
            if not to:
                raise PermanentDeliveryError("; ".join(f"{r}: {code} {_reply_text(text)}"
                                                       for r, (code, text) in unsendable.items()), 553)
            refused = {**smtp.sendmail(sender, to, message, mail_options=options), **unsendable}
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{rcpt}: {code} {_reply_text(text)}" for rcpt, (code, text) in exc.recipients.items())
            if any(400 <= c < 500 for c in codes) and any(not 400 <= c < 500 for c in codes):
                # Some for now, some for good: the first are worth another attempt, the others are not.
                raise _refused(exc.recipients, accepted=0, what=f"all recipients refused ({detail})") from None
            worst = max(codes) if codes else None
            raise _smtp_error(worst, f"all recipients refused ({detail})") from None
        except smtplib.SMTPAuthenticationError as exc:
            # Never include the credentials; the server's reply text does not contain them.
            raise _smtp_error(exc.smtp_code, f"authentication failed: {exc.smtp_code}") from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, f"{exc.smtp_code} {_reply_text(exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentDeliveryError(f"server does not support a required extension: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None and smtp.body_sent:  # no answer to a message the server has whole
                raise InDoubtDeliveryError(f"{self.host}:{self.port}: the message was sent but its reply was"
                                           f" lost ({type(exc).__name__}: {exc})") from None
            down = unreachable("TENANTOPS_SMTP_HOST", f"{self.host}:{self.port}", exc)
            raise TemporaryDeliveryError(
                str(down) if down is not None else f"{self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
        finally:
            if smtp is not None:
                _quit(smtp)
        if refused:
            # Accepted for the others: only the refused recipients are the outbox's to retry or report.
            accepted = len(recipients) - len(refused)
            raise _refused(refused, accepted=accepted, what=f"accepted for {accepted} recipient(s), refused for "
                           + "; ".join(f"{r}: {c} {_reply_text(t)}" for r, (c, t) in sorted(refused.items())))


    def _utf8(self, smtp: smtplib.SMTP, sender: str, recipients: Sequence[str]) -> tuple[
            list[str], dict[str, tuple[int, bytes | str]]]:
        """The MAIL options an internationalised address needs (RFC 6531's SMTPUTF8, when the server offers
        it), and the recipients it cannot be sent to here: a server without SMTPUTF8 cannot take a non-ASCII
        address, so those are refused for good (the others still get the message)."""
        wide = [r for r in recipients if not r.isascii()]
        if not wide and sender.isascii():
            return [], {}
        if smtp.has_extn("smtputf8"):
            smtp.command_encoding = "utf-8"
            return ["SMTPUTF8"], {}
        why = f"5.6.7 a non-ASCII address needs SMTPUTF8, which {self.host}:{self.port} does not offer"
        if not sender.isascii():
            raise PermanentDeliveryError(f"sender {sender}: {why} (TENANTOPS_MAIL_FROM)", 553)
        return [], {r: (553, why) for r in wide}


def _refused(refused: Mapping[str, tuple[int, bytes | str]], *, accepted: int, what: str) -> PartialDeliveryError:
    """The refusals split into those worth another attempt (4xx) and those that are not."""
    replies = {rcpt: f"{code} {_reply_text(text)}" for rcpt, (code, text) in refused.items()}
    temporary = {r: t for r, t in replies.items() if 400 <= refused[r][0] < 500}
    permanent = {r: t for r, t in replies.items() if r not in temporary}
    return PartialDeliveryError(what, temporary=temporary, permanent=permanent, accepted=accepted)


def _quit(smtp: smtplib.SMTP) -> None:
    """QUIT politely; the message's fate is already decided, so a failing QUIT changes nothing."""
    try:
        if smtp.sock is not None:
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


_SES_PERMANENT = {
    "MessageRejected",
    "MailFromDomainNotVerified",
    "MailFromDomainNotVerifiedException",
    "ConfigurationSetDoesNotExist",
    "ConfigurationSetSendingPausedException",
    "AccountSendingPausedException",
    "InvalidParameterValue",
    "AccessDenied",
    "AccessDeniedException",
}


class SesTransport:
    """Amazon SES `SendRawEmail`: the same MIME bytes as SMTP, so the report looks identical either way."""

    name = "ses"

    def __init__(self, client: Any, *, setting: str = "TENANTOPS_AWS_REGION", endpoint: str = "") -> None:
        self.client = client
        # What an unreachable SES is named by: the endpoint override when there is one, else the region.
        self.setting = setting
        self.endpoint = endpoint

    @classmethod
    def from_settings(cls, settings: Settings) -> SesTransport:
        import boto3
        from botocore.config import Config

        # One attempt per delivery run: the outbox owns retrying, with backoff that survives restarts.
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        client = boto3.client(
            "ses", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url, config=config
        )
        if settings.aws_endpoint_url:
            return cls(client, setting="TENANTOPS_AWS_ENDPOINT_URL", endpoint=str(settings.aws_endpoint_url))
        return cls(client, setting="TENANTOPS_AWS_REGION", endpoint=settings.aws_region)

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.send_raw_email(
                Source=sender, Destinations=list(recipients), RawMessage={"Data": message}
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            text = f"{code}: {error.get('Message', '')}"
            if code in _SES_PERMANENT or (400 <= status < 500 and "Throttl" not in code):
                raise PermanentDeliveryError(text, status or None) from None
            raise TemporaryDeliveryError(text, status or None) from None
        except BotoCoreError as exc:
            down = unreachable(self.setting, self.endpoint, exc) if self.endpoint else None
            raise TemporaryDeliveryError(str(down) if down is not None else f"{type(exc).__name__}: {exc}") from None


def transport_from_settings(settings: Settings) -> Transport:
    """`TENANTOPS_MAIL_TRANSPORT=ses` sends through SES; anything else (default) through SMTP."""
    if settings.mail_transport == "ses":
        return SesTransport.from_settings(settings)
    return SmtpTransport(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        implicit_tls=settings.smtp_implicit_tls,
    )
