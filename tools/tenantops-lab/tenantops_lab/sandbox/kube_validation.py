"""The apiserver's validation and defaulting for the objects the stand-in stores.

A client that passes here but would fail on a real cluster is the bug these checks exist to catch:
a right-sizing patch that raises a request above its container's limit, a Deployment whose selector
does not select its own pods, a negative replica count. Each failure is a 422 `Invalid` Status whose
`details.causes` name the field, as the apiserver's are.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity

from tenantops_lab.sandbox.kube_errors import ApiError
from tenantops_lab.sandbox.kube_resources import DEPLOYMENTS, EVENTS, LEASES, NAMESPACES, Kind

JSON = dict[str, Any]
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# metav1.MicroTime decodes with Go's time.Parse and the layout "2006-01-02T15:04:05.000000Z07:00", which
# wants exactly six fractional digits and a zone: "…T19:00:00Z" and "…T19:00:00+00:00" are refused.
_RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
_MICRO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})(Z|[+-]\d{2}:\d{2})$")
_LEASE_MICRO_TIMES = ("acquireTime", "renewTime")
# The client library's parser reads the apiserver's quantity grammar (`.5`, `1e3`, `250m`, `1Pi`), and through
# Python's Decimal also `NaN`, `Infinity` and `1_000`, which the apiserver refuses (`_quantity`).
_parse_quantity: Callable[[object], Decimal] = parse_quantity


def body_name(body: Any, kind: Kind) -> str:
    """The object's `metadata.name`, which must be a DNS-1123 subdomain (a label for namespaces)."""
    name = (body.get("metadata") or {}).get("name") if isinstance(body, dict) else None
    pattern, limit, what = ((_DNS1123_LABEL, 63, "a DNS-1123 label") if kind is NAMESPACES
                            else (_DNS1123_SUBDOMAIN, 253, "a DNS-1123 subdomain"))
    if not isinstance(name, str) or not pattern.match(name) or len(name) > limit:
        raise ApiError(422, f"metadata.name: Invalid value: {name!r}: must be {what}",
                       details={"kind": kind.kind, "causes": [
                           {"field": "metadata.name", "reason": "FieldValueInvalid"}]})
    return name


def _quantity(value: object) -> Decimal | None:
    try:
        amount = _parse_quantity(value)
    except (ValueError, TypeError):
        return None
    return amount if amount.is_finite() and "_" not in str(value) else None


def _resource_causes(path: str, container: JSON) -> list[tuple[str, str]]:
    """Quantities parse, and each request is at most its limit (the apiserver's ValidateResourceRequirements)."""
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    causes = []
    for section, values in (("requests", requests), ("limits", limits)):
        for resource, value in values.items():
            amount = _quantity(value)
            if amount is None:
                causes.append((f"{path}.resources.{section}[{resource}]",
                               f'Invalid value: "{value}": must be a valid quantity'))
            elif amount < 0:
                causes.append((f"{path}.resources.{section}[{resource}]",
                               f'Invalid value: "{value}": must be greater than or equal to 0'))
    for resource, request in requests.items():
        limit = limits.get(resource)
        wanted, ceiling = _quantity(request), _quantity(limit)
        if wanted is not None and ceiling is not None and wanted > ceiling:
            causes.append((f"{path}.resources.requests",
                           f'Invalid value: "{request}": must be less than or equal to {resource} limit of {limit}'))
    return causes


def _micro_times(kind: Kind, spec: JSON) -> None:
    """Decode a Lease's MicroTime fields as the apiserver does (400 when the format is not RFC3339Micro)
    and store them as it re-encodes them: UTC, six fractional digits, `Z`."""
    for name in _LEASE_MICRO_TIMES:
        value = spec.get(name)
        if value is None:
            continue
        match = _MICRO_TIME.match(value) if isinstance(value, str) else None
        if match is None:
            raise ApiError(400, f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                           f'parsing time {json.dumps(value)} as "{_RFC3339_MICRO}": cannot parse it as '
                           f'RFC3339 with microseconds (spec.{name})')
        zone = "+00:00" if match[3] == "Z" else match[3]
        try:
            moment = datetime.fromisoformat(f"{match[1]}.{match[2]}{zone}")
        except ValueError:
            raise ApiError(400, f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                           f"parsing time {json.dumps(value)}: out of range (spec.{name})") from None
        spec[name] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _default_requests(pod: JSON) -> None:
    """The apiserver's defaulting: a resource with a limit and no request gets the limit as its request."""
    for group in ("initContainers", "containers"):
        for container in pod.get(group) or []:
            resources = container.get("resources") or {}
            limits = resources.get("limits") or {}
            if limits:
                requests = resources.setdefault("requests", {})
                for resource, limit in limits.items():
                    requests.setdefault(resource, limit)


