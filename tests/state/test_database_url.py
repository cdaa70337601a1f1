"""The state store URL: flag > TENANTOPS_DATABASE_URL > config file > the SQLite file at `state`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantops.config.settings import resolve_settings
from tenantops.record.database import database_url, masked, parse, sqlite_file


def test_default_is_the_sqlite_file_at_state(tmp_path: Path) -> None:
    settings = resolve_settings({"state": str(tmp_path / "s.db")}, env={})
    assert database_url(settings) == f"sqlite:///{tmp_path / 's.db'}"


def test_precedence_flag_env_file(tmp_path: Path) -> None:
    cfg = tmp_path / "tenantops.yaml"
    cfg.write_text("database_url: postgresql://file@db/tenantops\n", encoding="utf-8")
    env = {"TENANTOPS_CONFIG": str(cfg)}
    assert database_url(resolve_settings({}, env=env)) == "postgresql://file@db/tenantops"
    env["TENANTOPS_DATABASE_URL"] = "postgresql://env@db/tenantops"
    assert database_url(resolve_settings({}, env=env)) == "postgresql://env@db/tenantops"
    flags = {"database_url": "postgresql://flag@db/tenantops"}
    assert database_url(resolve_settings(flags, env=env)) == "postgresql://flag@db/tenantops"


def test_password_is_masked() -> None:
    text = masked("postgresql://ops:hunter2@db.internal:5432/tenantops")
    assert "hunter2" not in text and "db.internal:5432/tenantops" in text and "ops:***@" in text


def test_plain_path_is_sqlite_and_postgres_uses_psycopg(tmp_path: Path) -> None:
    assert sqlite_file(parse(tmp_path / "s.db")) == tmp_path / "s.db"
    assert parse("postgres://u@h/d").drivername == "postgresql+psycopg"
    assert sqlite_file(parse("postgresql://u@h/d")) is None


def test_unsupported_url_names_it_masked() -> None:
    with pytest.raises(ValueError, match=r"mysql://u:\*\*\*@h/d"):
        parse("mysql://u:secret@h/d")


@pytest.mark.parametrize("url", [
    "postgresql://ops@db.internal:5432/tenantops?password=hunter2&sslmode=require",  # libpq's parameter form
    "postgresql://ops:hunter2@db.internal:5432/tenantops?sslpassword=hunter2",
    "postgresql://ops:hun@ter2@db.internal:5432/tenantops",  # an unencoded `@` in the password
    "postgresql://:hunter2@db.internal:5432/tenantops",  # a password without a user
])
def test_every_form_of_password_is_masked(url: str) -> None:
    text = masked(url)
    assert "hunter2" not in text and "ter2" not in text and "db.internal:5432/tenantops" in text


def test_a_refused_database_is_named_without_its_parameter_password(tmp_path: Path) -> None:
    from tests.cli.helpers import tenantops

    env = {"TENANTOPS_DATABASE_URL": "postgresql://ops@127.0.0.1:1/tenantops?password=hunter2"}
    done = tenantops("audit", env=env, cwd=tmp_path)
    assert done.returncode == 1 and "127.0.0.1:1/tenantops" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.parametrize("url", ["postgresql://ops:hun@ter2/s3cr3t@db.internal:5432/tenantops",
                                 "postgresql://ops:hun@ter2?s3cr3t@db.internal/tenantops"])
def test_a_password_holding_an_at_and_a_slash_is_masked_and_refused(url: str) -> None:
    """SQLAlchemy ends such a password at its first `@` and reads the rest as host and database
    (`ter2`, `s3cr3t@db...`): masked showed them, and the driver's error would name the host."""
    text = masked(url)
    assert "ter2" not in text and "s3cr3t" not in text, text
    assert text.startswith("postgresql://ops:***@db.internal")
    with pytest.raises(ValueError) as caught:
        parse(url)
    assert "ter2" not in str(caught.value) and "s3cr3t" not in str(caught.value)
    assert "%40" in str(caught.value)

