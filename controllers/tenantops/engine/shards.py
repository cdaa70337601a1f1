"""Splitting tenants across controller replicas when one replica is no longer enough.

The hash is of the tenant id only (crc32, stable across processes and Python versions, unlike `hash`),
so adding a tenant never moves the others, and every replica agrees on the split without talking.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from tenantops.config.catalog import Tenant


def shard_of(tenant_id: str, count: int) -> int:
    return zlib.crc32(tenant_id.encode("utf-8")) % count


def shard_filter(index: int, count: int) -> Callable[[Tenant], bool]:
    """Select the tenants of shard `index` out of `count`."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= index < count")
    return lambda tenant: shard_of(tenant.id, count) == index


def parse_shard(text: str) -> tuple[int, int]:
    """`INDEX/COUNT`, e.g. `0/3`."""
    index_text, sep, count_text = text.partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ValueError(f"{text!r} is not INDEX/COUNT (e.g. 0/3)") from None
    if not sep or count < 1 or not 0 <= index < count:
        raise ValueError(f"{text!r}: need INDEX/COUNT with 0 <= INDEX < COUNT")
    return index, count
