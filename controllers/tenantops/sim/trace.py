"""Reading a demand trace (`timestamp,value` CSV) and resampling it to the simulator's 60 s steps.

A trace is input from outside the project, so every defect is reported with the file and line it is on
(`ConfigError`, exit code 2) instead of being smoothed over: a NaN or an unsorted row would otherwise turn
into a plausible-looking but wrong score.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tenantops.config.errors import ConfigError, ConfigIssue

STEP_SECONDS = 60
MAX_SPAN_DAYS = 3 * 366  # a trace longer than this is a typo in a timestamp, not three years of demand
TRACES_ENV = "TENANTOPS_TRACES"


@dataclass(frozen=True)
class Trace:
    """Demand per 60 s step, `start` being the time of step 0 (the first sample's time). `source_seconds` is
    how often the recording was sampled (the median spacing of its samples): a source coarser than a step is
    held, so its results are read apart from per-minute ones (docs/benchmarks.md §1)."""

    name: str
    start: datetime
    demand: npt.NDArray[np.float64]
    step_seconds: int = STEP_SECONDS
    source_seconds: float = STEP_SECONDS

    def timestamp(self, step: int) -> datetime:
        return datetime.fromtimestamp(self.start.timestamp() + step * self.step_seconds, UTC)


def _parse_time(text: str) -> float:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def read_samples(path: Path | str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Timestamps (epoch seconds) and values of a trace file, validated row by row."""
    file = str(path)
    times: list[float] = []
    values: list[float] = []
    issues: list[ConfigIssue] = []
    try:
        # utf-8-sig: a byte order mark (spreadsheets' "CSV UTF-8") is dropped, not read into the header
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError([ConfigIssue(file, 0, "<trace>", f"cannot read trace: {exc.strerror}")]) from None
    with handle:
        reader = csv.reader(handle)
        try:
            _read_rows(reader, file, times, values, issues)
        except UnicodeDecodeError:  # a binary file, or one saved in another encoding
            raise ConfigError([_undecodable(path, file)]) from None
        except csv.Error as exc:  # a field past the csv module's size limit, say
            raise ConfigError([ConfigIssue(file, reader.line_num, "<row>", f"not CSV: {exc}")]) from None
    if issues:
        raise ConfigError(issues)
    if not times:
        raise ConfigError([ConfigIssue(file, 2, "<trace>", "no samples after the header")])
    return np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)


def _undecodable(path: Path | str, file: str) -> ConfigIssue:
    """The first line that is not UTF-8 text, found by decoding line by line (the text reader decodes
    ahead of the line it hands out, so its position is not the line's)."""
    with open(path, "rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return ConfigIssue(file, number, "<trace>",
                                   f"not UTF-8 text (byte {line[exc.start]:#04x} at column {exc.start + 1}); "
                                   "a trace is a `timestamp,value` CSV file")
    return ConfigIssue(file, 0, "<trace>", "not UTF-8 text; a trace is a `timestamp,value` CSV file")


def _read_rows(reader: Any, file: str, times: list[float], values: list[float], issues: list[ConfigIssue]) -> None:
    """The header and the rows of a trace, into `times` and `values`, each defect into `issues`."""
    header = next(reader, None)
    if header is None:
        raise ConfigError([ConfigIssue(file, 1, "<trace>", "empty file; expected a `timestamp,value` header")])
    if [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
        issues.append(ConfigIssue(file, 1, "<header>", "expected the header `timestamp,value`"))
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            issues.append(ConfigIssue(file, line, "<row>", f"expected 2 columns, got {len(row)}"))
            continue
        try:
            when = _parse_time(row[0])
        except ValueError:
            issues.append(ConfigIssue(file, line, "timestamp", f"{row[0]!r} is not an ISO-8601 time"))
            continue
        try:
            value = float(row[1])
        except ValueError:
            issues.append(ConfigIssue(file, line, "value", f"{row[1]!r} is not a number"))
            continue
        if not math.isfinite(value):
            issues.append(ConfigIssue(file, line, "value", f"{row[1]!r} is not a finite number"))
            continue
        if value < 0:
            issues.append(ConfigIssue(file, line, "value", f"{value} is negative; demand cannot be"))
            continue
        if times and when <= times[-1]:
            issues.append(ConfigIssue(file, line, "timestamp", "not after the previous row (rows must be sorted)"))
            continue
        if times and when - times[0] > MAX_SPAN_DAYS * 86400:  # resampling allocates one slot per step
            issues.append(ConfigIssue(file, line, "timestamp",
                                      f"more than {MAX_SPAN_DAYS} days after the first row"))
            continue
        times.append(when)
        values.append(value)
        if len(issues) >= 20:
            break


def resample(times: npt.NDArray[np.float64], values: npt.NDArray[np.float64], step: int = STEP_SECONDS) -> (
    npt.NDArray[np.float64]
):
    """Demand per step from step 0 at the first sample (docs/benchmarks.md §1): the mean of the samples inside
    a step; a step that holds no sample (the trace is coarser there) keeps the last sample before it.

    Holding, not interpolating: a value between two coarse samples drawn from the next one would put the
    future into the minutes before it, and a live controller only ever has the newest sample it was sent.
    """
    offsets = times - times[0]
    count = int(offsets[-1] // step) + 1
    index = (offsets // step).astype(np.int64)
    sums = np.bincount(index, weights=values, minlength=count)
    hits = np.bincount(index, minlength=count)
    starts = np.arange(count, dtype=np.float64) * step
    held = np.searchsorted(offsets, starts, side="right") - 1  # the newest sample at or before each step's start
    out = values[np.maximum(held, 0)].astype(np.float64)
    filled = hits > 0
    out[filled] = sums[filled] / hits[filled]
    return out


def load_trace(path: Path | str, step: int = STEP_SECONDS) -> Trace:
    times, values = read_samples(path)
    spacing = float(np.median(np.diff(times))) if times.size > 1 else float(step)
    return Trace(Path(path).stem, datetime.fromtimestamp(times[0], UTC), resample(times, values, step), step,
                 spacing)


def default_traces_dir() -> Path:
    """`TENANTOPS_TRACES`, else the recorded traces the repository carries (`data/traces/`, found from this
    package, so the default is the same from any working directory)."""
    env = os.environ.get(TRACES_ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "data" / "traces").is_dir():
            return parent / "data" / "traces"
    return here.parents[3] / "data" / "traces"


def list_traces(directory: Path | str) -> list[Path]:
    """The top-level `*.csv` traces of a folder (sub-folders hold other benchmarks' data)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError([ConfigIssue(str(root), 0, "--traces", "traces folder does not exist")])
    found = sorted(p for p in root.glob("*.csv") if p.is_file())
    if not found:
        raise ConfigError([ConfigIssue(str(root), 0, "--traces", "no *.csv traces in this folder")])
    return found
