"""Compressed time for the demo: policy durations shrink by the factor the traces are sped up by.

When one trace minute plays in one wall second, a 300 s scale-down stabilisation window must last 5 s,
or a few-minute demo would never scale anything down. The demo therefore runs on a copy of the policies
and the catalogue in which:

- every `*_seconds` duration of a ScalingPolicy (and of a tenant's `overrides.scaling`) is divided by the
  factor (at least 1 s where the schema requires a positive value);
- the ControllerPolicy runs a pass every `interval` wall seconds without jitter;
- the range windows of the MetricsPolicy queries (`rate(...[2m])`) shrink too, but never below four
  scrapes, so a rate still has samples to work on.

Staleness limits stay in wall time: they judge how old a Prometheus sample is, and samples are wall-time.
Everything else is copied unchanged, and the result is loaded by the normal loader, so it is validated
like any policy set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

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
    """One policy document in compressed time (documents of other kinds are returned unchanged)."""
    out = dict(doc)
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        return out
    kind = doc.get("kind")
    if kind == "ScalingPolicy":
        out["spec"] = compress_durations(spec, factor)
    elif kind == "ControllerPolicy":
        out["spec"] = {**spec, "interval_seconds": interval, "jitter_seconds": 0}
    elif kind == "MetricsPolicy":
        queries = spec.get("queries")
        if isinstance(queries, Mapping):
            floor = 4 * scrape_seconds
            out["spec"] = {**spec, "queries": {
                name: compress_ranges(q, factor, floor) if isinstance(q, str) else q for name, q in queries.items()}}
    return out


def write_compressed(policies: Path, catalog: Path, out_dir: Path, factor: float, *, interval: float,
                     scrape_seconds: float) -> tuple[Path, Path]:
    """Write the compressed policy folder and catalogue under `out_dir`; returns (catalog, policies) paths."""
    policy_out = out_dir / "policies"
    policy_out.mkdir(parents=True, exist_ok=True)
    header = f"# Demo copy in compressed time: durations divided by {factor:g} (see tenantops.demo.timescale).\n"
    files = sorted(p for p in policies.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        converted = [compress_document(d, factor, interval=interval, scrape_seconds=scrape_seconds)
                     if isinstance(d, Mapping) else d for d in docs]
        target = policy_out / path.relative_to(policies)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(header + yaml.safe_dump_all(converted, sort_keys=False, width=200))
    data = yaml.safe_load(catalog.read_text())
    for tenant in data.get("tenants") or []:
        overrides = tenant.get("overrides") if isinstance(tenant, dict) else None
        if isinstance(overrides, dict) and isinstance(overrides.get("scaling"), Mapping):
            overrides["scaling"] = compress_durations(overrides["scaling"], factor)
    catalog_out = out_dir / "catalog.yaml"
    catalog_out.write_text(header + yaml.safe_dump(data, sort_keys=False, width=200))
    return catalog_out, policy_out
