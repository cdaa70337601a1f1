"""Usage history as the recommender reads it: plain arrays per workload and resource, already fetched.

Fetching (Prometheus range queries) lives in `tenantops.observe.usage_history`; this module only holds
the result, so the decider stays a pure function of its inputs and tests can build histories by hand.
It is a value the pass input carries (`PassInput.usage_history`), so it lives with the other values
observe, the engine and decide share, not inside the right-sizing concern that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
"""Samples or weights, float64 (unix seconds, cores, bytes)."""

Resource = Literal["cpu", "memory"]
"""A resource a workload requests per pod."""

@dataclass(frozen=True, slots=True)
class OomKill:
    """A container killed for memory: when, and how much it was using (or its limit) at that moment."""

    at: float  # unix seconds
    usage: float  # bytes
    # What `usage` is: the memory in use just before the kill ("usage"), or, where no sample was taken before
    # it (killed at start-up), the memory limit (or request) it was killed at ("limit").
    basis: Literal["usage", "limit"] = "usage"


HistoryKey = tuple[str, str, Resource]
"""(tenant id, workload name, resource)."""


@dataclass(frozen=True, slots=True)
class Series:
    """Samples of one per-pod usage series: unix seconds and values (cores or bytes), time-ordered."""

    times: Array
    values: Array

    def __post_init__(self) -> None:
        if self.times.shape != self.values.shape:
            raise ValueError("times and values differ in length")

    @staticmethod
    def of(samples: list[tuple[float, float]] | tuple[tuple[float, float], ...]) -> Series:
        ordered = sorted(samples)
        return Series(
            np.array([s[0] for s in ordered], dtype=np.float64), np.array([s[1] for s in ordered], dtype=np.float64)
        )


EMPTY = Series(np.empty(0), np.empty(0))


@dataclass(frozen=True, slots=True)
class UsageHistory:
    """Everything the recommender needs about the past, as of `end`."""

    start: datetime
    end: datetime
    series: Mapping[HistoryKey, Series] = field(default_factory=dict)
    ooms: Mapping[tuple[str, str], tuple[OomKill, ...]] = field(default_factory=dict)
    replicas: Mapping[tuple[str, str], float] = field(default_factory=dict)  # mean replicas over the range
    errors: tuple[str, ...] = ()
    # Per container of the pod, where the query kept the `container` label: (tenant, workload, resource)
    # -> container -> series. `series` then holds their sum, the per-pod usage.
    containers: Mapping[HistoryKey, Mapping[str, Series]] = field(default_factory=dict)
    # The OOM kills of each container, where the OOM query kept the `container` label: (tenant, workload)
    # -> container -> kills, each with that container's memory. `ooms` holds the pod's, with the pod's.
    container_ooms: Mapping[tuple[str, str], Mapping[str, tuple[OomKill, ...]]] = field(default_factory=dict)

    def get(self, tenant: str, workload: str, resource: Resource) -> Series:
        return self.series.get((tenant, workload, resource), EMPTY)

    def per_container(self, tenant: str, workload: str, resource: Resource) -> Mapping[str, Series]:
        return self.containers.get((tenant, workload, resource), {})
