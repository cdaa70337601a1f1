"""Which PromQL the controller runs: the queries are policy, overridable per tier."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field, field_validator

from tenantops.config.registry import Spec, policy_kind

_SPLIT = re.compile(r"(?P<pre>[A-Za-z0-9_]*)\{(?P<label>[A-Za-z_][A-Za-z0-9_]*)="
                    r"(?P<values>[A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*)\}(?P<post>[A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Split:
    """A query named `pre{label=a|b}post`: its series are read as `preapost` or `prebpost` by their `label`."""

    label: str
    names: Mapping[str, str]  # the label's value -> the reading's name


@functools.lru_cache(maxsize=256)
def split_of(name: str) -> Split | None:
    """The split a query name declares, or None for a plain name (one reading per series)."""
    if "{" not in name:
        return None
    found = _SPLIT.fullmatch(name)
    if found is None:
        raise ValueError(f"query name {name!r}: a split is written name_{{label=value|value}}, e.g. "
                         "cpu_{kind=request|limit}")
    pre, post = found["pre"], found["post"]
    return Split(found["label"], {v: f"{pre}{v}{post}" for v in found["values"].split("|")})


@functools.lru_cache(maxsize=256)
def reading_names(name: str) -> tuple[str, ...]:
    """The readings a query named `name` gives each workload: itself, or each name of its split."""
    split = split_of(name)
    return (name,) if split is None else tuple(split.names.values())


@policy_kind("MetricsPolicy", scope="tier", tier_field="metrics")
class MetricsSpec(Spec):
    """Named batched queries, each returning series labelled `tenant` and `workload`.

    One query may give several readings, so that related series cost one request per pass (`docs/benchmarks.md`
    §3 allows 10): a name `cpu_{kind=request|limit}` reads each series labelled `kind="request"` as
    `cpu_request` and `kind="limit"` as `cpu_limit` (the default policy reads CPU requests and limits so).

    Example:
        kind: MetricsPolicy
        name: default
        spec:
          queries:
            cpu: sum by (tenant, workload) (irate(container_cpu_usage_seconds_total[2m]))
            replicas: sum by (tenant, workload) (kube_deployment_spec_replicas)
          stale_after_seconds: 180
    """

    queries: dict[str, str] = Field(min_length=1)
    stale_after_seconds: int = Field(default=180, gt=0)

    @field_validator("queries")
    @classmethod
    def _splits_are_well_formed(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for name in value:
            for reading in reading_names(name):
                if reading in seen:
                    raise ValueError(f"reading {reading!r} is given by both {seen[reading]!r} and {name!r}")
                seen[reading] = name
        return value
