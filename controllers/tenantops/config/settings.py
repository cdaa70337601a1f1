"""Where paths and endpoints come from: flags, then `TENANTOPS_*` environment, then a config file, then defaults.

Settings are a pydantic-settings model, so every value is typed and checked where it enters: a typo such as
`TENANTOPS_SMTP_STARTTLS=ture` or `TENANTOPS_MAIL_TRANSPORT=sess` is an error naming the variable (exit 2),
not STARTTLS silently off or mail silently sent over SMTP. A config file's mistakes name its file and line.
A `TENANTOPS_*` variable that is no setting is logged as a warning with the closest setting's name: it is
usually a misspelt one, but scripts and tests set a few variables of their own (`OTHER_VARIABLES`).

Secrets are `SecretStr` (`Secret`), so printing, logging or auditing a `Settings` never shows them; the one
place that uses a secret calls `.get_secret_value()`. The two URLs that carry a credential inside an ordinary
string (`database_url`, `webhook_url`) are left out of the printed form instead, and every other URL is
printed without its `user:password@`.

`Settings(...)` built directly takes only the values given (the demo and tests compose them); the layered
reading is `resolve_settings`, which the CLI calls once per command.

To add a setting: declare a field below with its default and a `description`; its variable is
`TENANTOPS_<NAME>` and its config-file key `<name>`.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources.utils import parse_env_vars

from tenantops.config.errors import ConfigError, ConfigIssue
from tenantops.config.kinds.common import Region
from tenantops.config.paths import repository_path
from tenantops.config.yamlpos import LocatedDocument, load_documents
from tenantops.endpoints import redact, userinfo_is_ambiguous

log = logging.getLogger(__name__)

ENV_PREFIX = "TENANTOPS_"
CONFIG_ENV = "TENANTOPS_CONFIG"
# Variables read by something other than `Settings` (the config file's own path, the log options read before
# any command, the trace folder of the simulator and benchmarks, the fault suite's switches): known, so never
# warned about.
OTHER_VARIABLES = frozenset({
    CONFIG_ENV, "TENANTOPS_LOG_FORMAT", "TENANTOPS_LOG_LEVEL", "TENANTOPS_TRACES", "TENANTOPS_FAULT_RESULTS",
    "TENANTOPS_SOAK_PASSES", "TENANTOPS_DRILL_SECONDS",
})

NOT_ECHOED = frozenset({"webhook_url"})
"""Settings whose whole value is a credential though not a `SecretStr` (a chat webhook's path is its token):
a bad one is named, never shown. Any other value shown in an error goes through `endpoints.redact`."""

Secret = SecretStr
"""The type of every secret setting (kept under this name for the code that builds settings by hand)."""


def _http_url(value: str) -> str:
    """An http(s) URL, without surrounding whitespace. One with a space, line break or control character
    inside, an `@` after its host, or whose port does not parse (a password holding an unencoded `/`, `?`,
    `#`) is refused: the clients read such a URL's password as host, port and path
    (`https://ops:123/x@host/` is host `ops`, port 123), so their errors and `<SETTING>=<url>: host name not
    found` showed pieces of it. The error does not show the value (`_issues`)."""
    value = value.strip()
    if _NOT_IN_A_URL.search(value):
        raise ValueError("expected a URL without spaces, line breaks or control characters (percent-encode them, "
                         "as %20)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL")
    if userinfo_is_ambiguous(value):
        raise ValueError("the URL has an @ after its host: in a user:password@ part, percent-encode / ? # as "
                         "%2F %3F %23; in a path, write @ as %40")
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError("the URL's port is not a number (in a user:password@ part, percent-encode / ? # as "
                         "%2F %3F %23)") from None
    return value


_NOT_IN_A_URL = re.compile(r"[\s\x00-\x1f\x7f]")


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Port = Annotated[int, Field(ge=0, le=65535)]

_MAIL_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_MAIL_ADDRESS = re.compile(rf"[^@\s\x00-\x1f\x7f<>,;:\"()\[\]\\]+@{_MAIL_LABEL}(?:\.{_MAIL_LABEL})*")


def _mail_address(value: str) -> str:
    """One bare address: the sender is the envelope sender and (with a name the mail adds) the From header,
    the ops address an envelope recipient. A second address, a name or a line break used to pass here, and
    then every alert mail failed to be composed and was dropped, or each delivery was refused. A local
    domain (`tenantops@localhost`) is an address too: the validator of the catalogue's contacts refuses it."""
    if not _MAIL_ADDRESS.fullmatch(value):
        raise ValueError("expected one mail address such as ops@example.com (no name, no second address)")
    return value


MailAddress = Annotated[str, AfterValidator(_mail_address)]

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an HTTP token (RFC 9110 field-name)
_NOT_IN_A_HEADER = re.compile(r"[\x00-\x1f\x7f]")


def _header_secret(value: SecretStr) -> SecretStr:
    """A secret sent in an HTTP header (a bearer token, an extra header's value), without surrounding
    whitespace, as the token file is read (a Secret made from a file ends with its newline). A line break or
    control character inside cannot go into a header: the HTTP client refused every request and its error
    quoted the header, so the secret was logged in the clear at every query. The error names the setting,
    never the value."""
    text = value.get_secret_value().strip()
    if _NOT_IN_A_HEADER.search(text):
        raise ValueError("holds a line break or control character, which no HTTP header can carry")
    return SecretStr(text)


HeaderSecret = Annotated[SecretStr, AfterValidator(_header_secret)]


def _header_names(headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
    bad = [name for name in headers if not _HEADER_NAME.fullmatch(name)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, no "
                         "space or colon)")
    return headers


DEFAULT_STATE = "tenantops-state/state.db"  # in the checkout when run from one, else the working directory
DEFAULT_PROMETHEUS_URL = "http://127.0.0.1:9090"
DEFAULT_HTTP_PORT = 8080


class Settings(BaseSettings):
    """Every setting of the controller and the CLI, with its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_ignore_empty=True, hide_input_in_errors=True,
    )

    catalog: str = Field(default_factory=lambda: repository_path("stacks/dev.catalog.yaml"),
                         description="Tenant catalogue file.")
    policies: str = Field(default_factory=lambda: repository_path("policies"), description="Policy directory.")
    prometheus_url: HttpUrl = Field(DEFAULT_PROMETHEUS_URL, description="Prometheus base URL.")
    prometheus_bearer_token: HeaderSecret | None = Field(None, description="Bearer token for Prometheus.")
    prometheus_bearer_token_file: str | None = Field(
        None, description="File holding the Prometheus bearer token (re-read per request, for rotated tokens).")
    prometheus_username: str | None = Field(None, description="Basic-auth user for Prometheus.")
    prometheus_password: SecretStr | None = Field(None, description="Basic-auth password for Prometheus.")
    prometheus_headers: Annotated[dict[str, HeaderSecret], AfterValidator(_header_names)] = Field(
        default_factory=dict, description='Extra request headers, e.g. {"X-Scope-OrgID": "ops"} (JSON in the env).')
    prometheus_ca_file: str | None = Field(None, description="CA bundle that signs the Prometheus certificate.")
    prometheus_insecure_skip_verify: bool = Field(False, description="Do not verify the Prometheus certificate.")
    prometheus_sigv4_region: Region | None = Field(
        None, description="Sign requests with AWS SigV4 for Amazon Managed Prometheus in this region.")
    state: str = Field(default_factory=lambda: repository_path(DEFAULT_STATE),
                       description="SQLite file of decider state, audit log and outbox.")
    database_url: str | None = Field(  # a URL that may hold a password: left out of repr() and str()
        None, repr=False,
        description="State store database URL (flag --database): unset means the SQLite file at `state`; "
                    "postgresql://... when replicas share one state (see tenantops.record.database).")
    aws_endpoint_url: HttpUrl | None = Field(None, description="AWS endpoint override (a local moto server).")
    aws_region: Region = Field("us-east-1", description="Default AWS region.")
    kube_url: HttpUrl | None = Field(None, description="Kubernetes API URL (default: in-cluster, then kubeconfig).")
    kube_token: HeaderSecret | None = Field(None, description="Bearer token for the Kubernetes API at kube_url.")
    kube_ca_file: str | None = Field(None, description="CA bundle that signs the API server at kube_url.")
    kube_insecure_skip_verify: bool = Field(False, description="Do not verify the API server certificate at kube_url.")
    kube_context: str | None = Field(None, description="kubeconfig context to use (as kubectl --context).")
    kubeconfig: str | None = Field(None, description="kubeconfig file (default: KUBECONFIG, then ~/.kube/config).")
    kube_events: bool = Field(True, description="Record a Kubernetes Event on each Deployment the controller "
                                                "scales or re-sizes (what kubectl describe shows).")
    smtp_host: str = Field("localhost", description="SMTP server host.")
    smtp_port: Port = Field(25, description="SMTP server port.")
    smtp_user: str | None = Field(None, description="SMTP user name.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_implicit_tls: bool | None = Field(
        None, description="Speak TLS to the SMTP server from the first byte (SMTPS, RFC 8314). Unset: on "
                          "port 465 only; true for another port (SES's 2465), false for a plain relay on 465.")
    mail_from: MailAddress = Field("tenantops@localhost", description="Sender address of alerts and reports.")
    mail_transport: Literal["smtp", "ses"] = Field(
        "smtp", description="How mail is sent: smtp, or ses (Amazon SES in aws_region at aws_endpoint_url).")
    ops_email: MailAddress | None = Field(None, description="Operations address copied on every report and alert.")
    webhook_url: HttpUrl | None = Field(None, repr=False, description="Webhook that receives alerts.")
    alertmanager_url: HttpUrl | None = Field(None, description="Alertmanager that receives alerts.")
    http_port: Port = Field(DEFAULT_HTTP_PORT, description="Port of /metrics, /healthz and /readyz.")
    config_file: str | None = Field(None, description="The YAML file the settings were read from (TENANTOPS_CONFIG).")

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The printed form with every URL's `user:password@` (and credential parameters) removed: a
        Prometheus, Alertmanager or AWS endpoint may be written with basic-auth credentials inside."""
        for name, value in super().__repr_args__():
            yield name, redact(str(value)) if value is not None and "://" in str(value) else value

    @model_validator(mode="after")
    def _one_smtp_tls_mode(self) -> Settings:
        if self.smtp_starttls and self.smtp_implicit_tls:
            raise ValueError("choose one SMTP TLS mode, not TENANTOPS_SMTP_STARTTLS and TENANTOPS_SMTP_IMPLICIT_TLS"
                             " (STARTTLS upgrades a plain connection; implicit TLS is TLS from the first byte)")
        return self

    @model_validator(mode="after")
    def _one_prometheus_authentication(self) -> Settings:
        chosen = [name for name, on in (
            ("TENANTOPS_PROMETHEUS_BEARER_TOKEN", self.prometheus_bearer_token is not None),
            ("TENANTOPS_PROMETHEUS_BEARER_TOKEN_FILE", self.prometheus_bearer_token_file is not None),
            ("TENANTOPS_PROMETHEUS_USERNAME", self.prometheus_username is not None),
            ("TENANTOPS_PROMETHEUS_SIGV4_REGION", self.prometheus_sigv4_region is not None),
        ) if on]
        if len(chosen) > 1:
            raise ValueError(f"choose one way to authenticate to Prometheus, not {' and '.join(chosen)}")
        if self.prometheus_password is not None and self.prometheus_username is None:
            raise ValueError("TENANTOPS_PROMETHEUS_PASSWORD needs TENANTOPS_PROMETHEUS_USERNAME")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Direct construction takes only its arguments; `resolve_settings` adds the environment and the file."""
        layers = _LAYERS.get()
        if layers is None:
            return (init_settings,)
        sources: list[PydanticBaseSettingsSource] = [init_settings, _MappingEnvSource(settings_cls, layers.env)]
        if layers.document is not None:
            sources.append(_DocumentSource(settings_cls, layers.document))
        return tuple(sources)


SETTING_NAMES: tuple[str, ...] = tuple(name for name in Settings.model_fields if name != "config_file")


def variable_of(name: str) -> str:
    """`smtp_starttls` -> `TENANTOPS_SMTP_STARTTLS`."""
    return ENV_PREFIX + name.upper()


def setting_variables() -> frozenset[str]:
    """Every `TENANTOPS_*` variable a setting reads."""
    return frozenset(variable_of(name) for name in SETTING_NAMES)


@dataclass(frozen=True)
class _Layers:
    env: Mapping[str, str]
    document: LocatedDocument | None


_LAYERS: ContextVar[_Layers | None] = ContextVar("tenantops_settings_layers", default=None)


@contextmanager
def _layers(layers: _Layers) -> Iterator[None]:
    token = _LAYERS.set(layers)
    try:
        yield
    finally:
        _LAYERS.reset(token)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (the process environment, or a test's)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = {k: v for k, v in env.items() if k.upper() != variable_of("config_file")}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class _DocumentSource(PydanticBaseSettingsSource):
    """The config file's mapping, lowest precedence above the defaults."""

    def __init__(self, settings_cls: type[BaseSettings], document: LocatedDocument) -> None:
        super().__init__(settings_cls)
        self.data: dict[str, Any] = dict(document.data)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def _read_config_file(path: str) -> LocatedDocument:
    if not Path(path).is_file():
        raise ConfigError([ConfigIssue(path, 0, "<file>", f"config file does not exist (--config / {CONFIG_ENV})")])
    docs, issues = load_documents(Path(path))
    if issues:
        raise ConfigError(issues)
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        line = docs[0].start_line if docs else 1
        raise ConfigError([ConfigIssue(path, line, "<document>", "a config file is one mapping of settings")])
    doc = docs[0]
    if "config_file" in doc.data:
        raise ConfigError([ConfigIssue(path, doc.line_of(("config_file",)), "config_file",
                                       f"not a setting inside a config file (use --config or {CONFIG_ENV})")])
    return doc


def _origin(name: str, flags: Mapping[str, Any], env: Mapping[str, str],
            document: LocatedDocument | None) -> tuple[str, int]:
    """Which layer gave `name` its value, as (file or variable or flag, line): the one an error must name."""
    if name in flags:
        return "--" + name.replace("_", "-"), 0
    if env.get(variable_of(name)):
        return variable_of(name), 0
    if document is not None and name in document.data:
        return document.file, document.line_of((name,))
    return "<default>", 0


def _issues(exc: ValidationError, flags: Mapping[str, Any], env: Mapping[str, str],
            document: LocatedDocument | None) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "<settings>"
        where, line = _origin(name, flags, env, document)
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, SETTING_NAMES, n=1)
            message = "unknown setting" + (f" (did you mean {close[0]}?)" if close else "")
        else:
            secret = name in NOT_ECHOED or (
                name in Settings.model_fields and "SecretStr" in str(Settings.model_fields[name].annotation))
            # A URL whose user:password@ part has no certain end (an unencoded space, /, ? or # in the password)
            # is not shown at all: the password may be any part of it.
            given = error.get("input")
            unsure = isinstance(given, str) and "@" in given and (
                userinfo_is_ambiguous(given) or _NOT_IN_A_URL.search(given.strip()) is not None
                or "@" in redact(given).partition("://")[2])
            shown = "" if secret or unsure or "input" not in error else f" (got {redact(repr(error['input']))})"
            message = f"{error['msg']}{shown}"
        issues.append(ConfigIssue(where, line, name, message))
    return issues


def _warn_unknown(env: Mapping[str, str]) -> None:
    known = setting_variables() | OTHER_VARIABLES
    for key in sorted(env):
        name = key.upper()
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            log.warning("%s is not a tenantops setting and is ignored%s", key,
                        f" (did you mean {close[0]}?)" if close else "",
                        extra={"variable": key, "suggestion": close[0] if close else None})


def resolve_settings(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Merge the four layers; a flag left as None does not override the layers below it. A `state` flag
    without a `database_url` flag selects that SQLite file over a `database_url` of a lower layer.

    Raises ConfigError (exit 2) with one issue per bad value, each naming the flag, variable or file:line
    the value came from.
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    if "state" in given and "database_url" not in given:
        # `--state FILE` names the state store as plainly as `--database` does, so the flag wins over a
        # TENANTOPS_DATABASE_URL below it (an operator reading a backup file in a pod that runs on PostgreSQL).
        given["database_url"] = None
    env = dict(os.environ if env is None else env)
    prefixed = {k.upper(): v for k, v in env.items() if k.upper().startswith(ENV_PREFIX)}
    _warn_unknown(prefixed)
    config_file = given.pop("config_file", None) or prefixed.get(CONFIG_ENV) or None
    document = _read_config_file(str(config_file)) if config_file else None
    with _layers(_Layers(prefixed, document)):
        try:
            return Settings(**given, config_file=config_file)
        except ValidationError as exc:
            raise ConfigError(_issues(exc, given, prefixed, document)) from None
        except SettingsError as exc:  # a structured value (a mapping) that is not JSON
            found = re.search(r'field "(\w+)"', str(exc))
            name = found.group(1) if found else "<settings>"
            where, line = _origin(name, given, prefixed, document)
            raise ConfigError([ConfigIssue(where, line, name, 'expected JSON, e.g. {"Header": "value"}')]) from None
