"""Clock skew both ways: the controller judges freshness by Prometheus' clock, not its own.

A real Prometheus scrapes a live exporter every second (so every sample carries Prometheus' own time);
the controller runs whole passes (facts, autoscaling, the alert lifecycle, the Kubernetes API stand-in)
on an injected clock that is right, 2 minutes behind Prometheus', or 10 minutes ahead. Its metrics
source is given the same clock, as the composition root gives it the runner's.

What must hold, for each skew:
- every pass reads current data: its queries are evaluated at Prometheus' now (within a few seconds of
  a `time()` read straight from Prometheus right after the pass), never two minutes in the past (old
  data taken as fresh) nor ten in the future (nothing found: blind);
- a load step is acted on at the first pass after Prometheus shows it, as without skew;
- a skew beyond the tolerance is exactly one notification (`controller-clock-skew`) over all passes and
  nothing else is raised; it resolves once the clock is right again. No skew, no alert;
- a pass in which Prometheus' time cannot be read (an error, or no answer) keeps the last offset and
  says so, so the alert neither resolves nor fires again over an outage.

And through the whole composition (`tenantops run`'s controller: composition root, runner loop, alert
mail to a real SMTP server), ten minutes ahead: the busy workload is scaled and the alert mails are the
skew alert and its resolve, over ten passes.

The seconds from "Prometheus shows the step" to "the stand-in received the write" are printed and kept
in the fault ledger's details for each skew; the test asserts passes, not seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tenantops.act.kubernetes import KubernetesActuator
from tenantops.config import load_config
from tenantops.config.settings import Settings
from tenantops.decide.autoscaling.decider import AutoscalingDecider
from tenantops.decide.facts import CLOCK_SKEW_KEY, FactsDecider, clock_skew_alert
from tenantops.engine.reconcile import Reconciler
from tenantops.engine.root import build_controller, register_actuators
from tenantops.observe.kube_replicas import KubeReplicaReader
from tenantops.observe.prometheus import PrometheusSource
from tenantops.observe.replicas import LiveReplicas
from tenantops.record.store import StateStore
from tenantops.structs.plan import TargetKind

from .conftest import FaultLedger
from .helpers import run_passes, set_interval, write_config
from .live_exporter import LiveExporter
from .proxy import FaultProxy

pytestmark = pytest.mark.integration

CLASS = "clock skew both ways"
LIVE = 2
# Requests per second: 10 per replica, then far over the 50 per replica target (so far that rate()[2m],
# which divides by the whole window, shows it a few scrapes after the step on a series seconds old).
LOW, HIGH = 20.0, 20000.0
SHOWN = 5 * 50 * LIVE  # the request rate at which Prometheus "shows the step"
TENANT = [{"id": "alpha", "tier": "pro", "isolation": "pool", "region": "us-east-1", "budget_usd_month": 500,
           "contacts": ["ops@alpha.example"], "workloads": [{"name": "api", "min_replicas": 1, "max_replicas": 20}]}]
REQUESTS = 'sum(rate(http_requests_total{tenant="alpha"}[2m]))'
FIGURES: dict[float, float] = {}


class SkewedClock:
    """The controller's clock: the real one plus `skew` seconds (positive: ahead of Prometheus')."""

    def __init__(self, skew: float) -> None:
        self.skew = skew

    def __call__(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.skew)


def _prometheus_now(prom: Any) -> float:
    return float(prom.get_json("/api/v1/query", {"query": "time()"})["result"][0])


def _requests_rate(prom: Any) -> float:
    result = prom.query(REQUESTS)
    return float(result[0]["value"][1]) if result else 0.0


def _pass(reconciler: Reconciler, config: Any, clock: Callable[[], datetime], prom: Any) -> tuple[Any, float]:
    """One pass on the controller's clock; how far its evaluation was from Prometheus' now, in seconds."""
    result = reconciler.run_pass(config, clock())
    after = _prometheus_now(prom)
    evaluated = result.snapshot.clock.evaluated_at.timestamp() if result.snapshot.clock is not None else 0.0
    return result, after - evaluated


@pytest.mark.parametrize("skew", [0.0, -120.0, 600.0], ids=["none", "2min-behind", "10min-ahead"])
def test_freshness_is_judged_by_prometheus_clock(skew: float, prometheus: Any, kube_api: Any, tmp_path: Path,
                                                 fault_ledger: FaultLedger) -> None:
    kube_api.add_deployment("tenant-alpha", "api", replicas=LIVE)
    exporter = LiveExporter("alpha", "api", lambda: kube_api.replicas("tenant-alpha", "api") or 0, LOW)
    actuator = KubernetesActuator.connect(kube_api.url)
    try:
        prom = prometheus([exporter.target], scrape_interval="1s")
        assert prom.wait_for_series(REQUESTS, timeout=30), "the exporter was never scraped"
        time.sleep(3)  # a few samples in the rate windows
        config = load_config(*write_config(tmp_path, TENANT))
        tolerance = config.policies.controller.clock_skew_tolerance_seconds
        clock = SkewedClock(skew)
        source = PrometheusSource(prom.url, clock=clock)
        reader = KubeReplicaReader(actuator.apps)
        with StateStore(tmp_path / "state.db") as store:
            reconciler = Reconciler(source, store, [FactsDecider(), AutoscalingDecider()],
                                    register_actuators({TargetKind.KUBERNETES: actuator}),
                                    replica_reader=LiveReplicas.of({TargetKind.KUBERNETES: reader}))
            notifications: list[Any] = []
            lags: list[float] = []
            for _ in range(3):  # steady low load
                result, lag = _pass(reconciler, config, clock, prom)
                notifications += result.alerts
                lags.append(lag)
                time.sleep(1)
            quiet = kube_api.replicas("tenant-alpha", "api") == LIVE
            exporter.requests_per_second = HIGH
            deadline = time.monotonic() + 30
            while _requests_rate(prom) < SHOWN and time.monotonic() < deadline:
                time.sleep(0.2)
            visible = time.monotonic()
            passes_to_react = 0
            reacted_after = float("nan")
            for _ in range(5):
                result, lag = _pass(reconciler, config, clock, prom)
                notifications += result.alerts
                lags.append(lag)
                passes_to_react += 1
                if (kube_api.replicas("tenant-alpha", "api") or 0) > LIVE:
                    reacted_after = time.monotonic() - visible
                    break
                time.sleep(1)
            during = list(notifications)
            clock.skew = 0.0  # the time service is fixed
            resolved: list[Any] = []
            for _ in range(2):
                result, _lag = _pass(reconciler, config, clock, prom)
                resolved += result.alerts
    finally:
        actuator.close()
        exporter.close()

    FIGURES[skew] = reacted_after
    print(f"\nclock skew {skew:+.0f}s: scale-up {reacted_after:.2f}s after Prometheus showed the step "
          f"({passes_to_react} pass(es)); evaluation behind Prometheus' now by {min(lags):.2f}-{max(lags):.2f}s; "
          f"notifications during skew {[a.key for a in during]}, after {[(a.key, a.transition) for a in resolved]}")
    fresh = all(0 <= lag <= 5 for lag in lags)
    fault_ledger.case(CLASS, fresh, f"skew {skew:+.0f}s: evaluated {[round(x, 2) for x in lags]}s before "
                                    "Prometheus' now")
    assert fresh, lags
    fault_ledger.case(CLASS, quiet, f"skew {skew:+.0f}s: no write before the step")
    assert quiet
    prompt = passes_to_react == 1 and (kube_api.replicas("tenant-alpha", "api") or 0) > LIVE
    fault_ledger.case(CLASS, prompt, f"skew {skew:+.0f}s: scaled up at pass {passes_to_react} after the step was"
                                     f" visible, {reacted_after:.2f}s")
    assert prompt, passes_to_react
    expected = [CLOCK_SKEW_KEY] if abs(skew) > tolerance else []
    one = [a.key for a in during] == expected
    fault_ledger.case(CLASS, one, f"skew {skew:+.0f}s: notifications {[a.key for a in during]}")
    assert one, [a.summary for a in during]
    ends = [(a.key, a.transition) for a in resolved] == ([(CLOCK_SKEW_KEY, "resolve")] if expected else [])
    fault_ledger.case(CLASS, ends, f"skew {skew:+.0f}s: after the fix {[(a.key, a.transition) for a in resolved]}")
    assert ends


def test_ten_minutes_ahead_in_tenantops_run_scales_and_mails_one_alert(prometheus: Any, kube_api: Any,
                                                                        smtp_server: Any, tmp_path: Path,
                                                                        fault_ledger: FaultLedger) -> None:
    """The whole composition (`engine.root.build_controller` with the controller's clock injected, the
    runner's loop at a 1 s interval, alert mail through the outbox to a real SMTP server): ten minutes
    ahead of Prometheus it still scales a busy workload, and mails one skew alert and one resolve."""
    kube_api.add_deployment("tenant-alpha", "api", replicas=LIVE)
    exporter = LiveExporter("alpha", "api", lambda: kube_api.replicas("tenant-alpha", "api") or 0, HIGH)
    passes, fixed_after = 10, 7
    try:
        prom = prometheus([exporter.target], scrape_interval="1s")
        assert prom.wait_for_series(REQUESTS, timeout=30), "the exporter was never scraped"
        deadline = time.monotonic() + 30
        while _requests_rate(prom) < SHOWN and time.monotonic() < deadline:
            time.sleep(0.2)
        catalog, policies = write_config(tmp_path, TENANT)
        set_interval(policies, 1.0)
        settings = Settings(catalog=str(catalog), policies=str(policies), state=str(tmp_path / "state.db"),
                            prometheus_url=prom.url, kube_url=kube_api.url, smtp_host=smtp_server.host,
                            smtp_port=smtp_server.port, mail_from="tenantops@example.com",
                            ops_email="ops@example.com")
        clock = SkewedClock(600.0)
        controller = build_controller(settings, dry_run=False, decider_names=["facts", "autoscaling"], clock=clock)
        results: list[Any] = []

        def after(result: Any) -> None:
            results.append(result)
            if len(results) == fixed_after:
                clock.skew = 0.0  # the time service is fixed

        run_passes(controller, catalog, policies, passes, [after])
    finally:
        exporter.close()
    mails = smtp_server.messages
    alert_mails = [m for m in mails if str(m["Subject"]).startswith("[tenantops]")]  # not the weekly report
    subjects = [str(m["Subject"]) for m in alert_mails]
    print(f"\n10 minutes ahead, tenantops run: {len(results)} passes, replicas {LIVE} -> "
          f"{kube_api.replicas('tenant-alpha', 'api')}, {len(mails)} mails, alert mails {subjects}")
    scaled = (kube_api.replicas("tenant-alpha", "api") or 0) > LIVE
    fault_ledger.case(CLASS, scaled, f"run, 10 min ahead: replicas {kube_api.replicas('tenant-alpha', 'api')}")
    assert scaled
    bodies = [_text(m) for m in alert_mails]
    one = len(results) == passes and all(s.endswith(": controller-clock-skew") for s in subjects) and \
        len(bodies) == 2 and "Resolved" not in bodies[0] and "Resolved" in bodies[1]  # the alert, then its resolve
    fault_ledger.case(CLASS, one, f"run, 10 min ahead: {len(subjects)} alert mails over {len(results)} passes:"
                                  f" {subjects}")
    assert one, subjects


def _text(message: Any) -> str:
    part = message.get_body(("plain",)) if message.is_multipart() else message
    return str(part.get_content()) if part is not None else ""


@pytest.mark.parametrize("fault", ["500", "down"])
def test_an_unreadable_prometheus_clock_keeps_the_last_offset(fault: str, prometheus: Any, tmp_path: Path,
                                                              fault_ledger: FaultLedger) -> None:
    """A pass in which Prometheus' time cannot be read (an error answer, or no answer at all) keeps the
    offset last measured and says so, so the skew alert neither resolves nor fires again over an outage,
    and the next good pass measures again."""
    prom = prometheus()
    proxy = FaultProxy(prom.url).start()
    config = load_config(*write_config(tmp_path, TENANT))
    tolerance = config.policies.controller.clock_skew_tolerance_seconds
    clock = SkewedClock(-120.0)
    source = PrometheusSource(proxy.url, timeout=2, clock=clock)
    try:
        first = source.observe(config, clock())
        proxy.set(fault)
        now = clock()
        blind = source.observe(config, now)
        proxy.set("ok")
        again = source.observe(config, clock())
    finally:
        proxy.stop()
    assert first.clock is not None and again.clock is not None and first.clock.measured and again.clock.measured
    kept = blind.clock is not None and not blind.clock.measured and blind.clock.skew_seconds == first.clock.skew_seconds
    kept = kept and blind.clock is not None and \
        abs((blind.clock.evaluated_at - now).total_seconds() - 120) <= 2 and bool(blind.errors)
    alert = clock_skew_alert(blind.clock, tolerance)
    said = alert is not None and alert.key == CLOCK_SKEW_KEY and "as last measured" in alert.summary
    fault_ledger.case(CLASS, kept and said, f"clock unreadable ({fault}): {blind.clock}, errors {blind.errors[:2]}")
    assert kept and said, (blind.clock, blind.errors)
    assert abs(first.clock.skew_seconds + 120) <= 2 and abs(again.clock.skew_seconds + 120) <= 2
