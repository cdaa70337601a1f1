"""Getting alerts and reports to people: a durable outbox, mail transports and the cost report.

The controller's delivery run after each pass calls two functions, imported lazily so that importing the
outbox (as the alert path does every pass) never pays for matplotlib or Jinja2:

- `render_requests(config, settings, ...)`: the handler that renders the report requests a pass recorded
  in the outbox (the `ReportRequest` effect) into the ops report and the tenants' budget mails;
- `deliver_pending(settings, now, jobs=...)` runs those requests and hands queued mail to the transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenantops.notify.service import deliver_pending, render_requests

__all__ = ["deliver_pending", "render_requests"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tenantops.notify import service

        return getattr(service, name)
    raise AttributeError(name)
