"""Right-sizing: requests that follow measured usage, instance types for dedicated tenants, and the
backtest that scores the recommender against the Kubernetes VPA on recorded usage.

Everything here is pure: usage history, prices and time come in as arguments.
"""

from tenantops.decide.rightsizing.decider import RequestPatch, RightsizingDecider, make_decider

__all__ = ["RequestPatch", "RightsizingDecider", "make_decider"]
