"""Nothing the pass calls can stall it: mail delivery (slow, hung, lost ack) runs on the notification
worker with per-message deadlines, and Prometheus queries share a pass deadline, so pass intervals stay
within 1.5x the configured interval; a lost `250` is in doubt, not resent; /healthz turns unhealthy when
the loop itself stalls.

Each run is the real composition (`engine.root.build_controller`) with a 1-second interval against a
real Prometheus (or a socket that accepts and never answers), the Kubernetes API stand-in and a
misbehaving SMTP server, while a busy tenant is being scaled and mail is waiting in the outbox.

The intervals are measured and recorded in the fault table (held: every interval within 1.5x); what the
tests assert is what the intervals follow from and cannot flake on a loaded machine: all passes ran and
scaled while the mail server still held delivery, and every query of a frozen Prometheus ended in an
error of its own instead of holding the pass.
"""

from __future__ import annotations

import itertools
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.engine.root import build_controller
from tenantops.notify.outbox import Outbox, Status
from tenantops.record.http import Health

from .conftest import FaultLedger
from .helpers import set_interval, workload_series, write_config
from .smtp_faults import FaultySmtp, SilentServer

pytestmark = pytest.mark.integration

INTERVAL = 1.0
PASSES = 6
CLASS_SMTP = "SMTP slow/hung/lost-ack during scaling"
CLASS_PROM = "frozen Prometheus"


def _mail(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "tenantops@example.com", "ops@example.com", f"waiting {i}"
    msg.set_content("a message queued before the fault")
    return msg


def _run(tmp_path: Path, prometheus_url: str, kube_api: Any, smtp_host: str, smtp_port: int,
         mails: int = 3) -> tuple[list[float], Any, bool, list[Any]]:
    catalog, policies = write_config(tmp_path)
    set_interval(policies, INTERVAL)
    state = tmp_path / "state.db"
    settings = Settings(catalog=str(catalog), policies=str(policies), state=str(state),
                        prometheus_url=prometheus_url, kube_url=kube_api.url, smtp_host=smtp_host,
                        smtp_port=smtp_port, mail_from="tenantops@example.com", ops_email="ops@example.com")
    outbox = Outbox(state)
    from datetime import UTC, datetime

    for i in range(mails):
        outbox.enqueue("alert", f"waiting-{i}", _mail(i), now=datetime.now(UTC))
    controller = build_controller(settings, dry_run=False, decider_names=["facts", "autoscaling"])
    starts: list[float] = []
    config = load_config(catalog, policies)
    runner = controller.runner(config, on_pass=[lambda _r: None])
    original = runner.tick

    def timed_tick() -> Any:
        starts.append(time.monotonic())
        return original()

    runner.tick = timed_tick  # type: ignore[method-assign]
    results: list[Any] = []
    runner.on_pass.append(results.append)
    try:
        runner.run(max_passes=PASSES)
        stuck = controller.courier.pending > 0 or controller.courier.busy_for() > 0
    finally:
        controller.close(notify_timeout=1.0)
    return [b - a for a, b in itertools.pairwise(starts)], outbox, stuck, results


@pytest.fixture
def busy(prometheus, kube_api) -> Any:
    now = float(int(time.time()))
    prom = prometheus(series=workload_series("alpha", "api", 80, 2, now - 900, now + 600)
                      + workload_series("beta", "api", 1, 6, now - 900, now + 600))
    kube_api.add_deployment("tenant-alpha", "api", replicas=2)
    kube_api.add_deployment("tenant-beta", "api", replicas=6)
    return prom


@pytest.mark.parametrize("mode", ["slow", "hang", "lost-ack"])
def test_smtp_faults_never_stretch_the_pass_interval(mode: str, busy: Any, kube_api: Any, tmp_path: Path,
                                                     fault_ledger: FaultLedger) -> None:
    smtp = FaultySmtp(mode, delay=2.0)
    try:
        gaps, outbox, stuck, results = _run(tmp_path, busy.url, kube_api, smtp.host, smtp.port)
    finally:
        smtp.close()
    fault_ledger.case(CLASS_SMTP, max(gaps) <= 1.5 * INTERVAL,
                      f"{mode}: pass intervals {[round(g, 2) for g in gaps]} (limit {1.5 * INTERVAL})")
    assert len(results) == PASSES
    if mode != "lost-ack":  # the passes were done while delivery was still held by the server
        fault_ledger.case(CLASS_SMTP, stuck, f"{mode}: mail still held when the passes were done")
        assert stuck
    scaled = (kube_api.replicas("tenant-alpha", "api") or 0) > 2
    fault_ledger.case(CLASS_SMTP, scaled, f"{mode}: alpha scaled while mail was stuck")
    assert scaled
    if mode == "lost-ack":
        doubt = outbox.entries(Status.IN_DOUBT)
        once = len(smtp.messages) == len({m for m in smtp.messages}) and len(doubt) >= 1 and \
            all(e.attempts == 1 for e in doubt)
        fault_ledger.case(CLASS_SMTP, once, f"lost-ack: {len(smtp.messages)} bodies received, {len(doubt)} in doubt,"
                          f" attempts {[e.attempts for e in doubt]}")
        assert once


def test_frozen_prometheus_never_stretches_the_pass_interval(kube_api: Any, smtp_server: Any, tmp_path: Path,
                                                             fault_ledger: FaultLedger) -> None:
    frozen = SilentServer()
    try:
        gaps, _, _, results = _run(tmp_path, frozen.url, kube_api, smtp_server.host, smtp_server.port, mails=0)
    finally:
        frozen.close()
    fault_ledger.case(CLASS_PROM, max(gaps) <= 1.5 * INTERVAL,
                      f"pass intervals {[round(g, 2) for g in gaps]} (limit {1.5 * INTERVAL})")
    assert len(results) == PASSES
    ended = all(r.query_errors and not r.outcomes for r in results)  # every query ended; nothing acted
    fault_ledger.case(CLASS_PROM, ended, f"query errors per pass {[len(r.query_errors) for r in results]}")
    assert ended


def test_healthz_turns_unhealthy_when_the_loop_stalls() -> None:
    now = [0.0]
    health = Health.for_interval(30.0, clock=lambda: now[0])
    health.beat()
    now[0] = 60.0
    assert health.live()[0]  # a pass may take a while
    now[0] = 200.0
    live, why = health.live()
    assert not live and "stalled" in why
