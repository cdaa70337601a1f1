"""Settings precedence (flag > environment > config file > default) and secret masking."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

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


def test_unknown_setting_in_file_is_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "tenantops.yaml"
    cfg.write_text("prometheus_ulr: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({"config_file": str(cfg)}, env={})
    assert caught.value.issues[0].field == "prometheus_ulr"


def test_bad_port_names_its_source() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, env={"TENANTOPS_SMTP_PORT": "twenty-five"})
    assert caught.value.issues[0].file == "TENANTOPS_SMTP_PORT"


def test_password_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    settings = resolve_settings({}, env={"TENANTOPS_SMTP_PASSWORD": "hunter2"})
    assert isinstance(settings.smtp_password, Secret)
    assert settings.smtp_password.reveal() == "hunter2"
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("settings %s %r %s", settings, settings, f"{settings.smtp_password}")
    assert "hunter2" not in caplog.text
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
