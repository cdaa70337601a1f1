"""`tenantops validate`: check the catalogue and policies before anything uses them (CI runs it on every PR)."""

from __future__ import annotations

import click

from tenantops.cli.options import config_options, echo_json, json_option, load, settings_from
from tenantops.config.errors import ConfigError


@click.command("validate")
@config_options
@json_option
@click.pass_context
def command(ctx: click.Context, catalog: str | None, policies: str | None, as_json: bool) -> None:
    """Validate the tenant catalogue and policy documents; exit 2 listing every issue as FILE:LINE: field: message."""
    settings = settings_from(ctx, catalog=catalog, policies=policies)
    try:
        config = load(settings)
    except ConfigError as exc:
        if as_json:  # the document CI reads says `valid: false` with the issues; stderr still lists them
            echo_json({"catalog": settings.catalog, "policies": settings.policies, "valid": False,
                       "issues": [{"file": i.file, "line": i.line, "field": i.field, "message": i.message}
                                  for i in exc.issues]})
        raise
    tiers: dict[str, int] = {}
    for tenant in config.tenants:
        tiers[tenant.tier] = tiers.get(tenant.tier, 0) + 1
    summary = {
        "catalog": settings.catalog,
        "policies": settings.policies,
        "tenants": len(config.tenants),
        "workloads": sum(len(t.workloads) for t in config.tenants),
        "tenants_by_tier": tiers,
        "policy_documents": len(config.policies.docs),
        "valid": True,
    }
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"ok: {summary['tenants']} tenants, {summary['workloads']} workloads, "
            f"{summary['policy_documents']} policy documents ({settings.catalog}, {settings.policies})"
        )
