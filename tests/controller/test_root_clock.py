"""One clock per controller: the composition root gives the runner and the metrics source the same one,
so Prometheus' clock is measured against the clock the passes run on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.engine.root import build_controller
from tenantops.observe.prometheus import PrometheusSource


def test_the_runner_and_the_metrics_source_share_the_injected_clock(config_files: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    catalog, policies = config_files

    def behind() -> datetime:
        return datetime.now(UTC) - timedelta(minutes=2)

    settings = Settings(catalog=str(catalog), policies=str(policies), state=str(tmp_path / "state.db"),
                        prometheus_url="http://127.0.0.1:9")
    controller = build_controller(settings, dry_run=True, decider_names=["facts", "autoscaling"], clock=behind)
    try:
        source = controller.reconciler.source
        assert isinstance(source, PrometheusSource) and source.clock is behind
        assert controller.runner(load_config(catalog, policies)).clock is behind
    finally:
        controller.close(notify_timeout=0.1)
