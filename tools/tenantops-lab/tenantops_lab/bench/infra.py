"""`tenantops bench infra`: run the real Pulumi program under mocks for N tenants and print the time.

Onboarding must stay a catalogue line at any scale; this measures what one `pulumi up` costs the program
itself (registering every tenant's resources, policy documents included) without the engine or a cloud.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import click
import yaml

from tenantops.cli.options import echo_json
from tenantops.cli.progress import Progress
from tenantops_lab.bench.catalog import synthetic_catalog

PROJECT_ROOT = Path(__file__).resolve().parents[4]


def _mocked() -> Any:
    """The program's mock runner lives beside the program (`infra/`), which is not an installed package."""
    infra = PROJECT_ROOT / "infra"
    if not (infra / "__main__.py").is_file():
        raise click.ClickException(f"the Pulumi program was not found under {infra}")
    if str(infra) not in sys.path:
        sys.path.insert(0, str(infra))
    import tenantops_infra.mocked as mocked

    return mocked


def _isolation(mocked: Any, catalog: str, policies: str) -> dict[str, Any]:
    """Run the program for `catalog`, then the isolation proof on a fresh local moto server."""
    from tenantops_infra.isolation import grants_from_run, prove_on_moto_server
    from tenantops_lab.sandbox.moto_server import FAKE_CREDENTIALS, MotoServer

    run = mocked.run_program({"tenantops:catalog": str(Path(catalog).resolve()), "tenantops:policies": policies})
    grants = grants_from_run(run)
    with MotoServer() as server:
        report = prove_on_moto_server(grants, server.endpoint_url, FAKE_CREDENTIALS, server.region)
    return {
        "catalog": catalog,
        "tenants": len(grants),
        "cross_attempts": report.cross_attempts,
        "cross_denied": report.cross_denied,
        "denied_percent": round(report.denied_percent, 2),
        "own_attempts": report.own_attempts,
        "own_allowed": report.own_allowed,
        "leaks": report.leaks,
    }


@click.command("infra")
@click.option("--tenants", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Synthetic catalogue size (a third each free/pro/enterprise, some enterprise as silo).")
@click.option("--policies", type=click.Path(exists=True, file_okay=False), default=str(PROJECT_ROOT / "policies"),
              help="Policy directory (default: the repository's, from any directory).")
@click.option("--memory", is_flag=True, help="Also trace peak Python memory (slower).")
@click.option("--isolation", "isolation_catalog", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Also prove tenant isolation for this catalogue in a local moto server with IAM enforcement "
                   "(every tenant's role tries read/write/list/delete on every tenant's bucket).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def command(tenants: int, policies: str, memory: bool, isolation_catalog: str | None, as_json: bool) -> None:
    """Time the Pulumi program for N tenants under Pulumi mocks and count the resources it registers."""
    mocked = _mocked()
    progress = Progress("bench infra", 2 if isolation_catalog else 1)
    isolation = None
    if isolation_catalog:
        progress.start(f"isolation proof for {isolation_catalog} on moto")
        isolation = _isolation(mocked, isolation_catalog, policies)
        progress.step("isolation proof")
    progress.start(f"the Pulumi program for {tenants} tenants under mocks")
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "catalog.yaml"
        catalog.write_text(yaml.safe_dump(synthetic_catalog(tenants), sort_keys=False), encoding="utf-8")
        if memory:
            tracemalloc.start()
        start = time.perf_counter()
        run = mocked.run_program({"tenantops:catalog": str(catalog), "tenantops:policies": policies}, stack="bench")
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if memory else None
        if memory:
            tracemalloc.stop()
    progress.step(f"{tenants} tenants")
    custom = [r for r in run.resources if r.custom]
    kinds = Counter(r.type for r in custom)
    models = Counter(t["isolation"] for t in run.outputs["tenants"].values())
    result = {
        "benchmark": "infra",
        "tenants": tenants,
        "tenants_exported": len(run.outputs["tenants"]),
        "pool_tenants": models.get("pool", 0),
        "silo_tenants": models.get("silo", 0),
        "resources": len(custom),
        "components": len(run.resources) - len(custom),
        "seconds": round(seconds, 2),
        "ms_per_tenant": round(1000 * seconds / tenants, 1),
        "resources_per_second": round(len(custom) / seconds, 1),
        "peak_mib": round(peak / 2**20, 1) if peak is not None else None,
        "top_resource_types": dict(kinds.most_common(8)),
        "isolation": isolation,
    }
    if as_json:
        echo_json(result)
        return
    click.echo(f"{tenants} tenants ({result['pool_tenants']} pool, {result['silo_tenants']} silo): "
               f"{result['resources']} resources + {result['components']} components registered in "
               f"{result['seconds']:.2f} s under Pulumi mocks ({result['ms_per_tenant']} ms/tenant, "
               f"{result['resources_per_second']} resources/s)"
               + (f", peak {result['peak_mib']} MiB" if peak is not None else ""))
    if isolation is not None:
        click.echo(f"isolation ({isolation['catalog']}, {isolation['tenants']} tenants, moto with IAM enforcement): "
                   f"cross-tenant attempts denied {isolation['cross_denied']}/{isolation['cross_attempts']} "
                   f"({isolation['denied_percent']:.1f}%), own-bucket attempts allowed "
                   f"{isolation['own_allowed']}/{isolation['own_attempts']}")
