"""Built-in policy kinds. Each module registers the kinds of the concern it is named for."""

from tenantops.config.kinds import capacity, controller, cost, metrics, reports, rightsizing, scaling, tier

__all__ = ["capacity", "controller", "cost", "metrics", "reports", "rightsizing", "scaling", "tier"]
