"""Loading and validating the tenant catalogue and the policy documents: one loader, one schema.

The Pulumi program and the controller both call `load_config`, so what provisions a tenant and what
operates it can never disagree about what the tenant is.
"""

from tenantops.config.errors import ConfigError, ConfigIssue
from tenantops.config.loader import Config, load_catalog, load_config, load_policies

__all__ = ["Config", "ConfigError", "ConfigIssue", "load_catalog", "load_config", "load_policies"]
