"""OpenAPI v3 schemas of the kinds the Kubernetes API stand-in serves, as `kubectl explain` reads them.

`kubectl explain deployment.spec.replicas` fetches `/openapi/v3/apis/apps/v1`, finds the schema whose
`x-kubernetes-group-version-kind` names apps/v1 Deployment and walks its properties through `$ref`s,
printing each field's type and description. The schemas here are generated from the official client's
models, which are generated from the apiserver's own OpenAPI document: each model carries
`attribute_map` (Python name to JSON name), `openapi_types` (Python name to type, `List[...]`,
`Dict[str, ...]` or another model) and each field's description and whether it is required. Lists that
strategic-merge patches merge by key (`kube_patch.MERGE_KEYS`) carry `x-kubernetes-patch-strategy` and
`x-kubernetes-patch-merge-key`, so kubectl's client-side apply, which now finds these schemas, computes
the same patch it does against an apiserver.

Schemas are named as the apiserver names them in form (`io.k8s.api.apps.v1.DeploymentSpec`, metav1's
types under `io.k8s.apimachinery.pkg.apis.meta.v1`), but by the document's group: apps/v1's PodSpec is
`io.k8s.api.apps.v1.PodSpec`, not core's, as the client's models do not say which package a type is
from; kubectl shows only the last part (`<PodSpec>`). What the client types as free-form `object`
(`intstr.IntOrString`) is `<Object>`, and `resource.Quantity` maps are `map[string]string`, as the
client types them.
"""

from __future__ import annotations

import re
from typing import Any

from tenantops_lab.sandbox.kube_fields import DICT, LIST, model, model_name
from tenantops_lab.sandbox.kube_patch import MERGE_KEYS

JSON = dict[str, Any]

_SCALARS: dict[str, JSON] = {
    "int": {"type": "integer", "format": "int32"},
    "float": {"type": "number", "format": "double"},
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "object": {"type": "object"},
}
_VERSION_PREFIX = re.compile(r"^(?:[A-Z][a-z]+)?V\d+(?:(?:alpha|beta)\d+)?(?=[A-Z])")
_META_TYPES = {"ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement", "ManagedFieldsEntry",
               "OwnerReference", "Condition", "Status", "StatusDetails", "StatusCause"}


def _schema_name(type_name: str, group: str, version: str) -> str:
    short = _VERSION_PREFIX.sub("", type_name)
    if short in _META_TYPES:
        return f"io.k8s.apimachinery.pkg.apis.meta.v1.{short}"
    return f"io.k8s.api.{group.split('.')[0] if group else 'core'}.{version}.{short}"


def _description(found: Any) -> str:
    doc = (found.__doc__ or "").strip()
    return doc.split("\n\n", 1)[0].strip() if doc else ""


class _Builder:
    def __init__(self, group: str, version: str) -> None:
        self.group, self.version = group, version
        self.schemas: dict[str, JSON] = {}

    def ref(self, type_name: str) -> JSON:
        """The schema of a field of `type_name`, adding the models it names to `schemas`."""
        if (match := LIST.match(type_name)) is not None:
            return {"type": "array", "items": self.ref(match["item"])}
        if (match := DICT.match(type_name)) is not None:
            return {"type": "object", "additionalProperties": self.ref(match["value"])}
        found = model(type_name)
        if found is None:
            return dict(_SCALARS.get(type_name, {"type": "object"}))
        name = _schema_name(type_name, self.group, self.version)
        if name not in self.schemas:
            self.schemas[name] = {}  # a placeholder: models refer to themselves (JSONSchemaProps does)
            self.schemas[name] = self.model(found)
        return {"allOf": [{"$ref": f"#/components/schemas/{name}"}]}

    def model(self, found: Any) -> JSON:
        properties: JSON = {}
        required = []
        fields = {field.alias or python: field for python, field in found.model_fields.items()}  # `_exec`
        for python, json_name in found.attribute_map.items():
            type_name = found.openapi_types[python]
            field = fields[python]
            prop = self.ref(type_name)
            if field.description:
                prop["description"] = field.description
            if field.is_required():
                required.append(json_name)
            item = model(m["item"]) if (m := LIST.match(type_name)) is not None else None
            key = MERGE_KEYS.get(json_name)
            if item is not None and key is not None and key in item.attribute_map.values():
                prop["x-kubernetes-patch-strategy"] = "merge"
                prop["x-kubernetes-patch-merge-key"] = key
            properties[json_name] = prop
        schema: JSON = {"type": "object", "properties": properties}
        if description := _description(found):
            schema["description"] = description
        if required:
            schema["required"] = sorted(required)
        return schema


def schemas(group: str, version: str, kinds: list[str]) -> dict[str, JSON]:
    """`components.schemas` of the group version's document: each kind's schema (with its
    `x-kubernetes-group-version-kind`) and every schema it refers to."""
    builder = _Builder(group, version)
    for kind in kinds:
        type_name = model_name(kind, version)
        if type_name is None:
            continue
        ref = builder.ref(type_name)["allOf"][0]["$ref"].rsplit("/", 1)[-1]
        builder.schemas[ref]["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind,
                                                                     "version": version}]
    return builder.schemas
