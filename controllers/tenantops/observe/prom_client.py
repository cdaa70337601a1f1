"""How the controller connects to Prometheus: authentication, TLS and the HTTP client both sources share.

A production Prometheus is rarely open: it sits behind a bearer token (a Kubernetes service-account token
file, rotated under the pod, so it is re-read for each request), basic auth, a tenant header (`X-Scope-OrgID`
for Mimir/Cortex/Thanos), a private CA, or AWS SigV4 for Amazon Managed Service for Prometheus (signed by
botocore's `SigV4Auth` with the standard credential chain: pod identity, IRSA, profile, environment).
At most one authentication is chosen; secrets stay `SecretStr` until the request is built.

What every source sends and reports the same way is here too: a moment as the exact decimal seconds the
query API parses (`api_time`, to the millisecond, Prometheus' resolution), the server-side timeout a query
asks for (`api_timeout`), and a failed request as a short reason (`describe_failure`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from pydantic import SecretStr
from requests.auth import AuthBase, HTTPBasicAuth
from urllib3.util.retry import Retry

AMP_SERVICE = "aps"  # the SigV4 service name of Amazon Managed Service for Prometheus


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_URL_IN_MESSAGE = re.compile(r" with url: \S+")


def millis(moment: datetime) -> int:
    """`moment` (timezone-aware) in whole milliseconds since the epoch, Prometheus' resolution; exact
    (timedelta arithmetic), where `timestamp() * 1000` can fall a millisecond short."""
    return (moment - _EPOCH) // _MILLISECOND


def api_time(moment: datetime) -> str:
    """`moment` as the `time`, `start` or `end` of a query: decimal seconds to its millisecond, exactly (no
    float rounding; a finer part is cut, never rounded up into the future). The client library rounds its
    own `start_time`/`end_time` to whole seconds, so every query gives its times in `params` this way."""
    ms = millis(moment)
    return f"{'-' if ms < 0 else ''}{abs(ms) // 1000}.{abs(ms) % 1000:03d}"


def api_timeout(seconds: float) -> str:
    """A query's `timeout` parameter: the client's own wait in whole milliseconds, at least 100 ms (a
    shorter one Prometheus gives up on before it has parsed the query)."""
    return f"{max(int(seconds * 1000), 100)}ms"


def describe_failure(exc: Exception) -> str:
    """A short reason for a failed query, for logs and a snapshot's errors: the class and message, without
    the request URL (which repeats the whole query) and at most 300 characters."""
    text = _URL_IN_MESSAGE.sub("", str(exc))
    return f"{type(exc).__name__}: {text}"[:300]


class BearerToken(AuthBase):
    """`Authorization: Bearer <token>`, the token given or read from its file at every request."""

    def __init__(self, token: SecretStr | None = None, token_file: str | None = None) -> None:
        self._token = token
        self._file = token_file

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        value = Path(self._file).read_text(encoding="utf-8").strip() if self._file else \
            (self._token.get_secret_value() if self._token else "")
        if self._file and any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            # The HTTP client would refuse the header quoting it, and its error is logged: name the file only.
            raise ValueError(f"the token in {self._file} holds a line break or control character, which no HTTP "
                             "header can carry")
        request.headers["Authorization"] = f"Bearer {value}"
        return request


class SigV4(AuthBase):
    """AWS Signature Version 4 of each request (service `aps`), from botocore's default credential chain."""

    def __init__(self, region: str, service: str = AMP_SERVICE, session: Any = None) -> None:
        import botocore.session

        self.region = region
        self.service = service
        self._session = session if session is not None else botocore.session.get_session()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = self._session.get_credentials()
        if credentials is None:
            raise PermissionError("SigV4: no AWS credentials found (environment, profile, pod identity or IRSA)")
        body = request.body or b""
        signed = AWSRequest(method=request.method, url=request.url, data=body,
                            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"})
        SigV4Auth(credentials.get_frozen_credentials(), self.service, self.region).add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        return request


@dataclass(frozen=True)
class PrometheusAccess:
    """Authentication and TLS for the Prometheus API (all unset: plain HTTP(S) with the system CAs)."""

    bearer_token: SecretStr | None = None
    bearer_token_file: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    headers: Mapping[str, SecretStr] = field(default_factory=dict)
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    sigv4_region: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> PrometheusAccess:
        return cls(
            bearer_token=settings.prometheus_bearer_token, bearer_token_file=settings.prometheus_bearer_token_file,
            username=settings.prometheus_username, password=settings.prometheus_password,
            headers=dict(settings.prometheus_headers), ca_file=settings.prometheus_ca_file,
            insecure_skip_verify=settings.prometheus_insecure_skip_verify,
            sigv4_region=settings.prometheus_sigv4_region,
        )

    def auth(self) -> AuthBase | None:
        if self.sigv4_region:
            return SigV4(self.sigv4_region)
        if self.bearer_token_file or self.bearer_token:
            return BearerToken(self.bearer_token, self.bearer_token_file)
        if self.username is not None:
            return HTTPBasicAuth(self.username, self.password.get_secret_value() if self.password else "")
        return None

    def verify(self) -> bool | str:
        """requests' `verify`: False to skip, a CA bundle path, or True for the system CAs."""
        if self.insecure_skip_verify:
            return False
        return self.ca_file or True


def connect(url: str, timeout: float, access: PrometheusAccess | None = None) -> PrometheusConnect:
    """A PrometheusConnect over one reused session with the chosen authentication and TLS.

    One retry on a dropped connection or a 502/503/504 only: a pass that waits out the client's default
    backoff is a late pass for every tenant, and the next pass retries anyway.
    """
    access = access or PrometheusAccess()
    retry = Retry(total=1, backoff_factor=0.2, status_forcelist=(502, 503, 504), allowed_methods=("GET",))
    session = requests.Session()
    session.verify = access.verify()
    if access.insecure_skip_verify:
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    headers = {name: value.get_secret_value() for name, value in access.headers.items()} or None
    return PrometheusConnect(url=url, headers=headers, retry=retry, auth=access.auth(), session=session,
                             timeout=timeout)
