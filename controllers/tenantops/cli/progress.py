"""Progress lines for long commands, on stderr, so `--json` output on stdout stays one clean document.

One line per finished item, with the count and the time so far: `simulate: [3/8] nasa_http_1995 (12s)`.
Lines (not a redrawn bar) read the same on a terminal, in CI logs and through a pipe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import click


class Progress:
    """Counts finished items of `total` and says so on stderr (`echo` for tests)."""

    def __init__(self, label: str, total: int, *, echo: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._echo = echo or (lambda line: click.echo(line, err=True))
        self._clock = clock
        self._started = clock()

    def start(self, what: str) -> None:
        self._echo(f"{self.label}: {what}")

    def step(self, item: str) -> None:
        self.done += 1
        self._echo(f"{self.label}: [{self.done}/{self.total}] {item} ({self._clock() - self._started:.0f}s)")
