"""Getting alerts and reports to people: a durable outbox, mail transports and the cost report.

The controller's runner calls two functions, imported lazily so that importing the outbox (as the alert
path does every pass) never pays for matplotlib or Jinja2:

- `enqueue_due_reports(config, store_path, now, ...)` queues the cost report when its schedule is due;
- `deliver_pending(settings, now)` hands queued mail to the configured transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenantops.notify.service import deliver_pending, enqueue_due_reports

__all__ = ["deliver_pending", "enqueue_due_reports"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tenantops.notify import service

        return getattr(service, name)
    raise AttributeError(name)
