"""What the engine needs from a metrics source: one call per pass that returns a `Snapshot`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tenantops.config.catalog import Tenant
from tenantops.config.loader import Config
from tenantops.structs.snapshot import Snapshot


class MetricsSource(Protocol):
    """Reads every selected tenant's metrics as of `now`.

    Implementations never raise for a failed query: the failure goes into `Snapshot.errors` and the
    metric reads as missing, so one broken query degrades the pass instead of stopping it.
    """

    def observe(self, config: Config, now: datetime, tenants: Sequence[Tenant] | None = None) -> Snapshot: ...
