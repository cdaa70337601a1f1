"""`tenantops bench`: the project's benchmarks, each printing its figures (and `--json`)."""

from __future__ import annotations

import importlib
import importlib.util

import click

BENCHMARKS: dict[str, str] = {
    "catalog": "tenantops.bench.catalog",
    "controller": "tenantops.bench.controller",
    "infra": "tenantops.bench.infra",
    "cost": "tenantops.bench.cost",
    "faults": "tenantops.bench.faults",
}


class _Benchmarks(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, m in BENCHMARKS.items() if importlib.util.find_spec(m) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = BENCHMARKS.get(cmd_name)
        if module is None or importlib.util.find_spec(module) is None:
            return None
        command = importlib.import_module(module).command
        return command if isinstance(command, click.Command) else None


@click.group("bench", cls=_Benchmarks)
def command() -> None:
    """Benchmarks that print figures: catalog (loader), controller (docs/benchmarks.md §3), infra (Pulumi program)."""
