"""One composition root: `tenantops run` and `tenantops reconcile --once` build the same controller
(deciders, pass inputs, actuators, hooks), as `engine.root.build_controller` reports when it is built."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tenantops.cli.main import cli
from tenantops_lab.sandbox.ports import free_port

pytestmark = pytest.mark.integration


def _built(caplog: pytest.LogCaptureFixture, args: list[str]) -> dict[str, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tenantops.engine.root"):
        result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    built = [r for r in caplog.records if getattr(r, "event", None) == "controller.built"]
    assert len(built) == 1, result.output
    controller: dict[str, list[str]] = built[0].controller  # type: ignore[attr-defined]
    return controller


@pytest.mark.parametrize("dry_run", [False])
def test_run_and_reconcile_once_build_the_same_controller(
    config_files: tuple[Path, Path], kube_api: Any, moto_server: Any, prometheus: Any, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, dry_run: bool,
) -> None:
    catalog, policies = config_files
    server = prometheus()
    common = ["--catalog", str(catalog), "--policies", str(policies), "--state", str(tmp_path / "state.db"),
              "--kube-url", kube_api.url, "--aws-endpoint-url", moto_server.endpoint_url,
              "--prometheus-url", server.url, *(["--dry-run"] if dry_run else [])]
    once = _built(caplog, ["reconcile", "--once", "--json", *common])
    loop = _built(caplog, ["run", *common, "--http-host", "127.0.0.1", "--http-port", str(free_port()),
                           "--max-passes", "1"])
    assert once == loop
    assert once["deciders"] == ["facts", "autoscaling", "rightsizing", "cost", "reports"]
    # right-sizing has its history in both, the cost decider its interval's network egress
    assert once["inputs"] == ["committed_spend", "network_egress", "usage_history"]
    assert once["actuators"] == ["asg", "kubernetes", "report", "requests"]  # reports: into the store's outbox
    hooks = set(once["on_pass"])
    assert "export_cost" in hooks
    assert ({"route_alerts", "deliver_mail"} <= hooks) is not dry_run  # alerts routed unless dry
    assert "queue_reports" not in hooks  # the report is an effect of the pass, rendered by the delivery run
