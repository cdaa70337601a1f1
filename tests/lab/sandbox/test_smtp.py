"""The SMTP sandbox: it keeps what it receives, enforces AUTH when asked, and survives a restart."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from tenantops_lab.sandbox.ports import is_listening
from tenantops_lab.sandbox.smtp import SmtpServer

pytestmark = pytest.mark.integration


def _message(subject: str = "Cost report") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "tenantops@example.com"
    message["To"] = "ops@example.com"
    message["Subject"] = subject
    message.set_content("plain")
    message.add_alternative("<p>html</p>", subtype="html")
    return message


def test_stores_parsed_messages_and_writes_eml(smtp_server: SmtpServer, tmp_path: Path) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.send_message(_message(), to_addrs=["ops@example.com", "finance@example.com"])
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("ops@example.com", "finance@example.com")
    assert mail.message["Subject"] == "Cost report"
    html = mail.message.get_body(("html",))
    assert html is not None and "<p>html</p>" in html.get_content()
    assert (tmp_path / "mail" / "0001.eml").read_bytes() == mail.raw


def test_auth_is_required_when_configured() -> None:
    with SmtpServer(username="tenantops", password="s3cret") as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client, pytest.raises(smtplib.SMTPException):
            client.send_message(_message())
        with smtplib.SMTP(server.host, server.port, timeout=5) as client, pytest.raises(
            smtplib.SMTPAuthenticationError
        ):
            client.login("tenantops", "wrong")
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.login("tenantops", "s3cret")
            client.send_message(_message())
        [mail] = server.wait_for(1)
        assert mail.login == "tenantops"


def test_down_then_up_on_the_same_port_keeps_messages(smtp_server: SmtpServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.send_message(_message("first"))
    port = smtp_server.port
    smtp_server.stop()
    assert not is_listening(port)
    with pytest.raises(OSError):
        smtplib.SMTP(smtp_server.host, port, timeout=2)
    smtp_server.start()
    assert smtp_server.port == port
    with smtplib.SMTP(smtp_server.host, port, timeout=5) as client:
        client.send_message(_message("second"))
    assert [m.message["Subject"] for m in smtp_server.wait_for(2)] == ["first", "second"]


def test_refuses_the_next_messages_with_a_temporary_error(smtp_server: SmtpServer) -> None:
    smtp_server.refuse_next(1)
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(_message("refused"))
        assert refused.value.smtp_code == 451
        client.send_message(_message("accepted"))
    assert [m.message["Subject"] for m in smtp_server.wait_for(1)] == ["accepted"]


def test_wait_for_times_out_without_mail(smtp_server: SmtpServer) -> None:
    assert smtp_server.wait_for(1, timeout=0.1) == []
