"""Unknown fields, as the apiserver's decoder finds them: strict field validation for the stand-in.

The apiserver drops fields its types do not have, and with `fieldValidation=Strict` (what kubectl sends
for `apply`, `create`, `replace` by default) refuses the request instead; with `Warn` (the default) it
answers with a `Warning` header per field. The types are the official client's models: each carries
`attribute_map` (Python name to JSON name) and `openapi_types` (Python name to type), generated from the
API's own OpenAPI document, so a misspelt `spec.replica` or `containers[0].resource` is caught exactly
where the apiserver would catch it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubernetes.client import models

JSON = dict[str, Any]
LIST = re.compile(r"^(?:list|List)\[(?P<item>.+)\]$")
DICT = re.compile(r"^(?:dict\(str, |Dict\[str, )(?P<value>.+?)[)\]]$")


@dataclass(frozen=True, slots=True)
class UnknownField:
    path: str  # as the apiserver prints it: `spec.template.spec.containers[0].resource`


def model(type_name: str) -> Any:
    """The client's model class of that name (`V1DeploymentSpec`), or None for a scalar or `object`."""
    return getattr(models, type_name, None)


def model_name(kind: str, version: str) -> str | None:
    """The client's model of `<version>/<kind>` (`V1Lease`; core/v1 Event is `CoreV1Event`), or None."""
    type_name = f"V{version[1:]}{kind}" if version.startswith("v") else kind
    if model(type_name) is None and model(f"Core{type_name}") is not None:
        type_name = f"Core{type_name}"  # core/v1 Event is `CoreV1Event` (events.k8s.io's: EventsV1Event)
    return type_name if model(type_name) is not None else None


def _walk(value: Any, type_name: str, path: str, out: list[UnknownField]) -> Any:
    """`value` without the fields `type_name` lacks; each one dropped is added to `out`."""
    if (match := LIST.match(type_name)) is not None:
        if isinstance(value, list):
            return [_walk(item, match["item"], f"{path}[{i}]", out) for i, item in enumerate(value)]
        return value
    if (match := DICT.match(type_name)) is not None:
        if isinstance(value, dict):
            return {k: _walk(v, match["value"], f"{path}[{k}]", out) for k, v in value.items()}
        return value
    found = model(type_name)
    if found is None or not isinstance(value, dict):
        return value  # a scalar, an int-or-string, or free-form `object` (e.g. managedFields' fieldsV1)
    json_names = {json_name: python for python, json_name in found.attribute_map.items()}
    kept: JSON = {}
    for key, item in value.items():
        python = json_names.get(key)
        if python is None:
            out.append(UnknownField(f"{path}.{key}" if path else key))
            continue
        kept[key] = _walk(item, found.openapi_types[python], f"{path}.{key}" if path else key, out)
    return kept


def strip_unknown(obj: JSON, kind: str, version: str) -> tuple[JSON, list[UnknownField]]:
    """The object with unknown fields removed, and the fields removed, for `<version>/<kind>` (e.g. v1 Lease)."""
    out: list[UnknownField] = []
    type_name = model_name(kind, version)
    if type_name is None:
        return obj, out
    return _walk(obj, type_name, "", out), out
