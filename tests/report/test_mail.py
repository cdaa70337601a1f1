"""Transports against real servers: aiosmtpd for SMTP (auth, refusals, down) and moto's server for SES."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import boto3
import pytest

from tenantops.config.settings import Secret, Settings, resolve_settings
from tenantops.notify.mail import SesTransport, SmtpTransport, transport_from_settings
from tenantops.notify.transport import PermanentDeliveryError, TemporaryDeliveryError
from tenantops_lab.sandbox.ports import free_port
from tenantops_lab.sandbox.smtp import SmtpServer

pytestmark = pytest.mark.integration


def raw_message(to: str = "ops@example.com") -> bytes:
    msg = EmailMessage()
    msg["From"] = "tenantops@example.com"
    msg["To"] = to
    msg["Subject"] = "hello"
    msg.set_content("figures")
    return msg.as_bytes()


def test_smtp_delivers_envelope_and_bytes(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.host, smtp_server.port)
    transport.send("tenantops@example.com", ["ops@example.com", "fin@example.com"], raw_message())
    (mail,) = smtp_server.wait_for(1)
    assert mail.mail_from == "tenantops@example.com"
    assert mail.rcpt_tos == ("ops@example.com", "fin@example.com")
    assert mail.message["Subject"] == "hello"


def test_smtp_auth_with_secret_password_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    with SmtpServer(username="mailer", password="s3cret-pw") as server:
        settings = resolve_settings(
            {}, env={"TENANTOPS_SMTP_HOST": server.host, "TENANTOPS_SMTP_PORT": str(server.port),
                     "TENANTOPS_SMTP_USER": "mailer", "TENANTOPS_SMTP_PASSWORD": "s3cret-pw"},
        )
        transport = transport_from_settings(settings)
        assert "s3cret-pw" not in repr(transport)
        with caplog.at_level(logging.DEBUG):
            transport.send("tenantops@example.com", ["ops@example.com"], raw_message())
        (mail,) = server.wait_for(1)
        assert mail.login == "mailer"
        bad = SmtpTransport(server.host, server.port, username="mailer", password=Secret("wrong-pw"))
        with pytest.raises(PermanentDeliveryError) as info:
            bad.send("tenantops@example.com", ["ops@example.com"], raw_message())
        assert info.value.code == 535
        assert "wrong-pw" not in str(info.value)
    assert "s3cret-pw" not in caplog.text


def test_smtp_4xx_is_temporary_and_5xx_permanent(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.host, smtp_server.port)
    smtp_server.refuse_next(1, "451 4.3.0 try again later")
    with pytest.raises(TemporaryDeliveryError) as temp:
        transport.send("tenantops@example.com", ["ops@example.com"], raw_message())
    assert temp.value.code == 451
    smtp_server.refuse_next(1, "554 5.7.1 rejected as spam")
    with pytest.raises(PermanentDeliveryError) as perm:
        transport.send("tenantops@example.com", ["ops@example.com"], raw_message())
    assert perm.value.code == 554


def test_smtp_server_down_is_temporary() -> None:
    port = free_port()
    transport = SmtpTransport("127.0.0.1", port, timeout=2)
    with pytest.raises(TemporaryDeliveryError, match=f"^TENANTOPS_SMTP_HOST=127.0.0.1:{port}: connection refused$"):
        transport.send("tenantops@example.com", ["ops@example.com"], raw_message())


def test_smtp_starttls_required_but_unsupported_is_permanent(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.host, smtp_server.port, starttls=True)
    with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        transport.send("tenantops@example.com", ["ops@example.com"], raw_message())


def test_ses_sends_raw_mail_from_verified_identity(moto_server) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(mail_transport="ses", aws_endpoint_url=moto_server.endpoint_url,
                        aws_region=moto_server.region)
    transport = transport_from_settings(settings)
    assert isinstance(transport, SesTransport)
    ses = boto3.client("ses", region_name=moto_server.region, endpoint_url=moto_server.endpoint_url)
    with pytest.raises(PermanentDeliveryError, match="MessageRejected"):
        transport.send("tenantops@example.com", ["ops@example.com"], raw_message())
    ses.verify_email_identity(EmailAddress="tenantops@example.com")
    transport.send("tenantops@example.com", ["ops@example.com"], raw_message())
    # moto's server runs in this process; its backend shows exactly what SES was handed.
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    (sent,) = ses_backends[DEFAULT_ACCOUNT_ID][moto_server.region].sent_messages
    assert sent.source == "tenantops@example.com"
    assert "ops@example.com" in sent.destinations
    assert "Subject: hello" in sent.raw_data


def test_ses_unreachable_is_temporary(moto_server) -> None:  # type: ignore[no-untyped-def]
    """And named by the setting that points at it, as SMTP's TENANTOPS_SMTP_HOST is (before: botocore's
    `EndpointConnectionError: Could not connect to the endpoint URL: ...`, which names no setting)."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = Settings(mail_transport="ses", aws_endpoint_url=endpoint, aws_region="us-east-1")
    transport = transport_from_settings(settings)
    assert isinstance(transport, SesTransport)
    with pytest.raises(TemporaryDeliveryError, match=f"^TENANTOPS_AWS_ENDPOINT_URL={endpoint}: connection refused$"):
        transport.send("tenantops@example.com", ["ops@example.com"], raw_message())
