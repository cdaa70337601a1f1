"""Shared builders for the fault suite: a small pooled catalogue, its policies, and backfill series."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tenantops_lab.sandbox.lifetime import bound_to_parent
from tenantops_lab.sandbox.prometheus import Series

REPO = Path(__file__).resolve().parents[2]
POD = "{workload}-7d9f8b6c5-x2x9k"

TENANTS: list[dict[str, Any]] = [
    {"id": "alpha", "tier": "pro", "isolation": "pool", "region": "us-east-1", "budget_usd_month": 500,
     "contacts": ["ops@alpha.example"], "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 20}]},
    {"id": "beta", "tier": "pro", "isolation": "pool", "region": "us-east-1", "budget_usd_month": 500,
     "contacts": ["ops@beta.example"], "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 20}]},
]


def dump_yaml(data: Any) -> str:
    """`yaml.safe_dump(data, sort_keys=False)`, through libyaml's emitter where PyYAML has it (the same text,
    a few times faster: the suite writes catalogues of thousands of tenants)."""
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def write_config(directory: Path, tenants: list[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    """A catalogue of `tenants` (default: alpha and beta, both pooled) and a copy of the policies."""
    policies = directory / "policies"
    shutil.copytree(REPO / "policies", policies)
    catalog = directory / "catalog.yaml"
    catalog.write_text(dump_yaml({"environment": "test", "tenants": tenants or TENANTS}))
    return catalog, policies


def set_interval(policies: Path, seconds: float) -> None:
    """Run the controller every `seconds`, without jitter (the ControllerPolicy in a copy of the policies)."""
    path = policies / "reports.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "ControllerPolicy":
            doc["spec"]["interval_seconds"] = seconds
            doc["spec"]["jitter_seconds"] = 0
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def _ramp(start: float, end: float, value: Any) -> list[tuple[float, float]]:
    out, t = [], start
    while t <= end:
        out.append((t, float(value(t))))
        t += 15
    return out


def workload_series(tenant: str, workload: str, rate: float, replicas: int, start: float, end: float,
                    cpu_per_replica: float = 0.2) -> list[Series]:
    """Everything the default MetricsPolicy reads for one pooled workload, constant over [start, end]
    (each replica requests 0.25 cores and uses `cpu_per_replica`)."""
    ns, pod = f"tenant-{tenant}", POD.format(workload=workload)
    cont = {"namespace": ns, "pod": pod, "container": "app"}
    return [
        Series("http_requests_total", {"tenant": tenant, "workload": workload}, _ramp(start, end,
                                                                                     lambda t: rate * (t - start))),
        Series("kube_deployment_spec_replicas", {"namespace": ns, "deployment": workload},
               _ramp(start, end, lambda t: replicas)),
        Series("kube_deployment_status_replicas_ready", {"namespace": ns, "deployment": workload},
               _ramp(start, end, lambda t: replicas)),
        Series("container_cpu_usage_seconds_total", cont,
               _ramp(start, end, lambda t: cpu_per_replica * replicas * (t - start))),
        Series("container_memory_working_set_bytes", cont, _ramp(start, end, lambda t: 2.0**28 * replicas)),
        Series("kube_pod_container_resource_requests", {**cont, "resource": "cpu"},
               _ramp(start, end, lambda t: 0.25 * replicas)),
        Series("kube_pod_container_resource_requests", {**cont, "resource": "memory"},
               _ramp(start, end, lambda t: 2.0**28 * replicas)),
    ]


def tenantops_command(*args: str) -> list[str]:
    """The command line of `tenantops ARGS` in this interpreter, started so that the controller is signalled
    (SIGTERM) when the test run that started it dies: a run killed by SIGKILL, an OOM kill or a cancelled CI
    job leaves no controller behind, as it leaves no server (`lifetime.bound_to_parent`, main thread only)."""
    return bound_to_parent([sys.executable, "-m", "tenantops.cli.main", *args])


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM `proc` and wait; SIGKILL it if it has not exited within `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_passes(controller: Any, catalog: Path, policies: Path, passes: int, on_pass: list[Any]) -> None:
    """`tenantops run`'s loop for `passes` passes on the composition root's controller, then its shutdown
    (outbox delivery given 10 s), as the command does."""
    from tenantops.config import load_config

    runner = controller.runner(load_config(catalog, policies), on_pass=on_pass)
    try:
        runner.run(max_passes=passes)
    finally:
        controller.close(notify_timeout=10.0)
