"""STARTTLS with AUTH against a real aiosmtpd server that refuses anything before TLS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenantops.config.settings import Secret
from tenantops.notify.mail import SmtpTransport
from tenantops.notify.transport import PermanentDeliveryError, TemporaryDeliveryError
from tenantops_lab.sandbox.ports import free_port

pytestmark = pytest.mark.integration


class _Keep:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, bytes(envelope.content), session.auth_data))
        return "250 OK"


def _certificate(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 and the server's TLS context holding it."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, _Keep, Path]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, context = _certificate(tmp_path)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"tls-pw")
        return AuthResult(success=ok, handled=False, auth_data=b"mailer" if ok else None)

    handler = _Keep()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticate, auth_required=True, auth_require_tls=True)
    controller.start()
    try:
        yield port, handler, cert
    finally:
        controller.stop()


def test_starttls_then_auth_delivers(tls_server: tuple[int, _Keep, Path]) -> None:
    port, handler, cert = tls_server
    trust = ssl.create_default_context(cafile=str(cert))
    transport = SmtpTransport("127.0.0.1", port, username="mailer", password=Secret("tls-pw"), starttls=True,
                              ssl_context=trust)
    transport.send("tenantops@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
    assert [(m[0], m[2]) for m in handler.messages] == [("tenantops@example.com", b"mailer")]


def test_without_starttls_the_server_refuses_permanently(tls_server: tuple[int, _Keep, Path]) -> None:
    port, handler, _ = tls_server
    transport = SmtpTransport("127.0.0.1", port, username="mailer", password=Secret("tls-pw"))
    with pytest.raises(PermanentDeliveryError) as info:
        transport.send("tenantops@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
    assert "AUTH" in str(info.value)  # the server offers AUTH only after STARTTLS
    assert "tls-pw" not in str(info.value)
    assert handler.messages == []


def test_untrusted_certificate_is_not_sent_to(tls_server: tuple[int, _Keep, Path]) -> None:
    port, handler, _ = tls_server
    transport = SmtpTransport("127.0.0.1", port, username="mailer", password=Secret("tls-pw"), starttls=True)
    # Retried (an operator may be rotating the certificate) until the outbox gives up and raises an alert.
    # Which side reports the untrusted chain first is a race in TLS 1.3 (the client's own verification error,
    # or the alert it answers for); either way the certificate was not trusted and nothing was sent.
    with pytest.raises(TemporaryDeliveryError, match=r"TLS (certificate not trusted|failed \(TLSV1_ALERT_UNKNOWN_CA)"):
        transport.send("tenantops@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
    assert handler.messages == []


@pytest.fixture
def smtps_server(tmp_path: Path) -> Iterator[tuple[int, _Keep, Path]]:
    """SMTP over implicit TLS (TLS from the first byte) on a port that is not 465, as Amazon SES's SMTP
    endpoint also offers it on 2465 for networks that block 465."""
    from aiosmtpd.controller import Controller

    cert, context = _certificate(tmp_path)
    handler = _Keep()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        yield port, handler, cert
    finally:
        controller.stop()


def test_implicit_tls_delivers_to_a_server_that_speaks_tls_from_the_first_byte(
        smtps_server: tuple[int, _Keep, Path]) -> None:
    """Port 465 (submissions, RFC 8314) is TLS from the first byte, as many providers offer it. Before, the
    transport spoke plain SMTP there and waited for a greeting the server would only send after a TLS
    handshake: every message took the whole 30-second deadline and failed as `timed out`, retried for hours
    and given up on. Port 465 now means implicit TLS (as `SmtpTransport(implicit_tls=True)` on any port)."""
    from tenantops.config.settings import Settings
    from tenantops.notify.mail import transport_from_settings

    port, handler, cert = smtps_server
    transport = SmtpTransport("127.0.0.1", port, implicit_tls=True, timeout=10,
                              ssl_context=ssl.create_default_context(cafile=str(cert)))
    transport.send("tenantops@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
    assert [m[0] for m in handler.messages] == ["tenantops@example.com"]
    with pytest.raises(TemporaryDeliveryError, match="TLS"):  # the certificate is checked, as with STARTTLS
        SmtpTransport("127.0.0.1", port, implicit_tls=True, timeout=10).send(
            "tenantops@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
    smtps = transport_from_settings(Settings(smtp_host="smtp.example.com", smtp_port=465))
    assert isinstance(smtps, SmtpTransport) and smtps.implicit_tls
    assert not SmtpTransport("smtp.example.com", 587, starttls=True).implicit_tls



def test_implicit_tls_on_another_port_than_465_is_a_setting(smtps_server: tuple[int, _Keep, Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Implicit TLS was chosen by the port alone (465): a relay speaking it on another port (SES's 2465)
    could not be configured, and a plain greeting never came. TENANTOPS_SMTP_IMPLICIT_TLS=true chooses it
    on any port; unset, port 465 still implies it."""
    from tenantops.config.settings import resolve_settings
    from tenantops.notify.mail import transport_from_settings

    port, handler, cert = smtps_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the system trust store, as a private CA is added to it
    settings = resolve_settings({}, env={"TENANTOPS_SMTP_HOST": "127.0.0.1", "TENANTOPS_SMTP_PORT": str(port),
                                         "TENANTOPS_SMTP_IMPLICIT_TLS": "true"})
    transport = transport_from_settings(settings)
    transport.send("tenantops@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
    assert [m[0] for m in handler.messages] == ["tenantops@example.com"]
    assert resolve_settings({}, env={"TENANTOPS_SMTP_PORT": "465"}).smtp_implicit_tls is None
    plain = transport_from_settings(resolve_settings({}, env={"TENANTOPS_SMTP_PORT": "465",
                                                              "TENANTOPS_SMTP_IMPLICIT_TLS": "false"}))
    assert "implicit_tls=False" in repr(plain)  # a plain relay on 465 can be spoken to


def test_starttls_and_implicit_tls_at_once_is_an_error_naming_both() -> None:
    from tenantops.config.errors import ConfigError
    from tenantops.config.settings import resolve_settings

    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={"TENANTOPS_SMTP_STARTTLS": "true", "TENANTOPS_SMTP_IMPLICIT_TLS": "true"})
    assert "TENANTOPS_SMTP_STARTTLS" in str(caught.value) and "TENANTOPS_SMTP_IMPLICIT_TLS" in str(caught.value)
