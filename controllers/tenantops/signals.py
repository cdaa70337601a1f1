"""Acting on SIGTERM/SIGINT safely.

A Python signal handler runs on the main thread between two bytecodes, possibly while that thread holds the
lock of the very `threading.Event` the handler wants to set (inside `Event.wait`, just before it sleeps).
`Event.set` there waits for a lock its own thread holds: the process never exits. The handler therefore
only starts a thread, which takes the lock once the main thread has let go of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def from_signal(action: Callable[[], None], name: str = "tenantops-signal") -> None:
    """Run `action` (setting an event, logging) off the signal handler's thread."""
    threading.Thread(target=action, name=name, daemon=True).start()
