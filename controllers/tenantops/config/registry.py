"""The registry of policy kinds: each kind declares its own schema beside its code.

A policy document is `{kind, name, spec}`. A kind registers the pydantic model of its `spec` here, with
unknown keys forbidden, so a typo in a policy fails `tenantops validate` before anything runs. Kinds are
*per tier* (a Tier names which document of that kind its tenants use, and a tenant may override
fields of it), *global* (one document named `default` applies to the whole installation), or *named*
(any number of documents, such as tiers, referenced by name from the catalogue).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

Scope = Literal["tier", "global", "named"]


def _numeric(annotation: Any) -> bool:
    """Whether a field holds a number (int or float, optional or in a union), and not also a bool."""
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        options = get_args(annotation)
        return bool not in options and any(_numeric(option) for option in options)
    return False


class Spec(BaseModel):
    """Base of every schema: unknown keys are errors, values are immutable once loaded, and a number is
    never a boolean: YAML reads `yes`, `no`, `on`, `off`, `true` and `false` as booleans, and pydantic would
    take them as 1 and 0 (`min_replicas: yes` became one replica, `budget_usd_month: on` one dollar)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None \
                and _numeric(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"expected a number, not the boolean {str(value).lower()} (YAML reads yes/no/on/off "
                             "as booleans)")
        return value


@dataclass(frozen=True)
class KindInfo:
    kind: str
    model: type[Spec]
    scope: Scope
    tier_field: str | None  # for per-tier kinds: the Tier spec field that names the document


_KINDS: dict[str, KindInfo] = {}

S = TypeVar("S", bound=Spec)


def policy_kind(kind: str, *, scope: Scope, tier_field: str | None = None) -> Callable[[type[S]], type[S]]:
    """Class decorator: register `cls` as the spec schema of policy documents of `kind`."""

    def register(cls: type[S]) -> type[S]:
        if kind in _KINDS and _KINDS[kind].model is not cls:
            raise ValueError(f"policy kind {kind!r} registered twice")
        if scope == "tier" and not tier_field:
            raise ValueError(f"per-tier kind {kind!r} needs tier_field")
        _KINDS[kind] = KindInfo(kind, cls, scope, tier_field)
        return cls

    return register


def kinds() -> dict[str, KindInfo]:
    """All registered kinds (importing `tenantops.config.kinds` registers the built-in ones)."""
    import tenantops.config.kinds  # noqa: F401  (registration happens on import)

    return dict(_KINDS)
