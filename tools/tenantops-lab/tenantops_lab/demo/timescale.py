"""The demo's copy of the policies: the controller runs on trace time, Prometheus on wall time.

The controller's clock is the replay's (`demo.clock`): a wall second is `factor` trace seconds, so every
policy duration it decides with (stabilisation windows, start-up time, rate limits, cost per hour, alert
timers) keeps its value. Two things are measured on the wall clock and change in the copy:

- the range windows of the MetricsPolicy queries (`rate(...[2m])`) are evaluated by Prometheus over wall
  time, so they shrink by `factor`, but never below four scrapes, so a rate still has samples to work on;
- the ControllerPolicy runs a pass every `interval` wall seconds without jitter.

AlertPolicy routes keep only `email`: the demo runs a mail server, not a webhook receiver or Alertmanager.
RightsizingPolicy `mode: apply` becomes `recommend`: the simulator's pods do not take patched requests.

Staleness limits stay as they are: they judge how old a Prometheus sample is, and samples are wall-time.

`write_history_config` writes the copy the cost passes over the backfilled history run on: the policies
unchanged (that history is stored at trace time), except that a pass may charge a whole hour
(`max_pass_gap_seconds`), since those passes are an hour apart by design.

`compress_durations` remains for duration values the demo must express in wall time. Everything is
copied through the normal loader, so the copy is validated like any policy set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tenantops.config.loader import policy_files

_POSITIVE = {"period_seconds"}
_WALL_TIME = {"stale_after_seconds"}
_RANGE = re.compile(r"\[(\d+(?:\.\d+)?)(ms|s|m|h|d)\]")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def compress_durations(spec: Any, factor: float) -> Any:
    """A copy of `spec` with every `*_seconds` value divided by `factor` (rounded; see module notes)."""
    if isinstance(spec, Mapping):
        out: dict[str, Any] = {}
        for key, value in spec.items():
            if (isinstance(key, str) and key.endswith("_seconds") and key not in _WALL_TIME
                    and isinstance(value, int | float) and not isinstance(value, bool)):
                scaled = round(value / factor)
                out[key] = max(1, scaled) if key in _POSITIVE else max(0, scaled)
            else:
                out[key] = compress_durations(value, factor)
        return out
    if isinstance(spec, list):
        return [compress_durations(item, factor) for item in spec]
    return spec


def compress_ranges(query: str, factor: float, floor_seconds: float) -> str:
    """`rate(x[2m])` -> `rate(x[8s])`: PromQL range windows divided by `factor`, at least `floor_seconds`."""

    def shrink(match: re.Match[str]) -> str:
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
        return f"[{max(math.ceil(floor_seconds), math.ceil(seconds / factor))}s]"

    return _RANGE.sub(shrink, query)


def compress_document(doc: Mapping[str, Any], factor: float, *, interval: float, scrape_seconds: float) -> (
        dict[str, Any]):
    """One policy document for a controller on trace time reading a wall-time Prometheus (see module)."""
    out = dict(doc)
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        return out
    kind = doc.get("kind")
    if kind == "RightsizingPolicy" and spec.get("mode") == "apply":
        # The simulated pods keep the requests they were planned with; a patched request would make the
        # controller divide real usage by a request no pod has. The demo recommends (and the report prices).
        out["spec"] = {**spec, "mode": "recommend"}
    elif kind == "AlertPolicy" and isinstance(spec.get("routes"), list):
        # The demo has a mail server but no webhook receiver or Alertmanager: alerts go by email only.
        out["spec"] = {**spec, "routes": [r for r in spec["routes"] if r == "email"] or ["email"]}
    elif kind == "ControllerPolicy":
        out["spec"] = {**spec, "interval_seconds": interval, "jitter_seconds": 0}
    elif kind == "MetricsPolicy":
        queries = spec.get("queries")
        if isinstance(queries, Mapping):
            floor = 4 * scrape_seconds
            out["spec"] = {**spec, "queries": {
                name: compress_ranges(q, factor, floor) if isinstance(q, str) else q for name, q in queries.items()}}
    return out


def _write(policies: Path, catalog: Path, out_dir: Path, header: str,
           convert: Callable[[Mapping[str, Any]], dict[str, Any]]) -> tuple[Path, Path]:
    policy_out = out_dir / "policies"
    policy_out.mkdir(parents=True, exist_ok=True)
    files = policy_files(policies)
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        converted = [convert(d) if isinstance(d, Mapping) else d for d in docs]
        target = policy_out / path.relative_to(policies)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(header + yaml.safe_dump_all(converted, sort_keys=False, width=200))
    catalog_out = out_dir / "catalog.yaml"
    catalog_out.write_text(header + catalog.read_text())
    return catalog_out, policy_out


def write_compressed(policies: Path, catalog: Path, out_dir: Path, factor: float, *, interval: float,
                     scrape_seconds: float) -> tuple[Path, Path]:
    """Write the live copy of the policy folder and catalogue under `out_dir`; returns (catalog, policies)."""
    header = (f"# Demo copy: the controller runs on trace time ({factor:g} trace seconds per wall second); "
              f"query ranges are in wall time (see tenantops_lab.demo.timescale).\n")
    return _write(policies, catalog, out_dir, header, lambda d: compress_document(
        d, factor, interval=interval, scrape_seconds=scrape_seconds))


def write_history_config(policies: Path, catalog: Path, out_dir: Path, *, pass_seconds: float) -> tuple[Path, Path]:
    """Write the copy the hourly cost passes over backfilled history use; returns (catalog, policies)."""

    def convert(doc: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(doc)
        spec = doc.get("spec")
        if doc.get("kind") == "CostAllocation" and isinstance(spec, Mapping):
            gap = spec.get("max_pass_gap_seconds")
            current = gap if isinstance(gap, int | float) and not isinstance(gap, bool) else 0
            out["spec"] = {**spec, "max_pass_gap_seconds": max(int(current), math.ceil(pass_seconds))}
        return out

    header = "# Demo copy for the cost passes over backfilled history (see tenantops_lab.demo.timescale).\n"
    return _write(policies, catalog, out_dir, header, convert)
