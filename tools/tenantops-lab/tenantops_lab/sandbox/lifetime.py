"""Throwaway servers that cannot outlive the process that started them.

A test run, a benchmark or the demo stops its Prometheus, Alertmanager and PostgreSQL in its own
teardown. A run killed by a signal it cannot handle (SIGKILL, an OOM kill, a CI job cancelled) runs no
teardown, and without this its servers would keep running, holding ports, memory and temporary directories
until someone stops them. On Linux each server is started through util-linux's `setpriv --pdeathsig`,
which asks the kernel to signal the server when its parent goes, then execs it (same pid, nothing in
between). The kernel sends the signal when the parent *thread* ends, so this is used only from the main
thread, whose end is the process's; from another thread, and where `setpriv` is missing or too old to
have `--pdeathsig`, the command is returned unchanged and teardown alone stops the server.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence


@functools.cache
def _setpriv() -> str | None:
    """util-linux's setpriv, if it has `--pdeathsig` (2.33 and later; Debian 10, Ubuntu 20.04)."""
    found = shutil.which("setpriv")
    if found is None:
        return None
    try:
        usage = subprocess.run([found, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return found if "--pdeathsig" in usage else None


def bound_to_parent(command: Sequence[str], signal_name: str = "TERM") -> list[str]:
    """`command`, started so that it receives SIG`signal_name` when this process dies."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return list(command)
    setpriv = _setpriv()
    if setpriv is None:
        return list(command)
    return [setpriv, "--pdeathsig", signal_name, "--", *command]
