"""Command modules leave the Kubernetes client, boto3 and the rendering libraries to the code that uses them
(importing `kubernetes` runs its package `__init__`, which builds the whole API client), and `tenantops --help`
imports no command module (each brings SQLAlchemy, numpy, Jinja2 or the Prometheus client)."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from tests.cli.helpers import ROOT, tenantops

from tenantops.cli.main import COMMANDS, SUMMARIES, cli


def imported_modules(stderr: str) -> set[str]:
    """Top-level package names a run imported, from the `-X importtime` lines on its stderr."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_help_lists_the_commands_without_importing_them() -> None:
    result = tenantops("--help", cwd=ROOT, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    assert all(f"  {name} " in result.stdout for name in COMMANDS)
    loaded = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.count("|") == 2}
    assert "tenantops.cli.logs" in loaded  # the trace is real: the group was built
    assert not loaded & set(COMMANDS.values())
    assert "tenantops.config.loader" not in loaded  # the catalogue and policy models are not built
    assert not {"kubernetes", "sqlalchemy", "numpy", "jinja2", "prometheus_api_client"} & imported_modules(
        result.stderr)


@pytest.mark.parametrize("width", [60, 80, 110])
def test_help_summaries_are_what_the_commands_themselves_would_show(width: int) -> None:
    assert set(SUMMARIES) == set(COMMANDS)
    ctx = click.Context(cli, info_name="tenantops")
    listed, imported = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
    cli.format_commands(ctx, listed)
    click.Group.format_commands(cli, ctx, imported)  # the plain listing: every command module imported
    assert listed.getvalue() == imported.getvalue()
    assert "validate" in listed.getvalue()


@pytest.mark.parametrize("name", ["cost", "plan", "report", "simulate", "rightsize", "validate"])
def test_command_modules_leave_rendering_and_cluster_libraries_to_the_code_that_uses_them(name: str) -> None:
    probe = (f"import sys, tenantops.cli.{name}; "
             "print(sorted(m for m in ('kubernetes', 'matplotlib', 'jinja2', 'boto3') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "controllers"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
