"""The cost ledger as the controller committed it: the reader the scheduled report starts from.

The ledger (`decide.cost.ledger.Ledger`) is a read-only view over two committed state namespaces, the
cost concern's and the alert lifecycle's. Which namespaces, and that they are copied (a report built on
the notification thread must not see the next pass's commit half-way), is said here once, for the
scheduled report after a pass and for the report commands that open the state database themselves
(`notify.report.build.load_ledger`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tenantops.decide import alerts
from tenantops.decide.cost.ledger import Ledger

COST_STATE = "cost"  # the cost concern's state namespace (its decider's name)

StateView = Callable[[str], Mapping[str, Any]]
"""A concern's committed state by name (`StateStore.state`)."""


def committed_ledger(state: StateView) -> Ledger:
    """A ledger over a copy of the committed cost and alert state, as of this call."""
    return Ledger(dict(state(COST_STATE)), alerts=dict(state(alerts.STATE)))

