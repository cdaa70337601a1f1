"""The one place that lists which deciders a pass runs, in order (plain imports: a concern that is part
of the product is always installed, and a missing module is a packaging bug to see at import, not a
log line at run time).

Asking for a name that is not here (`--decider`) is an error that lists the valid ones. Order matters
only for audit readability: deciders do not see each other's output within a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.base import Decider
from tenantops.decide.cost.decider import CostDecider
from tenantops.decide.facts import FactsDecider
from tenantops.decide.reports.decider import ReportsDecider
from tenantops.decide.rightsizing.decider import RightsizingDecider

DECIDERS: dict[str, Callable[[], Decider]] = {
    "facts": FactsDecider,
    "autoscaling": AutoscalingDecider,
    "rightsizing": RightsizingDecider,
    "cost": CostDecider,
    "reports": ReportsDecider,
}
"""Decider name → factory."""


class DeciderUnavailable(LookupError):
    pass


def load_decider(name: str) -> Decider:
    """Build one registered decider."""
    factory = DECIDERS.get(name)
    if factory is None:
        raise DeciderUnavailable(f"unknown decider {name!r}; registered: {', '.join(DECIDERS)}")
    return factory()


def build_deciders(names: Sequence[str] | None = None) -> list[Decider]:
    """The deciders to run: all registered ones (default) or the named ones, in registry order."""
    wanted = list(DECIDERS) if names is None else list(names)
    for name in wanted:
        if name not in DECIDERS:
            raise DeciderUnavailable(f"unknown decider {name!r}; registered: {', '.join(DECIDERS)}")
    return [DECIDERS[name]() for name in DECIDERS if name in wanted]
