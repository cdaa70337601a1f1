"""`tenantops provision`: preview, apply or destroy a stack's tenant infrastructure (Pulumi Automation API).

The catalogue is validated with the project's loader before Pulumi is started, so a bad entry is an
input error (exit 2) naming file, line and field, not a failed deployment. Every preview and update runs
the project's policy pack (`infra/policy`: encryption under the tenant's key, no public buckets, cost
tags, no cross-tenant reach), so a violation stops the update before anything changes. The Automation API
drives the Pulumi CLI; when the CLI is missing the command says how to install it (exit 1). The Pulumi SDKs
are the product's `infra` extra (the controller runs without them); when they are missing the command says
how to install the extra (exit 1).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

import click

from tenantops.cli.options import echo_json
from tenantops.config import ConfigError, ConfigIssue, load_config
from tenantops.config.yamlpos import load_documents

PROJECT_ROOT = Path(__file__).resolve().parents[3]
POLICY_PACK = PROJECT_ROOT / "infra" / "policy"
INSTALL_HINT = (
    "the Pulumi CLI is not installed (or not on PATH). Install it with "
    "`curl -fsSL https://get.pulumi.com | sh` (see https://www.pulumi.com/docs/install/), then log in to a "
    "state backend (`pulumi login`, or `pulumi login --local` to keep state on this machine)."
)
SDK_HINT = (
    "the Pulumi SDKs are not installed: they are the `infra` extra, `pip install 'tenantops[infra]'` "
    "(in a checkout: `pip install -e '.[infra]'`, which scripts/setup.sh does)"
)


def stack_file(root: Path, stack: str) -> Path:
    return root / "stacks" / f"Pulumi.{stack}.yaml"


_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def stack_paths(root: Path, stack: str) -> tuple[Path, Path]:
    """Catalogue and policy paths named by the stack file's `tenantops:*` config (as the program reads them).

    The stack file is read by the project's YAML loader, so a mistake in it is bad input at its line (it was
    a bare `yaml.safe_load`: a parse error or a `config:` that is no mapping ended in a traceback's last line,
    exit 1, and a duplicate key let the last win). A stack is a plain name: `dev/../prod` named a file
    outside the stack files' pattern."""
    path = stack_file(root, stack)
    if not (_STACK_NAME.fullmatch(stack) and stack.strip(".") and path.is_file()):
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                       for p in (root / "stacks").glob("Pulumi.*.yaml"))
        raise ConfigError([ConfigIssue(str(path), 0, "--stack",
                                       f"unknown stack {stack!r}; stacks: {', '.join(known) or 'none'}")])
    docs, issues = load_documents(path)
    if issues:
        raise ConfigError(issues)
    doc = docs[0] if len(docs) == 1 else None
    if doc is None or not isinstance(doc.data, dict):
        line = docs[0].start_line if docs else 1
        raise ConfigError([ConfigIssue(str(path), line, "<document>", "a stack file is one mapping with `config:`")])
    config = doc.data.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([ConfigIssue(str(path), doc.line_of(("config",)), "config", "must be a mapping of settings")])
    catalog, policies = config.get("tenantops:catalog"), config.get("tenantops:policies", "policies")
    for key, value in (("tenantops:catalog", catalog), ("tenantops:policies", policies)):
        if not isinstance(value, str) or not value.strip():
            message = "required: the stack's catalogue" if value is None else "must be a path (a string)"
            raise ConfigError([ConfigIssue(str(path), doc.line_of(("config", key)), f"config.{key}", message)])
    return root / str(catalog), root / str(policies)


def _summary(result: Any) -> dict[str, int]:
    changes = getattr(result, "change_summary", None)
    if changes is None:
        summary = getattr(result, "summary", None)
        changes = getattr(summary, "resource_changes", None) or {}
    return {str(k): int(v) for k, v in dict(changes).items()}


@click.command("provision")
@click.option("--stack", required=True, help="Stack name: dev, prod, ... (stacks/Pulumi.<stack>.yaml).")
@click.option("--preview", is_flag=True, help="Show what would change (default).")
@click.option("--up", is_flag=True, help="Create or update every tenant's resources.")
@click.option("--destroy", is_flag=True, help="Remove the stack's resources (protected data stays).")
@click.option("--catalog", type=click.Path(), default=None,
              help="Catalogue to use instead of the stack's tenantops:catalog. Env: TENANTOPS_CATALOG.")
@click.option("--policies", type=click.Path(), default=None, help="Policy directory. Env: TENANTOPS_POLICIES.")
@click.option("--yes", is_flag=True, help="Do not ask before --destroy.")
@click.option("--json", "as_json", is_flag=True, help="Print the change summary as JSON.")
def command(stack: str, preview: bool, up: bool, destroy: bool, catalog: str | None, policies: str | None,
            yes: bool, as_json: bool) -> None:
    """Preview (default), apply (--up) or destroy (--destroy) a stack with the Pulumi Automation API."""
    import os

    # One flag each, not one destination: with a shared one the last flag won, so `--up --destroy` destroyed.
    chosen = [name for name, given in (("preview", preview), ("up", up), ("destroy", destroy)) if given]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one of {' and '.join('--' + name for name in chosen)}")
    mode = chosen[0] if chosen else "preview"

    if importlib.util.find_spec("pulumi") is None:  # the infra extra is missing: nothing below can run
        raise click.ClickException(SDK_HINT)
    default_catalog, default_policies = stack_paths(PROJECT_ROOT, stack)
    catalog_path = Path(catalog or os.environ.get("TENANTOPS_CATALOG") or default_catalog)
    policies_path = Path(policies or os.environ.get("TENANTOPS_POLICIES") or default_policies)
    config = load_config(catalog_path, policies_path)  # exit 2 with every issue before Pulumi runs
    if shutil.which("pulumi") is None:
        raise click.ClickException(INSTALL_HINT)
    if mode == "destroy" and not yes:
        click.confirm(f"Destroy stack {stack!r} ({len(config.tenants)} tenants)? Protected data resources stay.",
                      abort=True)

    from pulumi import automation as auto

    env = {"TENANTOPS_CATALOG": str(catalog_path.resolve()), "TENANTOPS_POLICIES": str(policies_path.resolve())}
    try:
        workspace = auto.create_or_select_stack(
            stack_name=stack, work_dir=str(PROJECT_ROOT), opts=auto.LocalWorkspaceOptions(env_vars=env)
        )
        on_output = None if as_json else click.echo
        packs = [str(POLICY_PACK)]
        result: Any
        if mode == "up":
            result = workspace.up(on_output=on_output, policy_packs=packs)
        elif mode == "destroy":
            result = workspace.destroy(on_output=on_output)
        else:
            result = workspace.preview(on_output=on_output, policy_packs=packs)
    except FileNotFoundError as exc:
        raise click.ClickException(INSTALL_HINT) from exc
    except auto.CommandError as exc:
        raise click.ClickException(f"pulumi {mode} failed for stack {stack!r}: {exc}") from exc
    summary = _summary(result)
    if as_json:
        echo_json({"stack": stack, "mode": mode, "tenants": len(config.tenants), "changes": summary})
    else:
        click.echo(f"{mode} of stack {stack!r} ({len(config.tenants)} tenants): "
                   + ", ".join(f"{k} {v}" for k, v in sorted(summary.items())))
