"""Stack configuration of the program: where the catalogue and policies are, and stack-wide settings.

The catalogue path comes from `TENANTOPS_CATALOG`, else the stack's `tenantops:catalog`; policies from
`TENANTOPS_POLICIES`, else `tenantops:policies`, else `policies`. Relative paths are relative to the
project root (where `Pulumi.yaml` is), whatever directory Pulumi runs the program from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi

from tenantops.config import Config, ConfigError, load_config
from tenantops_infra.silo import DEFAULT_IMAGE

DEFAULT_WORKLOAD_IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:stable"
DEFAULT_MAIL_FROM = "tenantops@ops.example"  # as deploy/base/deployment.yaml's TENANTOPS_MAIL_FROM


@dataclass(frozen=True)
class StackSettings:
    catalog: Path
    policies: Path
    workload_image: str = DEFAULT_WORKLOAD_IMAGE
    silo_image: str = DEFAULT_IMAGE
    eks_cluster: str | None = None
    mail_from: str = DEFAULT_MAIL_FROM  # the only sender the controller's role may send mail as
    controller_oidc_provider: str | None = None  # IRSA instead of EKS Pod Identity


def _resolve(root: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else root / path


def stack_settings(project_root: Path, config: pulumi.Config, environ: Mapping[str, str]) -> StackSettings:
    """Read the `tenantops:*` stack config, with the TENANTOPS_* environment taking precedence for paths."""
    catalog = environ.get("TENANTOPS_CATALOG") or config.get("catalog")
    if not catalog:
        raise pulumi.RunError(
            "no tenant catalogue: set `pulumi config set tenantops:catalog stacks/<stack>.catalog.yaml` "
            "or the TENANTOPS_CATALOG environment variable"
        )
    policies = environ.get("TENANTOPS_POLICIES") or config.get("policies") or "policies"
    return StackSettings(
        catalog=_resolve(project_root, catalog),
        policies=_resolve(project_root, policies),
        workload_image=config.get("workloadImage") or DEFAULT_WORKLOAD_IMAGE,
        silo_image=config.get("siloImage") or DEFAULT_IMAGE,
        eks_cluster=config.get("eksCluster") or None,
        mail_from=config.get("mailFrom") or DEFAULT_MAIL_FROM,
        controller_oidc_provider=config.get("controllerOidcProvider") or None,
    )


def load_tenants(settings: StackSettings) -> Config:
    """The project's one loader; a bad catalogue stops the update before any resource is touched."""
    try:
        return load_config(settings.catalog, settings.policies)
    except ConfigError as exc:
        lines = "\n".join(f"  {issue}" for issue in exc.issues)
        raise pulumi.RunError(f"invalid tenant configuration ({len(exc.issues)} issue(s)):\n{lines}") from None
