"""Commands of other distributions arrive through the `tenantops.commands` entry points, read from the installed
metadata: a distribution made here (a module and its .dist-info on PYTHONPATH) registers a working command, a
broken one and one that tries to replace a built-in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.cli.helpers import ROOT, tenantops

PLUGIN = '''
import click


@click.command("hello")
@click.option("--name", default="world")
def command(name):
    """Say hello from another distribution."""
    click.echo(f"hello, {name}, from a plugin")
'''

ENTRY_POINTS = """[tenantops.commands]
hello = hello_plugin:command
broken = no_such_module_anywhere:command
run = hello_plugin:command
"""


@pytest.fixture
def plugin_path(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    dist_info = site / "hello_plugin-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (site / "hello_plugin.py").write_text(PLUGIN, encoding="utf-8")
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-plugin\nVersion: 0.1\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    return {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "controllers"), os.environ.get("PYTHONPATH", "")])}


def test_a_registered_command_runs_and_is_listed(tmp_path: Path, plugin_path: dict[str, str]) -> None:
    proc = tenantops("hello", "--name", "ops", cwd=tmp_path, env=plugin_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello, ops, from a plugin\n"
    listing = tenantops("--help", cwd=tmp_path, env=plugin_path)
    assert listing.returncode == 0, listing.stderr
    assert "hello      Say hello from another distribution." in listing.stdout


def test_a_broken_registration_fails_alone_in_one_line(tmp_path: Path, plugin_path: dict[str, str]) -> None:
    listing = tenantops("--help", cwd=tmp_path, env=plugin_path)
    assert listing.returncode == 0 and "broken" in listing.stdout and "validate" in listing.stdout
    proc = tenantops("broken", "--any", "args", cwd=tmp_path, env=plugin_path)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "`tenantops broken` could not be loaded" in proc.stderr and "ModuleNotFoundError" in proc.stderr
    assert tenantops("validate", "--help", cwd=tmp_path, env=plugin_path).returncode == 0


def test_a_registration_cannot_replace_a_built_in_command(tmp_path: Path, plugin_path: dict[str, str]) -> None:
    proc = tenantops("run", "--help", cwd=tmp_path, env=plugin_path)
    assert proc.returncode == 0, proc.stderr
    assert "--leader-elect" in proc.stdout and "Say hello" not in proc.stdout