def _default_deployment(spec: JSON) -> None:
    """apps/v1's defaulting (`SetDefaults_Deployment`): a rolling update of 25% surge and 25% unavailable,
    ten old ReplicaSets kept, a 600 s progress deadline. Without it `kubectl describe` shows an empty
    StrategyType, `get -o yaml` differs from a cluster's, and availability has no maxUnavailable to go by."""
    if isinstance(spec.get("replicas", 1), int):
        spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)


def _deployment_causes(spec: JSON, current: JSON | None) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0"))
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(("spec.selector", "Required value"))
    elif any(labels.get(k) != v for k, v in selector.items()):
        causes.append(("spec.template.metadata.labels",
                       f"Invalid value: {labels!r}: `selector` does not match template `labels`"))
    if current is not None and selector and selector != (current["spec"].get("selector") or {}).get("matchLabels"):
        causes.append(("spec.selector", f"Invalid value: {spec.get('selector')!r}: field is immutable"))
    pod = template.get("spec") or {}
    containers = pod.get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append(("spec.template.spec.containers", "Required value"))
        return causes
    for group in ("initContainers", "containers"):
        seen: set[str] = set()
        for i, container in enumerate(pod.get(group) or []):
            path = f"spec.template.spec.{group}[{i}]"
            if not isinstance(container, dict):
                causes.append((path, "Invalid value: must be an object"))
                continue
            name = container.get("name")
            if not isinstance(name, str) or not _DNS1123_LABEL.match(name):
                causes.append((f"{path}.name", f"Invalid value: {name!r}: must be a DNS-1123 label"))
            elif name in seen:
                causes.append((f"{path}.name", f'Duplicate value: "{name}"'))
            seen.add(str(name))
            if not container.get("image"):
                causes.append((f"{path}.image", "Required value"))
            causes.extend(_resource_causes(path, container))
    return causes


def _event_causes(event: JSON, ns: str | None) -> list[tuple[str, str]]:
    """What the apiserver's legacy Event validation refuses: an event about an object in another namespace
    (or about nothing), a type other than Normal or Warning, a negative count."""
    causes: list[tuple[str, str]] = []
    ref = event.get("involvedObject")
    if not isinstance(ref, dict) or not ref.get("name") or not ref.get("kind"):
        causes.append(("involvedObject", "Required value: an event names the object it is about (kind, name)"))
    elif ref.get("namespace") not in (None, "", ns):
        causes.append(("involvedObject.namespace", f'Invalid value: "{ref.get("namespace")}": does not match '
                       "event.namespace"))
    if event.get("type") not in (None, "", "Normal", "Warning"):
        causes.append(("type", f'Unsupported value: "{event.get("type")}": supported values: "Normal", "Warning"'))
    count = event.get("count")
    if count is not None and (not isinstance(count, int) or count < 0):
        causes.append(("count", f"Invalid value: {count!r}: must be greater than or equal to 0"))
    for stamp in ("firstTimestamp", "lastTimestamp", "eventTime"):
        value = event.get(stamp)
        if value is not None and not _is_time(value):
            causes.append((stamp, f"Invalid value: {value!r}: not an RFC3339 time"))
    return causes


def _is_time(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def validated(kind: Kind, ns: str | None, body: Any, current: JSON | None) -> JSON:
    """The object as it would be stored: checked, defaulted, with kind, apiVersion and namespace set."""
    if not isinstance(body, dict):
        raise ApiError(400, f"the body of a {kind.kind} must be a JSON object")
    name = body_name(body, kind)
    meta = body.get("metadata") or {}
    if kind.namespaced and meta.get("namespace") not in (None, ns):
        raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
    if current is not None and name != current["metadata"]["name"]:
        raise ApiError(400, f"the name of the object ({name}) does not match the name on the URL "
                       f"({current['metadata']['name']})")
    obj = copy.deepcopy(body)
    spec = obj.get("spec") or {}
    causes: list[tuple[str, str]] = []
    if kind is DEPLOYMENTS:
        _default_requests((spec.get("template") or {}).get("spec") or {})
        causes = _deployment_causes(spec, current)
        _default_deployment(spec)
    elif kind is LEASES:
        _micro_times(kind, spec)
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            causes.append(("spec.leaseDurationSeconds", f"Invalid value: {duration!r}: must be greater than 0"))
    elif kind is EVENTS:
        causes = _event_causes(obj, ns)
    if causes:
        raise ApiError(422, f'{kind.qualified_kind} "{name}" is invalid: ' + ", ".join(f"{f}: {m}" for f, m in causes),
                       details={"name": name, "group": kind.group, "kind": kind.kind,
                                "causes": [{"field": f, "message": m, "reason": "FieldValueInvalid"}
                                           for f, m in causes]})
    obj["kind"], obj["apiVersion"] = kind.kind, kind.api_version
    obj.setdefault("metadata", {})
    if kind.namespaced:
        obj["metadata"]["namespace"] = ns
    return obj
