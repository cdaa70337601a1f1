"""Reaching a real Prometheus behind TLS and authentication: CA file or skip-verify, basic auth, a bearer
token file that rotates, extra headers, SigV4 for Amazon Managed Prometheus; and the settings that choose."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.faults.helpers import workload_series, write_config

from tenantops.config import ConfigError, load_config
from tenantops.config.settings import resolve_settings
from tenantops.observe.prometheus import PrometheusSource
from tenantops.structs.snapshot import Quality, Snapshot

from .tls_proxy import AuthProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def upstream(prometheus: Any) -> str:
    now = float(int(time.time()))
    return str(prometheus(series=workload_series("alpha", "api", 80, 2, now - 600, now)).url)


@pytest.fixture
def make_proxy(upstream: str, tmp_path: Path) -> Iterator[Any]:
    made: list[AuthProxy] = []

    def make(allow: Any) -> AuthProxy:
        proxy = AuthProxy(upstream, tmp_path / f"certs{len(made)}", allow)
        made.append(proxy)
        return proxy

    for directory in range(4):
        (tmp_path / f"certs{directory}").mkdir()
    yield make
    for proxy in made:
        proxy.close()


def observe(env: Mapping[str, str], tmp_path: Path) -> tuple[PrometheusSource, Snapshot]:
    """One observation through the settings `env` selects."""
    catalog, policies = write_config(tmp_path / f"cfg{time.monotonic_ns()}")
    source = PrometheusSource.from_settings(resolve_settings({}, env=env))
    return source, source.observe(load_config(catalog, policies), datetime.now(UTC))


def readings_ok(observed: tuple[PrometheusSource, Snapshot]) -> bool:
    _, snapshot = observed
    alpha = snapshot.workloads[("alpha", "api")].readings
    return not snapshot.errors and alpha["replicas"].quality is Quality.OK


def basic(headers: Mapping[str, str]) -> bool:
    return headers.get("authorization") == "Basic " + base64.b64encode(b"ops:s3cret-pw").decode()


def test_basic_auth_over_tls_with_a_private_ca(make_proxy: Any, tmp_path: Path) -> None:
    proxy = make_proxy(basic)
    env = {"TENANTOPS_PROMETHEUS_URL": proxy.url, "TENANTOPS_PROMETHEUS_USERNAME": "ops",
           "TENANTOPS_PROMETHEUS_PASSWORD": "s3cret-pw", "TENANTOPS_PROMETHEUS_CA_FILE": str(proxy.ca_file),
           "TENANTOPS_PROMETHEUS_HEADERS": '{"X-Scope-OrgID": "ops-team"}'}
    assert readings_ok(observe(env, tmp_path))
    assert all(h.get("x-scope-orgid") == "ops-team" for h in proxy.seen)

    wrong, refused = observe({**env, "TENANTOPS_PROMETHEUS_PASSWORD": "guess"}, tmp_path)
    assert wrong.unreachable is None and any("401" in e for e in refused.errors)  # reached, but refused


def test_an_untrusted_certificate_is_named_unless_verification_is_skipped(make_proxy: Any, tmp_path: Path) -> None:
    proxy = make_proxy(basic)
    env = {"TENANTOPS_PROMETHEUS_URL": proxy.url, "TENANTOPS_PROMETHEUS_USERNAME": "ops",
           "TENANTOPS_PROMETHEUS_PASSWORD": "s3cret-pw"}
    untrusted, _ = observe(env, tmp_path)
    assert untrusted.unreachable is not None
    assert str(untrusted.unreachable).startswith(f"TENANTOPS_PROMETHEUS_URL={proxy.url}: TLS certificate not trusted")
    assert readings_ok(observe({**env, "TENANTOPS_PROMETHEUS_INSECURE_SKIP_VERIFY": "true"}, tmp_path))


def test_bearer_token_file_is_reread_when_rotated(make_proxy: Any, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n", encoding="utf-8")
    proxy = make_proxy(lambda h: h.get("authorization") == "Bearer " + token.read_text(encoding="utf-8").strip())
    catalog, policies = write_config(tmp_path / "cfg")
    source = PrometheusSource.from_settings(resolve_settings({}, env={
        "TENANTOPS_PROMETHEUS_URL": proxy.url, "TENANTOPS_PROMETHEUS_CA_FILE": str(proxy.ca_file),
        "TENANTOPS_PROMETHEUS_BEARER_TOKEN_FILE": str(token)}))
    config = load_config(catalog, policies)
    assert not source.observe(config, datetime.now(UTC)).errors
    token.write_text("second\n", encoding="utf-8")  # the kubelet rotates the projected token
    assert not source.observe(config, datetime.now(UTC)).errors
    assert proxy.seen[-1]["authorization"] == "Bearer second"


def test_sigv4_signs_for_amazon_managed_prometheus(make_proxy: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTENANTOPSTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    day = datetime.now(UTC).strftime("%Y%m%d")

    def signed(headers: Mapping[str, str]) -> bool:
        auth = headers.get("authorization", "")
        return auth.startswith(f"AWS4-HMAC-SHA256 Credential=AKIDTENANTOPSTEST/{day}/eu-west-1/aps/aws4_request")

    proxy = make_proxy(signed)
    assert readings_ok(observe({"TENANTOPS_PROMETHEUS_URL": proxy.url,
                                "TENANTOPS_PROMETHEUS_CA_FILE": str(proxy.ca_file),
                                "TENANTOPS_PROMETHEUS_SIGV4_REGION": "eu-west-1"}, tmp_path))
    seen = proxy.seen[-1]
    assert "x-amz-date" in seen and "SignedHeaders=" in seen["authorization"]
    assert "host" in seen["authorization"].split("SignedHeaders=")[1].split(",")[0]


def test_one_authentication_only_and_secrets_hidden() -> None:
    with pytest.raises(ConfigError) as both:
        resolve_settings({}, env={"TENANTOPS_PROMETHEUS_BEARER_TOKEN": "t0k3n",
                                  "TENANTOPS_PROMETHEUS_SIGV4_REGION": "eu-west-1"})
    message = str(both.value)
    assert "TENANTOPS_PROMETHEUS_BEARER_TOKEN and TENANTOPS_PROMETHEUS_SIGV4_REGION" in message
    settings = resolve_settings({}, env={"TENANTOPS_PROMETHEUS_BEARER_TOKEN": "t0k3n",
                                         "TENANTOPS_PROMETHEUS_HEADERS": '{"X-Api-Key": "k3y"}'})
    assert "t0k3n" not in repr(settings) and "k3y" not in repr(settings)
    with pytest.raises(ConfigError) as bad_json:
        resolve_settings({}, env={"TENANTOPS_PROMETHEUS_HEADERS": "X-Api-Key: k3y"})
    assert bad_json.value.issues[0].file == "TENANTOPS_PROMETHEUS_HEADERS" and "k3y" not in str(bad_json.value)


def test_a_token_file_of_two_lines_fails_the_request_without_showing_the_token(tmp_path: Path) -> None:
    """The file is read at every request; a line break inside its token made the HTTP client refuse the
    header with an error that quoted it, so the token was logged at every query."""
    import requests

    from tenantops.observe.prom_client import BearerToken

    token = tmp_path / "token"
    token.write_text("s3cr3t\nsecond-line\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line break") as caught:
        BearerToken(token_file=str(token))(requests.Request("GET", "http://prometheus.invalid/").prepare())
    assert "s3cr3t" not in str(caught.value) and str(token) in str(caught.value)
    token.write_text("s3cr3t\n", encoding="utf-8")  # one line and its newline: as written by echo
    request = BearerToken(token_file=str(token))(requests.Request("GET", "http://prometheus.invalid/").prepare())
    assert request.headers["Authorization"] == "Bearer s3cr3t"
