"""Field types shared by several kinds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_SUFFIX = {
    "": 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
}


def _dns_label(value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters (got {len(value)})")
    if not DNS1123_LABEL.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending alphanumeric"
        )
    return value


def _quantity(value: str) -> str:
    if not QUANTITY.match(str(value)):
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi")
    return str(value)


def parse_quantity(value: str) -> float:
    """A Kubernetes quantity as a float in base units (cores or bytes)."""
    match = re.match(r"^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$", value)
    if not match or match.group(2) not in _SUFFIX:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return float(match.group(1)) * _SUFFIX[match.group(2)]


# Tenant ids end up inside names with hard limits (namespace `tenant-<id>`, S3 bucket names of 63
# characters with a prefix and Pulumi's random suffix), so they are held well under the DNS limit of 63.
TenantId = Annotated[str, AfterValidator(lambda v: _dns_label(v, 40))]
Label = Annotated[str, AfterValidator(lambda v: _dns_label(v, 63))]
Quantity = Annotated[str, AfterValidator(_quantity)]
Fraction = Annotated[float, Field(gt=0, le=1)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
