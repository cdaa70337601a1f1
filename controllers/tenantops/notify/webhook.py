"""Alerts to a chat webhook as Slack-style JSON (`text` plus `blocks`), which Slack, Mattermost and most
chat tools accept.

Slack reads `&`, `<` and `>` as markup (links, mentions); they are escaped so a tenant name or summary can
never ping a channel or smuggle a link.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tenantops.endpoints import origin, redact, unreachable
from tenantops.structs.plan import Alert, Severity

log = logging.getLogger(__name__)

_ICON = {Severity.INFO: ":information_source:", Severity.WARNING: ":warning:", Severity.CRITICAL: ":rotating_light:"}


class NotifyError(Exception):
    """A notification could not be delivered (the caller logs it and carries on with other routes).
    `code` is the HTTP status of a reply that refused it (None: no reply)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @property
    def permanent(self) -> bool:
        """A client error other than a timeout or throttling (408, 425, 429): the receiver will refuse the
        same post again (a revoked webhook answers 404 or 410, a malformed one 400)."""
        return self.code is not None and 400 <= self.code < 500 and self.code not in (408, 425, 429)


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The message: headline with severity and tenant, then amount, cause and the suggested action."""
    who = escape_mrkdwn(alert.tenant or "all tenants")
    headline = f"{_ICON[alert.severity]} *{alert.severity.upper()}* {who}: {escape_mrkdwn(alert.summary)}"
    fields = [f"*Cause:* {escape_mrkdwn(alert.cause)}"]
    if alert.amount_usd is not None:
        fields.append(f"*Amount:* ${alert.amount_usd:,.2f}")
    return {
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f} for f in fields]},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": f"*Suggested action:* {escape_mrkdwn(alert.suggested_action)}"}},
        ],
    }


def _with_basic_auth(url: str) -> tuple[str, dict[str, str]]:
    """`https://user:pw@host/path` -> (`https://host/path`, an `Authorization: Basic` header).

    urllib does not take credentials from a URL: it sent `user:pw@host` to DNS as the host name, so an
    Alertmanager or webhook behind basic auth (an ingress's, Alertmanager's own web config) was reported
    unreachable on every pass. The user and password are percent-decoded, as RFC 3986 writes them."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=host)), {"Authorization": f"Basic {token}"}


def post_json(url: str, payload: Any, timeout: float = 5.0, *, setting: str | None = None) -> int:
    """POST JSON; returns the status, raises `NotifyError` on transport errors and non-2xx replies.

    Errors name the endpoint by its origin only: a chat webhook's path is its secret token, and these
    messages go to logs and delivery outcomes. An endpoint not reached at all is named by `setting`, the
    variable that points at it (`TENANTOPS_WEBHOOK_URL=https://hooks.example: connection refused`)."""
    if not url.startswith(("http://", "https://")):
        raise NotifyError(f"not an http(s) URL: {redact(url)!r}")
    body = json.dumps(payload).encode("utf-8")
    target, headers = _with_basic_auth(url)
    request = urllib.request.Request(target, data=body, method="POST",  # noqa: S310 (scheme checked above)
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise NotifyError(f"{origin(url)} answered {exc.code}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        down = unreachable(setting, origin(url), exc) if setting else None
        raise NotifyError(str(down) if down is not None else f"{origin(url)} unreachable: {redact(str(exc))}") from None


class WebhookSender:
    """Sends each alert as one webhook message."""

    name = "webhook"
    setting = "TENANTOPS_WEBHOOK_URL"

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.post(slack_payload(alert))
            log.info("webhook: sent %s (%s)", alert.key, alert.severity)

    def post(self, payload: Any) -> None:
        """One message as `slack_payload` made it (or as the outbox kept it); raises `NotifyError`."""
        post_json(self.url, payload, self.timeout, setting=self.setting)
