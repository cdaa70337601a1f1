"""Field types shared by several kinds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
def _dns_label(value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters (got {len(value)})")
    if not DNS1123_LABEL.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending alphanumeric"
        )
    return value


def _quantity(value: str) -> str:
    text = str(value)
    try:
        parsed = parse_quantity(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 500m, 2, 512Mi, 4Gi, .5 or 1e3") from None
    if parsed < 0:
        raise ValueError(f"{value!r} is negative: requests, limits and sizes cannot be")
    return text


def parse_quantity(value: str) -> float:
    """A Kubernetes quantity as a float in base units (cores or bytes), by the Kubernetes client's own parser.

    The API server accepts more than `<digits><suffix>` (`.5`, `1e3`, `1Pi`, `100u`); a Deployment or a
    policy written in any of those forms must be read as the cluster reads it, so the parsing is not
    re-implemented here. (`kubernetes.utils.quantity` is pure arithmetic; importing it is the one
    exception the decision core's import contract makes for the client library.)
    """
    from kubernetes.utils import parse_quantity as kubernetes_parse_quantity

    try:
        return float(kubernetes_parse_quantity(str(value).strip()))  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, ArithmeticError):
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from None


# Tenant ids end up inside names with hard limits (namespace `tenant-<id>`, S3 bucket names of 63
# characters with a prefix and Pulumi's random suffix), so they are held well under the DNS limit of 63.
TenantId = Annotated[str, AfterValidator(lambda v: _dns_label(v, 40))]
Label = Annotated[str, AfterValidator(lambda v: _dns_label(v, 63))]
Quantity = Annotated[str, AfterValidator(_quantity)]
Fraction = Annotated[float, Field(gt=0, le=1)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
