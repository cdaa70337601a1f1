"""Log output: `--log-format json|text`, INFO by default for `run`, `extra=` fields kept, secrets never shown."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import SecretStr
from tests.cli.helpers import tenantops

from tenantops.cli.logs import JsonFormatter, TextFormatter, default_level
from tenantops_lab.sandbox.ports import free_port


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.getLogger("tenantops.test").makeRecord("tenantops.test", logging.INFO, __file__, 1, message,
                                                         args, None, extra=extra)
    return made


def test_json_keeps_structured_fields_and_masks_secrets() -> None:
    line = JsonFormatter().format(record(
        "scaled %s", "acme/api", tenant="acme", workload="api", replicas=4, password=SecretStr("hunter2"),
        endpoint="https://ops:hunter2@prom.example:9090/"))
    parsed = json.loads(line)
    assert parsed["message"] == "scaled acme/api" and parsed["level"] == "info"
    assert parsed["tenant"] == "acme" and parsed["workload"] == "api" and parsed["replicas"] == 4
    assert parsed["endpoint"] == "https://prom.example:9090/"
    assert "hunter2" not in line
    assert parsed["time"].endswith("+00:00")


def test_urls_in_messages_lose_every_form_of_credential() -> None:
    line = TextFormatter().format(record(
        "cannot reach %s, %s, %s or %s", "postgresql://ops:hun@ter2@db/state", "postgresql://:hunter2@db/state",
        "postgresql://ops@db/state?sslmode=require&password=hunter2", "https://hooks.example/x?token=hunter2",
        dsn="postgresql://db/state?password=hunter2"))
    assert "hunter2" not in line and "ter2" not in line
    assert "postgresql://db/state?sslmode=require&password=***" in line


def test_a_password_holding_a_slash_reaches_no_log_line() -> None:
    url = "https://ops:123/hunter2@prom.example:9090/"
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record("cannot reach %s", url, endpoint=url, urls=[url]))
        assert "hunter2" not in line and "ops:123" not in line, line
        assert "https://prom.example:9090/" in line


def test_text_appends_fields_as_key_value() -> None:
    text = TextFormatter().format(record("skipped", tenant="acme", reason="no-op"))
    assert text.endswith('tenantops.test: skipped tenant="acme" reason="no-op"')


def test_default_levels() -> None:
    assert default_level("run", 0, None) == logging.INFO
    assert default_level("reconcile", 0, None) == logging.WARNING
    assert default_level("reconcile", 2, None) == logging.DEBUG
    assert default_level("run", 0, "error") == logging.ERROR


def test_run_logs_json_at_info_by_default_without_secrets(tmp_path: Path) -> None:
    env = {"TENANTOPS_LOG_FORMAT": "json", "TENANTOPS_PROMETHEUS_URL": f"http://ops:hunter2@127.0.0.1:{free_port()}",
           "TENANTOPS_SMTP_PASSWORD": "hunter2", "TENANTOPS_STATE": str(tmp_path / "s.db")}
    result = tenantops("run", "--dry-run", "--max-passes", "1", "--http-port", "0", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(line["level"] == "info" and line["logger"] == "tenantops.engine.reconcile" for line in lines)
    down = [line for line in lines if line["logger"] == "tenantops.observe.prometheus"]
    assert down and down[0]["reason"] == "connection refused" and "@" not in down[0]["endpoint"]
    assert "hunter2" not in result.stderr and "hunter2" not in result.stdout
