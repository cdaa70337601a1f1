"""Who the stand-in says the caller is and what it may do: the self-subject reviews kubectl asks for.

`kubectl auth can-i VERB RESOURCE` creates a `SelfSubjectAccessReview`, `kubectl auth can-i --list` a
`SelfSubjectRulesReview`, `kubectl auth whoami` a `SelfSubjectReview`; without them the stand-in answered
404 and kubectl printed "the server could not find the requested resource". The stand-in authorises as an
apiserver started with `--authorization-mode=AlwaysAllow` does: every request it authenticates is allowed,
so an access review is allowed (with no reason, as AlwaysAllow gives none) and the rules review lists the
`*` rules. Authentication is that of an apiserver with a static token and anonymous requests enabled: with
a token the caller is the admin (`system:masters`), without one `system:anonymous`. Reviews are answered,
never stored, and only created (any other verb is 405), as on a real cluster.
"""

from __future__ import annotations

import copy
from typing import Any

from tenantops_lab.sandbox.kube_errors import ApiError
from tenantops_lab.sandbox.kube_resources import (
    SELF_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
    Kind,
)

JSON = dict[str, Any]

ADMIN = {"username": "admin", "groups": ["system:masters", "system:authenticated"]}
ANONYMOUS = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}


def _invalid(kind: Kind, field: str, value: Any, message: str) -> ApiError:
    return ApiError(422, f'{kind.qualified_kind} "" is invalid: {field}: Invalid value: {value!r}: {message}',
                    details={"group": kind.group, "kind": kind.kind,
                             "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]})


def review(kind: Kind, body: Any, *, authenticated: bool) -> JSON:
    """The created review: the request's spec with the answer in `status` (201, as the apiserver answers)."""
    if not isinstance(body, dict):
        raise ApiError(400, f"the body of a {kind.kind} must be an object")
    answered: JSON = {"kind": kind.kind, "apiVersion": kind.api_version,
                      "metadata": {"creationTimestamp": None}, "spec": copy.deepcopy(body.get("spec") or {})}
    spec = answered["spec"]
    if kind is SELF_SUBJECT_ACCESS_REVIEWS:
        given = [key for key in ("resourceAttributes", "nonResourceAttributes") if spec.get(key)]
        if len(given) != 1:
            raise _invalid(kind, "spec.resourceAttributes", spec.get("resourceAttributes"),
                           "exactly one of nonResourceAttributes or resourceAttributes must be specified")
        answered["status"] = {"allowed": True}
    elif kind is SELF_SUBJECT_RULES_REVIEWS:
        if not spec.get("namespace"):
            raise ApiError(400, "no namespace on request")
        answered["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    elif kind is SELF_SUBJECT_REVIEWS:
        answered.pop("spec")
        answered["status"] = {"userInfo": copy.deepcopy(ADMIN if authenticated else ANONYMOUS)}
    else:
        raise ApiError(404, f"the server could not find the requested resource ({kind.resource})")
    return answered
