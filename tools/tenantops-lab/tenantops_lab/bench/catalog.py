"""How long the one loader takes on a large catalogue: onboarding thousands of tenants must stay instant."""

from __future__ import annotations

import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import click
import yaml

from tenantops.cli.options import echo_json
from tenantops.cli.progress import Progress
from tenantops.config import load_config
from tenantops.config.paths import repository_path

_TIERS = ("free", "pro", "enterprise")
_REGIONS = ("us-east-1", "eu-west-1", "eu-central-1")


def synthetic_catalog(tenants: int) -> dict[str, Any]:
    """A valid catalogue of `tenants` entries across tiers and isolation models (for scale tests only)."""
    out = []
    for i in range(tenants):
        tier = _TIERS[i % 3]
        out.append({
            "id": f"t{i:05d}",
            "tier": tier,
            "isolation": "silo" if tier == "enterprise" and i % 2 else "pool",
            "region": _REGIONS[i % 3],
            "budget_usd_month": 100 + i % 900,
            "contacts": [f"ops{i}@customer{i}.example"],
            "workloads": [
                {"name": "api", "min_replicas": 1, "max_replicas": 20},
                {"name": "worker", "min_replicas": 0 if tier == "free" else 1, "max_replicas": 10},
                {"name": "web", "min_replicas": 1, "max_replicas": 10},
            ],
        })
    return {"environment": "bench", "tenants": out}


@click.command("catalog")
@click.option("--tenants", "counts", multiple=True, type=click.IntRange(1, 200_000), default=(1000, 5000),
              show_default=True, help="Catalogue sizes to load (repeatable).")
@click.option("--policies", type=click.Path(exists=True, file_okay=False), default=repository_path("policies"),
              help="Policy directory (default: the repository's, from any directory).")
@click.option("--repeat", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Timed loads per size (the median is reported).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def command(counts: tuple[int, ...], policies: str, repeat: int, as_json: bool) -> None:
    """Time loading and validating synthetic catalogues of N tenants (median of --repeat runs)."""
    rows = []
    progress = Progress("bench catalog", len(counts))
    progress.start(f"{len(counts)} catalogue sizes, each loaded {repeat}x")
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            path = Path(tmp) / f"catalog-{n}.yaml"
            path.write_text(yaml.safe_dump(synthetic_catalog(n), sort_keys=False), encoding="utf-8")
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                load_config(path, policies)
                times.append(time.perf_counter() - start)
            tracemalloc.start()
            load_config(path, policies)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows.append({"tenants": n, "median_seconds": round(statistics.median(times), 3),
                         "peak_mib": round(peak / 2**20, 1)})
            progress.step(f"{n} tenants")
            if not as_json:
                click.echo(f"{n:>7} tenants: load+validate {rows[-1]['median_seconds']:.3f} s "
                           f"(median of {repeat}), peak {rows[-1]['peak_mib']} MiB", err=False)
    if as_json:
        echo_json({"benchmark": "catalog", "rows": rows})
