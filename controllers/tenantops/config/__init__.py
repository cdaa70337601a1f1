"""Loading and validating the tenant catalogue and the policy documents: one loader, one schema.

The Pulumi program and the controller both call `load_config`, so what provisions a tenant and what
operates it can never disagree about what the tenant is.

The loader and its pydantic models are imported on first use of one of its names, not with the package:
the CLI entry point needs `ConfigError` to report bad input, and `tenantops --help` should not pay for
building every model to print a usage text.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tenantops.config.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from tenantops.config.loader import Config, load_catalog, load_config, load_policies

__all__ = ["Config", "ConfigError", "ConfigIssue", "load_catalog", "load_config", "load_policies"]
_FROM_LOADER = frozenset({"Config", "load_catalog", "load_config", "load_policies"})


def __getattr__(name: str) -> Any:
    if name in _FROM_LOADER:
        return getattr(importlib.import_module("tenantops.config.loader"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
