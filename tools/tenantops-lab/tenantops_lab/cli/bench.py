"""`tenantops bench`: the project's benchmarks, each printing its figures (and `--json`).

Each benchmark's module is imported when it is asked for (plain imports in one table), so `--help` and
the other commands never pay for the benchmark harness.
"""

from __future__ import annotations

from collections.abc import Callable

import click


def _catalog() -> click.Command:
    from tenantops_lab.bench.catalog import command

    return command


def _controller() -> click.Command:
    from tenantops_lab.bench.controller import command

    return command


def _infra() -> click.Command:
    from tenantops_lab.bench.infra import command

    return command


def _cost() -> click.Command:
    from tenantops_lab.bench.cost import command

    return command


BENCHMARKS: dict[str, Callable[[], click.Command]] = {
    "catalog": _catalog,
    "controller": _controller,
    "infra": _infra,
    "cost": _cost,
}


class _Benchmarks(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(BENCHMARKS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        load = BENCHMARKS.get(cmd_name)
        return load() if load is not None else None


@click.group("bench", cls=_Benchmarks)
def command() -> None:
    """Benchmarks that print figures: catalog (loader), controller (docs/benchmarks.md §3), infra (Pulumi
    program), cost (spend anomaly detection and budget forecasts)."""
