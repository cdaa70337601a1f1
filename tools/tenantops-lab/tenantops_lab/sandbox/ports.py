"""Free loopback ports for the local servers.

Asking the kernel for port 0 and releasing it leaves a short window in which another process could take
the port; the servers that use this helper retry on a bind failure rather than trusting the number.
"""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_listening(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_closed(port: int, host: str = LOOPBACK, timeout: float = 5.0) -> bool:
    """Wait until nothing listens on the port any more; True when it is closed within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_listening(port, host):
            return True
        time.sleep(0.05)
    return not is_listening(port, host)
