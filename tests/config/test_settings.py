"""Settings: precedence (flag > environment > config file > default), typed values, typos named, secrets masked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tests.cli.helpers import ROOT, tenantops

from tenantops.config import ConfigError
from tenantops.config.settings import Secret, Settings, resolve_settings


def test_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "tenantops.yaml"
    cfg.write_text("prometheus_url: http://file:9090\nsmtp_port: 2525\ncatalog: from-file.yaml\n", encoding="utf-8")
    env = {"TENANTOPS_CONFIG": str(cfg), "TENANTOPS_PROMETHEUS_URL": "http://env:9090"}
    settings = resolve_settings({"catalog": None, "policies": "flag-policies"}, env=env)
    assert settings.prometheus_url == "http://env:9090"
    assert settings.smtp_port == 2525
    assert settings.catalog == "from-file.yaml"
    assert settings.policies == "flag-policies"
    assert settings.state == Settings().state
    assert settings.config_file == str(cfg)


def test_an_empty_variable_does_not_override_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "tenantops.yaml"
    cfg.write_text("smtp_host: mail.example\n", encoding="utf-8")
    settings = resolve_settings({"config_file": str(cfg)}, env={"TENANTOPS_SMTP_HOST": ""})
    assert settings.smtp_host == "mail.example"


def test_unknown_setting_in_file_is_rejected_at_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "tenantops.yaml"
    cfg.write_text("smtp_host: mail.example\nprometheus_ulr: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({"config_file": str(cfg)}, env={})
    issue = caught.value.issues[0]
    assert (issue.file, issue.line, issue.field) == (str(cfg), 2, "prometheus_ulr")
    assert "did you mean prometheus_url" in issue.message


def test_bad_value_in_file_names_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "tenantops.yaml"
    cfg.write_text("# mail\nsmtp_host: mail.example\n\nsmtp_starttls: maybe\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({"config_file": str(cfg)}, env={})
    assert str(caught.value.issues[0]).startswith(f"{cfg}:4: smtp_starttls:")


def test_config_file_that_is_not_yaml_or_missing(tmp_path: Path) -> None:
    cfg = tmp_path / "tenantops.yaml"
    cfg.write_text("smtp_host: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({"config_file": str(cfg)}, env={})
    assert caught.value.issues[0].file == str(cfg) and caught.value.issues[0].line >= 1
    with pytest.raises(ConfigError) as missing:
        resolve_settings({}, env={"TENANTOPS_CONFIG": str(tmp_path / "absent.yaml")})
    assert "does not exist" in missing.value.issues[0].message


def test_bad_port_names_its_source() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={"TENANTOPS_SMTP_PORT": "twenty-five"})
    assert caught.value.issues[0].file == "TENANTOPS_SMTP_PORT"
    with pytest.raises(ConfigError) as flag:
        resolve_settings({"smtp_port": 70000}, env={"TENANTOPS_SMTP_PORT": "25"})
    assert flag.value.issues[0].file == "--smtp-port"


@pytest.mark.parametrize(("variable", "value"), [
    ("TENANTOPS_SMTP_STARTTLS", "ture"),
    ("TENANTOPS_MAIL_TRANSPORT", "sess"),
    ("TENANTOPS_PROMETHEUS_URL", "localhost:9090"),
])
def test_typos_are_errors_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={variable: value})
    assert str(caught.value.issues[0]).startswith(f"{variable}: ")
    assert repr(value) in str(caught.value.issues[0])


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={"TENANTOPS_SMTP_STARTTLS": "ture", "TENANTOPS_MAIL_TRANSPORT": "sess"})
    assert {i.file for i in caught.value.issues} == {"TENANTOPS_SMTP_STARTTLS", "TENANTOPS_MAIL_TRANSPORT"}


def test_booleans_take_the_usual_spellings() -> None:
    for text, expected in [("true", True), ("1", True), ("yes", True), ("off", False), ("False", False)]:
        assert resolve_settings({}, env={"TENANTOPS_SMTP_STARTTLS": text}).smtp_starttls is expected


def test_unknown_variable_is_warned_with_the_close_setting(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tenantops.config.settings"):
        settings = resolve_settings({}, env={"TENANTOPS_SMTP_STARTTLSS": "true", "TENANTOPS_TRACES": "/x"})
    assert settings.smtp_starttls is False
    assert [r.getMessage() for r in caplog.records] == [
        "TENANTOPS_SMTP_STARTTLSS is not a tenantops setting and is ignored (did you mean TENANTOPS_SMTP_STARTTLS?)"
    ]


def test_password_never_shows(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    settings = resolve_settings({}, env={"TENANTOPS_SMTP_PASSWORD": "hunter2"})
    assert isinstance(settings.smtp_password, Secret)
    assert settings.smtp_password.get_secret_value() == "hunter2"
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("settings %s %r %s", settings, settings, f"{settings.smtp_password}")
    assert "hunter2" not in caplog.text
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert "hunter2" not in settings.model_dump_json()


def test_a_bad_secret_is_named_but_not_shown(tmp_path: Path) -> None:
    cfg = tmp_path / "tenantops.yaml"
    cfg.write_text("smtp_password: [hunter2]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({"config_file": str(cfg)}, env={})
    assert caught.value.issues[0].field == "smtp_password"
    assert "hunter2" not in str(caught.value)


def test_printing_settings_shows_no_database_password_or_webhook_token() -> None:
    settings = resolve_settings({}, env={"TENANTOPS_DATABASE_URL": "postgresql://ops:hunter2@db/state",
                                         "TENANTOPS_WEBHOOK_URL": "https://hooks.example/services/T0/B0/s3cr3t"})
    assert settings.database_url == "postgresql://ops:hunter2@db/state"
    for text in (repr(settings), str(settings), f"{settings}"):
        assert "hunter2" not in text and "s3cr3t" not in text


def test_printing_settings_shows_no_credentials_inside_an_endpoint_url() -> None:
    """Prometheus, Alertmanager and AWS endpoints may be written with basic-auth credentials inside."""
    settings = resolve_settings({}, env={"TENANTOPS_PROMETHEUS_URL": "https://ops:hunter2@prom.example:9090",
                                         "TENANTOPS_ALERTMANAGER_URL": "http://am:s3cr3t@am.example:9093",
                                         "TENANTOPS_AWS_ENDPOINT_URL": "http://key:pa55@moto.example:5000"})
    assert "ops:hunter2@" in str(settings.prometheus_url)  # the value itself is whole
    for text in (repr(settings), str(settings), f"{settings}"):
        assert "hunter2" not in text and "s3cr3t" not in text and "pa55" not in text
        assert "prom.example:9090" in text and "am.example:9093" in text


def test_a_bad_url_is_shown_without_its_credentials() -> None:
    env = {"TENANTOPS_PROMETHEUS_URL": "ftp://ops:hunter2@prom.example:9090",
           "TENANTOPS_WEBHOOK_URL": "hooks.example/services/T0/B0/s3cr3t"}
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env=env)
    text = str(caught.value)
    assert {i.field for i in caught.value.issues} == {"prometheus_url", "webhook_url"}
    assert "ftp://prom.example:9090" in text  # what was wrong stays visible
    assert "hunter2" not in text and "s3cr3t" not in text


def test_default_paths_are_the_repositorys_from_any_directory(tmp_path: Path) -> None:
    settings = Settings()
    assert Path(settings.catalog) == ROOT / "stacks" / "dev.catalog.yaml"
    assert Path(settings.policies) == ROOT / "policies"
    assert Path(settings.state).parent == ROOT / "tenantops-state"
    result = tenantops("validate", "--json", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_cli_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = tenantops("validate", env={"TENANTOPS_SMTP_STARTTLS": "ture"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "TENANTOPS_SMTP_STARTTLS: smtp_starttls: Input should be a valid boolean" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_state_flag_selects_that_file_over_a_database_url_below_it() -> None:
    env = {"TENANTOPS_DATABASE_URL": "postgresql://ops@db/state"}
    assert resolve_settings({}, env=env).database_url == "postgresql://ops@db/state"
    chosen = resolve_settings({"state": "/backups/state.db"}, env=env)
    assert (chosen.state, chosen.database_url) == ("/backups/state.db", None)
    both = resolve_settings({"state": "/backups/state.db", "database_url": "sqlite:////other.db"}, env=env)
    assert both.database_url == "sqlite:////other.db"


@pytest.mark.parametrize("variable", ["TENANTOPS_MAIL_FROM", "TENANTOPS_OPS_EMAIL"])
@pytest.mark.parametrize("value", [
    "not-an-address", "ops@example.com\nBcc: someone@evil.example", "ops@example.com, oncall@example.com",
    "Ops <ops@example.com>", "ops@@example.com", "ops@", "@example.com", "ops@exa mple.com", "ops@example.com.",
])
def test_a_mail_address_setting_that_is_not_one_address_is_an_error_naming_the_variable(variable: str,
                                                                                        value: str) -> None:
    """The sender is both the envelope sender and the From header, the ops address an envelope recipient
    beside the contacts: anything but one bare address used to pass, and then every alert mail failed to be
    composed (a line break in a header) and was dropped, or the server refused the envelope at each delivery."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={variable: value})
    assert [i.file for i in caught.value.issues] == [variable]
    assert "one mail address" in caught.value.issues[0].message


