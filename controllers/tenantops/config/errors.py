"""Configuration errors that name the file, the line and the field, and are collected, not raised one by one.

A person fixing a catalogue of thousands of tenants wants every mistake in one run, each pointing at the
exact line, rather than a fix-rerun loop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class ConfigIssue:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        # Line 0 means "no line": a flag, an environment variable or a whole file.
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}"


class ConfigError(Exception):
    """Raised once with every issue found; nothing from a file with issues is used."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues)
        super().__init__("\n".join(str(i) for i in self.issues))
