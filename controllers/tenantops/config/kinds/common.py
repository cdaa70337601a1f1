"""Field types shared by several kinds."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A Kubernetes label value (at most 63 characters, checked apart): what the API server takes in `labels`.
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


def label_value_problem(value: str) -> str | None:
    """Why `value` cannot be a Kubernetes label value, or None."""
    if len(value) > 63 or not LABEL_VALUE.fullmatch(value):
        return ("must be a Kubernetes label value: at most 63 letters, digits, '-', '_' and '.', starting and "
                "ending with a letter or digit")
    return None


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

    text = str(value).strip()
    try:
        parsed = float(kubernetes_parse_quantity(text))  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, ArithmeticError):
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from None
    # The client's parser hands the number to Python's Decimal, which also reads `NaN`, `Infinity` and
    # `1_000`, and a float overflows past 1e308: the API server refuses all of them.
    if not math.isfinite(parsed) or "_" in text:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return parsed


def _display_name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank (leave it out to show the id)")
    if len(value) > 200:
        raise ValueError(f"must be at most 200 characters (got {len(value)})")
    bad = next((ch for ch in value if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029"), None)
    if bad is not None:
        raise ValueError(f"must be one line of text without control characters (found {bad!r})")
    # Bidirectional overrides and isolates reorder what follows them (U+202E shows "Acme gnillib" reversed
    # in a mail subject and a report row), and zero-width spaces make two names that look the same differ.
    # The joiners and marks that scripts need (ZWNJ, ZWJ, LRM, RLM) stay allowed.
    hidden = next((ch for ch in value if ch in _HIDDEN), None)
    if hidden is not None:
        raise ValueError(f"must not hold invisible reordering or spacing characters (found U+{ord(hidden):04X} "
                         f"{unicodedata.name(hidden, 'format character')})")
    return value


_HIDDEN = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u2060\ufeff")


_REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-[0-9]")


def _region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise ValueError(f"{value!r} is not an AWS region name such as eu-west-1")
    return value


# A tenant's region, and the controller's own (SES, Cost Explorer): a typo is refused where it is written.
Region = Annotated[str, AfterValidator(_region)]

# A display name goes into mail subjects (where a line break is a header injection, and Python's email
# package refuses the message outright), into one-line logs and into report rows: one line of text.
DisplayName = Annotated[str, AfterValidator(_display_name)]

# Tenant ids end up inside names with hard limits (namespace `tenant-<id>`, S3 bucket names of 63
# characters with a prefix and Pulumi's random suffix), so they are held well under the DNS limit of 63.
TenantId = Annotated[str, AfterValidator(lambda v: _dns_label(v, 40))]
Label = Annotated[str, AfterValidator(lambda v: _dns_label(v, 63))]
Quantity = Annotated[str, AfterValidator(_quantity)]
Fraction = Annotated[float, Field(gt=0, le=1)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]

MAX_DURATION_DAYS = 3660
"""The longest duration a policy may state: ten years. A longer one is a typo (hours written as seconds, a digit
too many, `.inf`), and past what a time span holds (`datetime.timedelta`: 999,999,999 days) it passed validate
and then failed every pass that computed with it (an alert's snooze, a report's period)."""
MAX_DURATION_HOURS = MAX_DURATION_DAYS * 24
MAX_DURATION_SECONDS = MAX_DURATION_DAYS * 86400

Hours = Annotated[float, Field(ge=0, le=MAX_DURATION_HOURS, allow_inf_nan=False)]
PositiveHours = Annotated[float, Field(gt=0, le=MAX_DURATION_HOURS, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, le=MAX_DURATION_SECONDS, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_DURATION_SECONDS, allow_inf_nan=False)]
Days = Annotated[int, Field(gt=0, le=MAX_DURATION_DAYS)]