def test_mail_address_settings_take_local_and_international_addresses(tmp_path: Path) -> None:
    for value in ("tenantops@localhost", "tenantops@demo.localhost", "ops@ops.example", "öps@exämple.de",
                  "first.last+alerts@sub.example.com"):
        settings = resolve_settings({}, env={"TENANTOPS_MAIL_FROM": value, "TENANTOPS_OPS_EMAIL": value})
        assert settings.mail_from == value and settings.ops_email == value
    config = tmp_path / "settings.yaml"
    config.write_text("smtp_host: mail.example\nops_email: ops at example.com\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={"TENANTOPS_CONFIG": str(config)})
    assert [(i.file, i.line, i.field) for i in caught.value.issues] == [(str(config), 2, "ops_email")]


@pytest.mark.parametrize("variable", ["TENANTOPS_PROMETHEUS_BEARER_TOKEN", "TENANTOPS_KUBE_TOKEN"])
@pytest.mark.parametrize("value", ["s3cr3t\nsecond-line", "s3\rcr3t", "s3c\x00r3t", "s3cr3t\x7f"])
def test_a_token_no_http_header_can_carry_is_an_error_that_does_not_show_it(variable: str, value: str) -> None:
    """A token goes into an `Authorization` header. With a line break in it every request was refused by the
    HTTP client, whose error quoted the header, so the token was logged in the clear, query after query,
    pass after pass, while every metric was missing."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={variable: value})
    assert [i.file for i in caught.value.issues] == [variable]
    assert "s3c" not in str(caught.value) and "line break or control character" in str(caught.value)


def test_a_token_keeps_no_surrounding_whitespace() -> None:
    """As the token file is read: a Secret made from a file ends the value with its newline."""
    settings = resolve_settings({}, env={"TENANTOPS_PROMETHEUS_BEARER_TOKEN": "s3cr3t\n",
                                         "TENANTOPS_KUBE_TOKEN": " k8s-t0ken\r\n"})
    assert settings.prometheus_bearer_token is not None and settings.kube_token is not None
    assert settings.prometheus_bearer_token.get_secret_value() == "s3cr3t"
    assert settings.kube_token.get_secret_value() == "k8s-t0ken"


@pytest.mark.parametrize("headers", ['{"X-Api-Key": "s3cr3t\\nx"}', '{"X-Api-Key": "s3cr3t\\u0000"}',
                                     '{"X Api Key": "s3cr3t"}', '{"X-Api-Key:": "s3cr3t"}', '{"": "s3cr3t"}'])
def test_a_prometheus_header_no_request_can_carry_is_an_error_that_does_not_show_it(headers: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={"TENANTOPS_PROMETHEUS_HEADERS": headers})
    assert [i.file for i in caught.value.issues] == ["TENANTOPS_PROMETHEUS_HEADERS"]
    assert "s3cr3t" not in str(caught.value)
    assert resolve_settings({}, env={"TENANTOPS_PROMETHEUS_HEADERS": '{"X-Scope-OrgID": " ops "}'}) \
        .prometheus_headers["X-Scope-OrgID"].get_secret_value() == "ops"


@pytest.mark.parametrize("variable", ["TENANTOPS_PROMETHEUS_URL", "TENANTOPS_ALERTMANAGER_URL", "TENANTOPS_KUBE_URL"])
@pytest.mark.parametrize("url", ["http://ops:s3c r3t@prom.example:9090", "http://ops:s3c\nr3t@prom.example:9090",
                                 "http://ops:s3c/r3t@prom.example:9090", "http://ops:s3c#r3t@prom.example:9090"])
def test_a_url_whose_password_is_not_percent_encoded_is_refused_without_showing_it(variable: str, url: str) -> None:
    """A space or line break in a URL, or a `/`, `#` or `?` in its password, left the password where the
    redaction of user:password could not find it: the client's error (`Host '...' contains invalid
    character`, an unparsable port) and `TENANTOPS_PROMETHEUS_URL=<url>: connection refused` showed it."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={variable: url})
    assert [i.file for i in caught.value.issues] == [variable]
    assert "r3t" not in str(caught.value) and "s3c" not in str(caught.value)


@pytest.mark.parametrize("variable", ["TENANTOPS_PROMETHEUS_URL", "TENANTOPS_ALERTMANAGER_URL", "TENANTOPS_KUBE_URL",
                                      "TENANTOPS_AWS_ENDPOINT_URL", "TENANTOPS_WEBHOOK_URL"])
@pytest.mark.parametrize("url", ["https://ops:123/s3cr3t@prom.example/", "https://ops:/s3cr3t@prom.example/",
                                 "https://0ps5/s3cr3t@prom.example/", "https://ops:123?s3cr3t@prom.example/",
                                 "https://ops:123#s3cr3t@prom.example/", "https://ops:1@2/s3cr3t@prom.example/"])
def test_a_password_whose_slash_follows_digits_is_refused_without_showing_it(variable: str, url: str) -> None:
    """`https://ops:123/s3cr3t@prom.example/` parses as host `ops`, port 123 and path `/s3cr3t@...`: the
    port check passed it, the redaction (which ends user:password at the first `/`) left it whole, and
    `repr(settings)`, every log line and `<SETTING>=<url>: host name not found` showed the password."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={variable: url})
    assert [i.file for i in caught.value.issues] == [variable]
    shown = str(caught.value)
    assert "s3cr3t" not in shown and "123" not in shown and "0ps5" not in shown, shown
    assert "%2F" in shown  # says how to write it


def test_a_password_with_a_slash_in_a_config_file_is_refused_at_its_line(tmp_path: Path) -> None:
    config = tmp_path / "tenantops.yaml"
    config.write_text("smtp_host: mail.example\nprometheus_url: https://ops:123/s3cr3t@prom.example/\n",
                      encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={"TENANTOPS_CONFIG": str(config)})
    [issue] = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (str(config), 2, "prometheus_url")
    assert "s3cr3t" not in str(caught.value) and "123" not in str(caught.value)


def test_an_at_sign_in_a_path_is_written_percent_encoded() -> None:
    url = "https://hooks.example/webhookb2/group%40tenant/IncomingWebhook/x"
    assert resolve_settings({}, env={"TENANTOPS_WEBHOOK_URL": url}).webhook_url == url
    assert resolve_settings({}, env={"TENANTOPS_PROMETHEUS_URL": "https://ops:123%2Fs3cr3t@prom.example/"}) \
        .prometheus_url == "https://ops:123%2Fs3cr3t@prom.example/"


def test_a_url_keeps_no_surrounding_whitespace() -> None:
    assert resolve_settings({}, env={"TENANTOPS_PROMETHEUS_URL": " http://prom.example:9090\n"}).prometheus_url == \
        "http://prom.example:9090"
    assert resolve_settings({}, env={"TENANTOPS_PROMETHEUS_URL": "http://ops:s3c%2Fr3t@prom.example"}).prometheus_url \
        == "http://ops:s3c%2Fr3t@prom.example"


@pytest.mark.parametrize("variable", ["TENANTOPS_AWS_REGION", "TENANTOPS_PROMETHEUS_SIGV4_REGION"])
@pytest.mark.parametrize("region", ["eu-west", "EU-WEST-1", "mars-1", "eu-west-1\n", "eu_west_1"])
def test_an_aws_region_that_is_no_region_name_is_an_error_naming_the_variable(variable: str, region: str) -> None:
    """The region of SES and Cost Explorer, and the one Prometheus requests are signed for: a typo passed,
    and then every mail delivery failed on a host name that does not resolve (retried for ever), or every
    query on its signature. The catalogue's rule for a tenant's region applies."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={variable: region})
    assert [i.file for i in caught.value.issues] == [variable]
    assert "is not an AWS region name" in caught.value.issues[0].message
    assert resolve_settings({}, env={variable: "us-gov-west-1"}).model_dump()[variable[10:].lower()] == "us-gov-west-1"
