"""Entry point of the `tenantops` console script.

Subcommands live in their own modules and are imported on first use, so `tenantops --help` stays fast
and a broken optional dependency of one command cannot take the others down. Commands of other
distributions (the lab's `demo`, `bench`, `faults`) are found through the `tenantops.commands` entry-point
group, so the product never imports them and its wheel and image do not carry them.
Exit codes: 0 success, 1 runtime failure, 2 bad input.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from typing import Any

import click

from tenantops.cli.logs import FORMATS, LEVELS, LogFormat, configure, default_level
from tenantops.config.errors import ConfigError
from tenantops.endpoints import Unreachable
from tenantops.record.errors import StateStoreError

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2

COMMANDS: dict[str, str] = {
    "validate": "tenantops.cli.validate",
    "reconcile": "tenantops.cli.reconcile",
    "run": "tenantops.cli.run",
    "audit": "tenantops.cli.audit",
    "simulate": "tenantops.cli.simulate",
    "rightsize": "tenantops.cli.rightsize",
    "cost": "tenantops.cli.cost",
    "plan": "tenantops.cli.plan",
    "report": "tenantops.cli.report",
    "provision": "tenantops.cli.provision",
}

# The first sentence of each built-in command's help, which is all `tenantops --help` shows of it (click
# cuts the rest). Listing them from here keeps `--help` from importing every command module and with them
# SQLAlchemy, numpy, Jinja2 and the Prometheus client; tests/cli/test_import_weight.py checks they match.
SUMMARIES: dict[str, str] = {
    "validate": "Validate the tenant catalogue and policy documents; exit 2 listing every issue as "
                "FILE:LINE: field: message.",
    "reconcile": "Observe, decide, act and record once for every tenant, then run what `tenantops run` runs "
                 "after a pass (alerts routed, due reports queued, mail delivered; not in a dry run).",
    "run": "Run passes every ControllerPolicy interval (plus jitter) until SIGTERM/SIGINT, which finish the "
           "current pass and exit 0.",
    "audit": "Print audit entries oldest first: time, subject, kind, rule, old -> new and the reason.",
    "simulate": "Score a scaling policy on recorded demand against the Kubernetes HPA (violations, cost, "
                "excess closed).",
    "rightsize": "Recommend CPU/memory requests and instance types, with the monthly saving; or --backtest FILES.",
    "cost": "Cost to serve per tenant over --window, month to date, forecast to month end vs budget, open alerts.",
    "plan": "Forecast capacity and cost by month, growth scenarios, commitments, spot and the unit-cost curve.",
    "report": "Build the cost report for the last period: print it, write it (--output DIR), or mail it (--send).",
    "provision": "Preview (default), apply (--up) or destroy (--destroy) a stack with the Pulumi Automation API.",
}
LISTING = "tenantops.listing"  # ctx.meta key set while the group's help lists its commands

ENTRY_POINT_GROUP = "tenantops.commands"
# Commands the lab distribution (tools/tenantops-lab) registers; named here only to say how to get them.
LAB_COMMANDS = ("bench", "demo", "faults")
LAB_HINT = ("`tenantops {name}` is part of the tenantops-lab distribution, which is not installed; "
            "in a checkout run `bash scripts/setup.sh` (or `pip install -e tools/tenantops-lab`)")


def plugin_commands() -> dict[str, importlib.metadata.EntryPoint]:
    """Subcommands other installed distributions register in the `tenantops.commands` group (built-ins win)."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in found if ep.name not in COMMANDS}


def load_plugin(name: str, entry_point: importlib.metadata.EntryPoint) -> click.Command:
    """The entry point's command, or one that says why it could not be loaded (exit 1) when run, so a broken
    plugin install never takes `--help` or the other commands down with it."""
    try:
        command = entry_point.load()
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry_point.value} is not a click command")
        return command
    except Exception as exc:
        problem = f"`tenantops {name}` could not be loaded ({entry_point.value}): {type(exc).__name__}: {exc}"

        def fail() -> None:
            raise click.ClickException(problem)

        return click.Command(name, callback=fail, help=f"(not available) {problem}", add_help_option=False,
                             context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        built_in = [name for name, module in COMMANDS.items() if importlib.util.find_spec(module) is not None]
        return sorted([*built_in, *plugin_commands()])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `--help`, built-in commands described from SUMMARIES instead of imported."""
        ctx.meta[LISTING] = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            ctx.meta[LISTING] = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is not None:
            if importlib.util.find_spec(module_name) is None:
                return None
            if ctx.meta.get(LISTING) and cmd_name in SUMMARIES:
                return click.Command(cmd_name, help=SUMMARIES[cmd_name])
            command = importlib.import_module(module_name).command
        else:
            entry_point = plugin_commands().get(cmd_name)
            if entry_point is None:
                if cmd_name in LAB_COMMANDS:
                    click.echo(f"error: {LAB_HINT.format(name=cmd_name)}", err=True)
                    ctx.exit(EXIT_BAD_INPUT)
                return None
            return load_plugin(cmd_name, entry_point)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.command is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as the TENANTOPS_* variables without the prefix, lower case: "
                   "smtp_host). Env: TENANTOPS_CONFIG.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True,
              envvar="TENANTOPS_LOG_FORMAT",
              help="Log lines as text or JSON objects (structured fields kept). Env: TENANTOPS_LOG_FORMAT.")
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default=None,
              envvar="TENANTOPS_LOG_LEVEL",
              help="Log level (default: info for `run`, warning otherwise; -v lowers it). Env: TENANTOPS_LOG_LEVEL.")
@click.version_option(package_name="tenantops")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, verbose: int, log_format: LogFormat,
        log_level: str | None) -> None:
    """tenantops: provision, scale, right-size and account for every tenant of a multi-tenant SaaS.

    Paths and endpoints come from flags, then TENANTOPS_* environment variables, then --config, then defaults.
    """
    configure(log_format, default_level(ctx.invoked_subcommand, verbose, log_level), verbose=verbose)
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI, turning configuration errors into exit code 2 with every issue listed."""
    try:
        return cli.main(args=argv, prog_name="tenantops", standalone_mode=False)
    except ConfigError as exc:
        click.echo(f"error: invalid input ({len(exc.issues)} issue(s)):", err=True)
        for issue in exc.issues:
            click.echo(f"  {issue}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except StateStoreError as exc:  # unreachable, emptied or newer database: nothing may act without it
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Unreachable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except Exception as exc:
        logging.getLogger("tenantops").debug("failure", exc_info=True)
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
