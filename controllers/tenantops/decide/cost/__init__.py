"""Cost-to-serve per tenant, budgets with forecasts, spend anomalies and cost alerts (pure).

- `allocation`: OpenCost-style allocation of one interval (pooled, idle, shared, silo), exact in micro-dollars.
- `history`: the compact per-tenant hour/day series in the decider's state.
- `anomaly`, `forecast`, `budget`: judging spend and projecting the month.
- `decider.CostDecider`: the `Decider` (name "cost") the engine runs each pass.
- `ledger.Ledger`: the read API over the stored state, for reports and the CLI.
Its per-pass findings are `structs.cost_findings.CostFindings` (`Findings.cost`).
"""

from tenantops.decide.cost.decider import CostDecider
from tenantops.decide.cost.ledger import Ledger, MonthToDate

__all__ = ["CostDecider", "Ledger", "MonthToDate", "make_decider"]


def make_decider() -> CostDecider:
    """Factory the engine's decider registry calls."""
    return CostDecider()
