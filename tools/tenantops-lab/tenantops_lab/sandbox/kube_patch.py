"""The three patch formats the Kubernetes API accepts, as the API stand-in applies them.

- JSON patch (RFC 6902, `application/json-patch+json`): the `jsonpatch` library, so pointer escaping,
  `-` for the end of a list, `test`, `copy` and `move` behave as every other implementation does.
- JSON merge patch (RFC 7386, `application/merge-patch+json`): objects merge, null deletes, anything
  else (lists too) replaces. Eight lines; no library is needed for it.
- Strategic merge patch (`application/strategic-merge-patch+json`): Kubernetes' own format. Lists that
  the API types tag with a `patchMergeKey` merge element by element; everything else is a merge patch.
  There is no maintained Python implementation (the reference is Go's `apimachinery/.../strategicpatch`),
  so the keyed lists a Deployment and its pod template use are listed here.

Every failure is an `ApiError` carrying the status the apiserver answers (400 for a malformed patch,
422 when a well-formed patch cannot apply), so the server turns it into a `Status` object.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonpatch
import jsonpointer

from tenantops_lab.sandbox.kube_errors import ApiError

# Lists that strategic-merge patches merge by a key instead of replacing (the Kubernetes API types'
# `patchMergeKey` tags) — the fields of a Deployment and its pod template that clients patch.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "tolerations": "key",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "conditions": "type",
}


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, key: str | None = None) -> Any:
    """Kubernetes strategic merge: like JSON merge, but keyed lists merge element by element.

    Supports the directives clients send: `$patch: delete` on keyed list elements, `$patch: replace` on
    objects (container resources), `$retainKeys` (kubectl apply on a Deployment's strategy),
    `$deleteFromPrimitiveList/<field>`, and ignores `$setElementOrder/<field>`.
    """
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for name, value in patch.items():
            if name.startswith("$deleteFromPrimitiveList/"):
                field = name.split("/", 1)[1]
                result[field] = [item for item in result.get(field) or [] if item not in (value or [])]
                continue
            if name.startswith("$"):
                continue  # $patch handled above; $setElementOrder: the target's order, new elements last
            if value is None:
                result.pop(name, None)
            else:
                result[name] = strategic_merge_patch(result.get(name), value, name)
        retain = patch.get("$retainKeys")
        if isinstance(retain, list):  # kubectl apply on a union such as a Deployment's strategy
            result = {k: v for k, v in result.items() if k in retain}
        return result
    if isinstance(patch, list) and key in MERGE_KEYS and isinstance(target, list):
        merge_key = MERGE_KEYS[key]
        merged = copy.deepcopy(target)
        for item in patch:
            if not isinstance(item, dict) or merge_key not in item:
                raise ApiError(422, f"{key}: list element has no merge key {merge_key!r}")
            index = next((i for i, old in enumerate(merged)
                          if isinstance(old, dict) and old.get(merge_key) == item[merge_key]), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    merged.pop(index)
            elif index is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[index] = strategic_merge_patch(merged[index], item)
        return merged
    return copy.deepcopy(patch)


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 through `jsonpatch`: malformed operations are 400, ones that cannot apply 422."""
    if not isinstance(operations, list):
        raise ApiError(400, "a JSON patch must be a list of operations")
    try:
        patch = jsonpatch.JsonPatch(operations)
        return patch.apply(copy.deepcopy(target))
    except jsonpatch.InvalidJsonPatch as exc:
        raise ApiError(400, f"invalid JSON patch: {exc}") from None
    except jsonpatch.JsonPatchTestFailed as exc:
        raise ApiError(422, f"the JSON patch test operation failed: {exc}") from None
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as exc:
        raise ApiError(422, f"the JSON patch cannot be applied: {exc}") from None


PATCHERS: dict[str, Callable[[Any, Any], Any]] = {
    "application/strategic-merge-patch+json": strategic_merge_patch,
    "application/merge-patch+json": json_merge_patch,
    "application/json-patch+json": json_patch,
}


def apply_patch(current: Any, content_type: str | None, body: Any) -> Any:
    """`current` with the patch `body` applied in the format its Content-Type names (415 for others)."""
    media = (content_type or "").split(";")[0].strip().lower()
    patcher = PATCHERS.get(media)
    if patcher is None:
        raise ApiError(415, f"the body of the request was in an unknown format - accepted media types "
                       f"include: {', '.join(PATCHERS)}")
    return patcher(current, body)
