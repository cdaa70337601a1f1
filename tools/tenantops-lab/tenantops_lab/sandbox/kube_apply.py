"""Server-side apply (`PATCH` with `application/apply-patch+yaml`) and the field ownership it rests on.

`kubectl apply --server-side` and client-go's Apply send the whole intended object; the apiserver
creates it when it does not exist, merges it into the live object otherwise (keyed lists such as
containers element by element), and records which field manager set which field. A field another
manager set, applied with a different value, is a conflict (409, one `FieldManagerConflict` cause per
field, the apiserver's message) unless the request says `force=true`, which takes the field over. This is
what a user meets when applying a Deployment manifest that names `replicas` while the controller scales
it: the controller (field manager `tenantops`) owns `.spec.replicas` through the scale subresource.

Ownership is kept per leaf field. Every write records its manager (`fieldManager`, else the client's
User-Agent product, as the apiserver does; with the operation and the subresource, so `kubectl scale` and
`kubectl apply --server-side`, both `kubectl`, are two managers) as the owner of the leaves it changed;
an apply records its manager for every leaf it names. What the stand-in leaves out: `metadata.managedFields`
is not shown on objects, and an apply that stops naming a field it applied before does not remove it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from tenantops_lab.sandbox.kube_errors import ApiError
from tenantops_lab.sandbox.kube_patch import MERGE_KEYS

APPLY_PATCH = "application/apply-patch+yaml"

Path = tuple[str, ...]
Owner = tuple[str, str, str]
"""A field manager as the apiserver tells managers apart: its name, the operation (`Apply` or `Update`) and
the subresource it wrote through (`scale`, or "")."""
Owners = dict[Path, Owner]
"""Leaf field → the field manager that last set it."""

_UNOWNED_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                           "managedFields"})


def is_apply(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == APPLY_PATCH


def decode(body: Any) -> Any:
    """An apply body: JSON (what kubectl and the clients send) or YAML, as the content type allows."""
    if isinstance(body, bytes | str):
        try:
            return json.loads(body)
        except ValueError:
            try:
                return yaml.safe_load(body)
            except yaml.YAMLError as exc:
                raise ApiError(400, f"the apply body is neither JSON nor YAML: {exc}") from None
    return body


def manager_of(query: Mapping[str, list[str]], user_agent: str | None) -> str:
    """The request's field manager: `fieldManager`, else the User-Agent's product (`kubectl`, ...)."""
    named = query.get("fieldManager", [""])[0]
    if named:
        return named
    return (user_agent or "unknown").split("/", 1)[0] or "unknown"


def leaves(obj: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf field of an object with its value; keyed list elements by their key (`[name="api"]`),
    other lists as one leaf (they are atomic), `status` and server-set metadata left out."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not path and key in ("status", "apiVersion", "kind"):
                continue
            if path == ("metadata",) and key in _UNOWNED_META:
                continue
            yield from leaves(value, (*path, key))
        return
    if isinstance(obj, list) and path and path[-1] in MERGE_KEYS and all(
            isinstance(item, dict) and MERGE_KEYS[path[-1]] in item for item in obj):
        key = MERGE_KEYS[path[-1]]
        for item in obj:
            yield from leaves(item, (*path, f"[{key}={json.dumps(item[key])}]"))
        return
    if path:
        yield path, obj


def render(path: Path) -> str:
    """A field as the apiserver names it in a conflict (`.spec.replicas`, `...containers[name="api"].image`)."""
    return "".join(part if part.startswith("[") else f".{part}" for part in path)


def record(owners: Owners, before: Any, after: Any, manager: Owner) -> None:
    """A write by `manager` from `before` (None: created) to `after`: it owns each leaf it changed."""
    old = dict(leaves(before)) if before is not None else {}
    new = dict(leaves(after))
    for path in [p for p in owners if p not in new]:
        del owners[path]
    for path, value in new.items():
        if path not in old or old[path] != value or path not in owners:
            owners[path] = manager


def check_conflicts(owners: Owners, live: Any, applied: Any, manager: Owner, api_version: str, *,
                    force: bool) -> list[Path]:
    """The applied fields that another manager owns with a different live value: a 409 unless `force`.
    Returns the applied leaves, for `claim` once the apply is made."""
    live_leaves = dict(leaves(live)) if live is not None else {}
    applied_leaves = list(leaves(applied))
    conflicts: dict[Owner, list[str]] = {}
    for path, value in applied_leaves:
        owner = owners.get(path)
        if owner is not None and owner != manager and path in live_leaves and live_leaves[path] != value:
            conflicts.setdefault(owner, []).append(render(path))
    if conflicts and not force:
        raise conflict_error(conflicts, api_version)
    return [path for path, _ in applied_leaves]


def claim(owners: Owners, applied: list[Path], manager: Owner) -> None:
    for path in applied:
        owners[path] = manager


def conflict_error(conflicts: Mapping[Owner, list[str]], api_version: str) -> ApiError:
    """The apiserver's answer to an apply that conflicts (`Apply failed with N conflict(s): ...`)."""
    count = sum(len(fields) for fields in conflicts.values())
    parts = []
    causes = []
    for (name, _, subresource), fields in conflicts.items():
        who = f'"{name}"' + (f' with subresource "{subresource}"' if subresource else "") + f" using {api_version}"
        causes += [{"type": "FieldManagerConflict", "message": f"conflict with {who}", "field": field}
                   for field in fields]
        if len(fields) == 1:
            parts.append(f"conflict with {who}: {fields[0]}")
        else:
            parts.append(f"conflicts with {who}:\n" + "\n".join(f"- {f}" for f in fields))
    message = f"Apply failed with {count} conflict{'s' if count != 1 else ''}: " + "\n".join(parts)
    return ApiError(409, message, details={"causes": causes})
