"""Right-sizing: requests that follow measured usage, instance types for dedicated tenants, and the
backtest that scores the recommender against the Kubernetes VPA on recorded usage.

Everything here is pure: usage history, prices and time come in as arguments.
"""

from tenantops.decide.rightsizing.decider import RightsizingDecider, make_decider
from tenantops.structs.requests import RequestPatch

__all__ = ["RequestPatch", "RightsizingDecider", "make_decider"]
