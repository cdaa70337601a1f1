"""Options shared by several subcommands, and the one place they turn into `Settings` and a `Config`."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from tenantops.config.settings import (
    DEFAULT_HTTP_PORT,
    DEFAULT_PROMETHEUS_URL,
    DEFAULT_STATE,
    Settings,
    resolve_settings,
)

if TYPE_CHECKING:
    from tenantops.config import Config

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloatRange(click.FloatRange):
    """`click.FloatRange` without NaN and the infinities, the type of every float flag with a range.

    FloatRange only compares, and every comparison with NaN is false: `--minutes nan` passed [0.25, 60] and
    the command failed later on a ValueError naming no flag, and `inf` passes a range open above."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


# The end of every `--state` help: where the store is when the flag is not given (Settings.state, relative to
# the checkout or the working directory), and that a database URL set below the flag is read instead.
STATE_HELP = f"Env: TENANTOPS_STATE. Default: {DEFAULT_STATE}; without the flag, TENANTOPS_DATABASE_URL when set."

PROMETHEUS_URL_HELP = f"Env: TENANTOPS_PROMETHEUS_URL. Default: {DEFAULT_PROMETHEUS_URL}."
HTTP_PORT_HELP = f"Env: TENANTOPS_HTTP_PORT. Default: {DEFAULT_HTTP_PORT}."


def config_options(func: F) -> F:
    """`--catalog` and `--policies`, defaulting to TENANTOPS_CATALOG / TENANTOPS_POLICIES."""
    func = click.option("--policies", type=click.Path(), default=None,
                        help="Policy directory. Env: TENANTOPS_POLICIES. Default: policies")(func)
    func = click.option("--catalog", type=click.Path(), default=None,
                        help="Tenant catalogue file. Env: TENANTOPS_CATALOG. Default: stacks/dev.catalog.yaml")(func)
    return func


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def refuse_unread(ctx: click.Context, names: tuple[str, ...], mode: str) -> None:
    """A usage error (exit 2) naming every flag of `names` given on the command line, which `mode` does not
    read: a command of two modes used to ignore the other mode's flags without a word."""
    given = [param.opts[0] for param in ctx.command.params
             if param.name in names and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"{', '.join(given)}: not read {mode}")


def settings_from(ctx: click.Context, **flags: Any) -> Settings:
    root = ctx.find_root()
    config_file = root.obj.get("config_file") if isinstance(root.obj, dict) else None
    return resolve_settings({**flags, "config_file": config_file})


def require_state(settings: Settings) -> None:
    """Commands that read what the controller recorded: a state file that does not exist is bad input (exit 2),
    not an empty report that looks like a quiet month."""
    if getattr(settings, "database_url", None) or settings.state == ":memory:":
        return
    if not Path(settings.state).is_file():
        raise click.BadParameter(f"no state database at {settings.state} (the controller's --state file)",
                                 param_hint="--state / TENANTOPS_STATE")


def output_folder(value: str, flag: str = "--output") -> Path:
    """The `--output DIR` folder, created now: a path that cannot be a folder (a file's child, a read-only
    place) is bad input naming the flag (exit 2). Commands call it once their other inputs are known good,
    so a bad input elsewhere leaves no folder behind."""
    folder = Path(value)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(f"cannot create the folder {value}: {exc.strerror or exc}",
                                 param_hint=flag) from None
    return folder


def output_file(value: str, flag: str = "--output") -> Path:
    """A file a command will write once its work is done (`--output FILE`): its folder created now and the
    path checked writable, so a typo is bad input naming the flag (exit 2) before minutes of work, not an
    OSError (exit 1) after them."""
    target = Path(value)
    output_folder(str(target.parent), flag)
    if target.is_dir():
        raise click.BadParameter(f"{value} is a folder, not a file", param_hint=flag)
    if not os.access(target if target.exists() else target.parent, os.W_OK):
        raise click.BadParameter(f"cannot write {value}: Permission denied", param_hint=flag)
    return target


def load(settings: Settings) -> Config:
    from tenantops.config import load_config  # the models are built by the commands that load, not by --help

    return load_config(settings.catalog, settings.policies)


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
