"""Live replica counts: the authority for "current" in every breaker, rate limit and the ceiling.

A metric such as `kube_deployment_spec_replicas` lags the object it describes by a scrape or more, and an
exporter can report anything (0, 120 for a workload whose maximum is 25, 1e300). Step limits computed from
such a value move real replicas the wrong way, so the count a decision starts from is read from the
objects themselves: the Deployments' scale (listed, a few calls per pass) and the Auto Scaling groups
(described in batches, per region). `LiveReplicas` routes each target to the reader of its kind and
region and keeps one reader's failure to its own targets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tenantops.structs.plan import ScaleTarget, TargetKind
from tenantops.structs.replicas import ReplicaCount

log = logging.getLogger(__name__)

REPLICAS, READY = "replicas", "ready_replicas"


class ReplicaReader(Protocol):
    """Describes many targets at once; targets that do not exist are simply absent from the answer.

    Raises when the API cannot be read: "no answer" must never read as "no such object".
    """

    def describe_many(self, targets: Sequence[ScaleTarget]) -> Mapping[ScaleTarget, ReplicaCount]: ...


@dataclass(frozen=True, slots=True)
class LiveRead:
    """One pass's live counts. `unknown` are targets whose reader failed (neither present nor absent)."""

    counts: Mapping[ScaleTarget, ReplicaCount]
    unknown: frozenset[ScaleTarget] = frozenset()
    errors: tuple[str, ...] = ()
    covered: frozenset[TargetKind] = field(default_factory=frozenset)  # kinds with a reader configured


ReaderFor = Callable[[TargetKind, str | None], ReplicaReader | None]
"""(kind, region) -> the reader for those targets, or None when that kind has no live source."""


class LiveReplicas:
    """Reads every target's live count through the reader of its (kind, region), one group at a time."""

    def __init__(self, reader_for: ReaderFor, kinds: frozenset[TargetKind]) -> None:
        self._reader_for = reader_for
        self.kinds = kinds

    @classmethod
    def of(cls, readers: Mapping[TargetKind, ReplicaReader]) -> LiveReplicas:
        """One reader per kind, whatever the region (a regional reader routes by region itself)."""
        fixed = dict(readers)
        return cls(lambda kind, _region: fixed.get(kind), frozenset(fixed))

    def read(self, targets: Sequence[ScaleTarget]) -> LiveRead:
        groups: dict[tuple[TargetKind, str | None], list[ScaleTarget]] = {}
        for target in targets:
            if target.kind in self.kinds:
                groups.setdefault((target.kind, target.region), []).append(target)
        counts: dict[ScaleTarget, ReplicaCount] = {}
        unknown: set[ScaleTarget] = set()
        errors: list[str] = []
        for (kind, region), group in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
            reader = self._reader_for(kind, region)
            if reader is None:
                unknown.update(group)
                errors.append(f"replicas({kind}{'/' + region if region else ''}): no reader")
                continue
            try:
                found = reader.describe_many(group)
            except Exception as exc:  # this kind/region is unknown this pass; the others are still read
                where = f"{kind}{'/' + region if region else ''}"
                log.warning("live replica counts of %d %s targets unavailable: %s", len(group), where, exc)
                unknown.update(group)
                errors.append(f"replicas({where}): {type(exc).__name__}: {exc}"[:300])
                continue
            counts.update((t, found[t]) for t in group if t in found)
        return LiveRead(counts, frozenset(unknown), tuple(errors), self.kinds)


def live_replicas(reader: LiveReplicas | ReplicaReader | None) -> LiveReplicas | None:
    """A `LiveReplicas` from what a caller has: itself, a bare reader (of Auto Scaling groups, the only
    kind a bare reader ever served), or nothing (the metrics' own counts stay, checked for sanity)."""
    if reader is None or isinstance(reader, LiveReplicas):
        return reader
    return LiveReplicas.of({TargetKind.ASG: reader})
