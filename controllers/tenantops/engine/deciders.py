"""The one place that lists which deciders a pass runs, in order.

Each concern lives in its own package under `tenantops.decide`; the registry names a zero-argument
callable there (a factory function or the decider class itself) that returns a `Decider`. A concern
whose package is not installed is skipped with a log line rather than stopping the controller; asking
for it by name (`--decider`) or with `strict=True` makes its absence an error.
Order matters only for audit readability: deciders do not see each other's output within a pass.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from typing import cast

from tenantops.decide.base import Decider

log = logging.getLogger(__name__)

DECIDERS: dict[str, str] = {
    "autoscaling": "tenantops.decide.autoscaling.decider:AutoscalingDecider",
    "rightsizing": "tenantops.decide.rightsizing:make_decider",
    "cost": "tenantops.decide.cost:make_decider",
}
"""Decider name → `module:factory`."""


class DeciderUnavailable(LookupError):
    pass


def load_decider(name: str) -> Decider:
    """Import and build one registered decider."""
    spec = DECIDERS.get(name)
    if spec is None:
        raise DeciderUnavailable(f"unknown decider {name!r}; registered: {', '.join(DECIDERS)}")
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise DeciderUnavailable(f"decider {name!r}: module {module_name} is not installed") from None
        raise
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise DeciderUnavailable(f"decider {name!r}: {module_name} has no factory {attr!r}")
    decider = cast(Callable[[], Decider], factory)()
    if not callable(getattr(decider, "decide", None)) or not isinstance(getattr(decider, "name", None), str):
        raise DeciderUnavailable(f"decider {name!r}: {spec} did not return a Decider")
    return decider


def build_deciders(names: Sequence[str] | None = None, *, strict: bool = False) -> list[Decider]:
    """The deciders to run: all registered ones (default) or the named ones, in registry order."""
    wanted = list(DECIDERS) if names is None else list(names)
    out: list[Decider] = []
    for name in wanted:
        try:
            out.append(load_decider(name))
        except DeciderUnavailable as exc:
            if strict or names is not None:  # asked for by name: not having it is an error
                raise
            log.info("skipping decider: %s", exc)
    return out
