"""Watches and selectors of the Kubernetes API stand-in.

Every write is kept as an event with the cluster-wide revision it produced, as etcd keeps its history;
a watch (`?watch=1&resourceVersion=N`) replays the events after N and then follows new ones, which is
how `kubectl get -w`, informers and the Python client's `watch.Watch().stream` see changes without
polling. A watch from a revision older than the kept history gets an `ERROR` event with a 410 Expired
Status, so a client relists exactly as it must against a real apiserver after compaction.

Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and the field selectors every
resource supports (`metadata.name`, `metadata.namespace`) filter lists and watches alike.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tenantops_lab.sandbox.kube_errors import ApiError

JSON = dict[str, Any]
Predicate = Callable[[JSON], bool]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    revision: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: str
    namespace: str  # "" for cluster-scoped objects
    object: JSON


class EventLog:
    """The last `capacity` write events, and a condition watchers wait on for the next one.

    The condition shares the server's lock, so an event is appended in the same critical section as the
    write that caused it: a watcher can never see a revision before its object.
    """

    def __init__(self, lock: threading.RLock, capacity: int = 10_000) -> None:
        self._changed = threading.Condition(lock)
        self._events: deque[WatchEvent] = deque(maxlen=capacity)
        self._oldest_kept = 0  # history after this revision is complete

    def append(self, event: WatchEvent) -> None:
        with self._changed:
            if len(self._events) == self._events.maxlen:
                self._oldest_kept = self._events[0].revision
            self._events.append(event)
            self._changed.notify_all()

    def compact(self, revision: int) -> None:
        """Forget history up to `revision`, as etcd compaction does (watches from before it get 410)."""
        with self._changed:
            while self._events and self._events[0].revision <= revision:
                self._events.popleft()
            self._oldest_kept = max(self._oldest_kept, revision)

    def after(self, revision: int) -> list[WatchEvent]:
        with self._changed:
            if revision < self._oldest_kept:
                raise ApiError(410, f"too old resource version: {revision} ({self._oldest_kept + 1})",
                               reason="Expired")
            return [e for e in self._events if e.revision > revision]

    def wait(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def wake(self) -> None:
        """Release every waiting watcher (the server is stopping)."""
        with self._changed:
            self._changed.notify_all()


# ---------------------------------------------------------------------------------------------- selectors

_REQUIREMENT = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


@dataclass(frozen=True, slots=True)
class _Requirement:
    """One term of a selector: `key` compared by `op` (=, !=, in, notin, exists, !exists) with `values`."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def holds(self, fields: dict[str, str]) -> bool:
        value = fields.get(self.key)
        if self.op == "exists":
            return value is not None
        if self.op == "!exists":
            return value is None
        if self.op in ("=", "in"):
            return value in self.values
        return value not in self.values  # != and notin also match objects without the key


def _matching(requirements: list[_Requirement], fields: Callable[[JSON], dict[str, str]]) -> Predicate:
    def matches(obj: JSON) -> bool:
        values = fields(obj)
        return all(r.holds(values) for r in requirements)

    return matches


def _labels(obj: JSON) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def label_selector(text: str) -> Predicate:
    """A predicate on an object's labels; a malformed selector is 400, as the apiserver answers it."""
    requirements: list[_Requirement] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _REQUIREMENT.match(text, position)
        if match is None or match.end() == position:
            raise ApiError(400, f"unable to parse requirement: invalid label selector {text!r}")
        position = match.end()
        if match["absent"]:
            requirements.append(_Requirement(match["absent"], "!exists"))
        elif match["op"]:
            requirements.append(_Requirement(match["key"], "!=" if match["op"] == "!=" else "=",
                                             frozenset([match["value"]])))
        elif match["set"]:
            values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
            requirements.append(_Requirement(match["key"], match["set"], values))
        else:
            requirements.append(_Requirement(match["key"], "exists"))
    return _matching(requirements, _labels)


_FIELDS = {"metadata.name": "name", "metadata.namespace": "namespace"}


def _object_fields(obj: JSON) -> dict[str, str]:
    """Every field label an object can be selected by: its metadata's, and the dotted top-level paths an
    Event's extra labels name (`involvedObject.name`; `source` is the source's component)."""
    meta = obj.get("metadata") or {}
    out = {field: str(meta.get(key, "")) for field, key in _FIELDS.items()}
    for key, value in obj.items():
        if isinstance(value, dict) and key == "source":
            out["source"] = str(value.get("component") or "")
        elif isinstance(value, dict):
            out.update({f"{key}.{sub}": str(item) for sub, item in value.items() if not isinstance(item, dict)})
        elif isinstance(value, str):
            out[key] = value
    return out


def field_selector(text: str, extra: tuple[str, ...] = ()) -> Predicate:
    """A predicate on `metadata.name` / `metadata.namespace` (`kubectl get deploy api -w` sends one) and
    on the kind's `extra` field labels (an Event's `involvedObject.*`, `reason`, `type`); any other label is
    400, as the apiserver answers it. A field an object does not have matches as the empty string."""
    supported = set(_FIELDS) | set(extra)
    requirements: list[_Requirement] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"([\w.]+)\s*(==|=|!=)\s*(.*)", part)
        if match is None:
            raise ApiError(400, f"invalid field selector {text!r}")
        field, op, value = match.groups()
        if field not in supported:
            raise ApiError(400, f"field label not supported: {field}")
        requirements.append(_Requirement(field, "!=" if op == "!=" else "=", frozenset([value])))
    if not requirements:
        return lambda obj: True
    blank = dict.fromkeys(supported, "")
    return _matching(requirements, lambda obj: blank | _object_fields(obj))


def selector(query: dict[str, list[str]], fields: tuple[str, ...] = ()) -> Predicate:
    """The request's label and field selectors combined (`fields`: the kind's extra field labels)."""
    by_label = label_selector(query.get("labelSelector", [""])[0])
    by_field = field_selector(query.get("fieldSelector", [""])[0], fields)
    return lambda obj: by_label(obj) and by_field(obj)


def is_watch(query: dict[str, list[str]]) -> bool:
    """`?watch=1`, `?watch=true` (kubectl, client-go) or `?watch=True` (the Python client)."""
    return query.get("watch", ["false"])[0].lower() in ("1", "true")


def follow(log: EventLog, start: int, wanted: Callable[[WatchEvent], bool], *, deadline: float,
           stopping: threading.Event, gone: Callable[[], bool], clock: Callable[[], float]) -> Iterator[WatchEvent]:
    """The events after `start` that `wanted` accepts, waiting for new ones until the deadline, the
    server stops or the client hangs up."""
    last = start
    while not stopping.is_set() and clock() < deadline:
        events = log.after(last)
        if not events:
            if gone():
                return
            log.wait(min(0.5, max(0.0, deadline - clock())))
            continue
        for event in events:
            last = event.revision
            if wanted(event):
                yield event
