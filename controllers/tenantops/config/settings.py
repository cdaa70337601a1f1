"""Where paths and endpoints come from: flags, then environment, then a config file, then defaults.

Secrets (the SMTP password) are held in a `Secret` so that printing, logging or auditing a `Settings`
never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from tenantops.config.errors import ConfigError, ConfigIssue


class Secret(str):
    """A string whose repr and str in logs are masked; `.reveal()` gives the value to the one place using it."""

    __slots__ = ()

    def reveal(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def __str__(self) -> str:
        return "***" if self else ""

    def __format__(self, spec: str) -> str:
        return str(self)


@dataclass(frozen=True)
class Settings:
    catalog: str = "stacks/dev.catalog.yaml"
    policies: str = "policies"
    prometheus_url: str = "http://127.0.0.1:9090"
    state: str = "tenantops-state/state.db"
    # The state store's database URL (TENANTOPS_DATABASE_URL, flag --database): unset means the SQLite
    # file at `state`; `postgresql://...` when replicas share one state (see tenantops.record.database).
    database_url: str | None = None
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    kube_url: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: Secret = Secret("")  # noqa: RUF009  (immutable str subclass)
    smtp_starttls: bool = False
    mail_from: str = "tenantops@localhost"
    mail_transport: str = "smtp"  # "smtp" or "ses" (SES uses aws_region and aws_endpoint_url)
    ops_email: str | None = None
    webhook_url: str | None = None
    alertmanager_url: str | None = None
    http_port: int = 8080
    config_file: str | None = None


_INT = {"smtp_port", "http_port"}
_BOOL = {"smtp_starttls"}


def _coerce(name: str, value: Any, origin: str) -> Any:
    if value is None:
        return None
    try:
        if name in _INT:
            return int(value)
        if name in _BOOL:
            if isinstance(value, bool):
                return value
            return str(value).strip().lower() in ("1", "true", "yes", "on")
    except (TypeError, ValueError):
        raise ConfigError([ConfigIssue(origin, 0, name, f"expected a whole number, got {value!r}")]) from None
    if name == "smtp_password":
        return Secret(str(value))
    return str(value)


def resolve_settings(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Merge the four sources; a flag left as None does not override the layers below it."""
    flags = dict(flags or {})
    env = os.environ if env is None else env
    names = [f.name for f in fields(Settings)]
    config_file = flags.get("config_file") or env.get("TENANTOPS_CONFIG")
    from_file: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError([ConfigIssue(str(path), 0, "<file>", f"cannot read config file: {exc}")]) from None
        if not isinstance(loaded, dict):
            raise ConfigError([ConfigIssue(str(path), 1, "<document>", "config file must be a mapping")])
        for key in loaded:
            if key not in names:
                raise ConfigError([ConfigIssue(str(path), 0, str(key), "unknown setting")])
        from_file = loaded
    values: dict[str, Any] = {}
    for name in names:
        env_value = env.get(f"TENANTOPS_{name.upper()}")
        if flags.get(name) is not None:
            values[name] = _coerce(name, flags[name], "--" + name.replace("_", "-"))
        elif env_value not in (None, ""):
            values[name] = _coerce(name, env_value, f"TENANTOPS_{name.upper()}")
        elif name in from_file:
            values[name] = _coerce(name, from_file[name], str(config_file))
    values["config_file"] = config_file
    return Settings(**values)
