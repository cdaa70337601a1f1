"""Network transfer cost, after OpenCost: bytes the network-costs daemonset counts per pod
(`kubecost_pod_network_egress_bytes_total{namespace, pod_name, internet, same_region, same_zone}`), read
from a real Prometheus as their increase over the pass's window and priced at the region's `transfer_gb`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.cost.helpers import REPO, make_config, snapshot, tenant

from tenantops.decide.base import PassInput
from tenantops.decide.cost import CostDecider, Ledger
from tenantops.engine.root import NetworkInput
from tenantops.observe.network import EGRESS_METRIC, NetworkSource
from tenantops.structs.cost_findings import CostFindings
from tenantops.structs.network import NetworkEgress
from tenantops_lab.sandbox.prometheus import Series

pytestmark = pytest.mark.integration

T = float(int(time.time()) - 1800)  # the pass time: in the past, so the reads are exactly reproducible
GIB = float(2**30)
STEP = 15.0
WINDOW = 600.0


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def counter(namespace: str, pod: str, internet: str, same_region: str, same_zone: str,
            value: Callable[[float], float]) -> Series:
    """One pod's egress counter for one destination class, sampled every 15 s over the 20 minutes to T."""
    start = T - 1200
    stamps = [start + STEP * i for i in range(int(1200 / STEP) + 1)]
    labels = {"namespace": namespace, "pod_name": pod, "internet": internet, "same_region": same_region,
              "same_zone": same_zone, "service": ""}
    return Series(EGRESS_METRIC, labels, [(t, value(t)) for t in stamps])


def steady(gib_per_window: float, base: float = 0.0) -> Callable[[float], float]:
    return lambda t: base + gib_per_window * GIB / WINDOW * (t - (T - 1200))


INTERNET = ("true", "false", "false")
INTER_REGION = ("false", "false", "false")
INTER_ZONE = ("false", "true", "false")
SAME_ZONE = ("false", "true", "true")
RESET_AT = T - 300


def _reset(t: float) -> float:
    """1 GiB per window, from 50 GiB; the pod restarts at RESET_AT and counts from zero again."""
    rate = GIB / WINDOW
    return 50 * GIB + rate * (t - (T - 1200)) if t < RESET_AT else rate * (t - (RESET_AT - STEP))


def _series() -> list[Series]:
    return [
        counter("tenant-acme", "api-6f7c9-a", *INTERNET, steady(0.6)),
        counter("tenant-acme", "api-6f7c9-b", *INTERNET, steady(0.4)),  # two pods: summed
        counter("tenant-acme", "api-6f7c9-a", *INTER_REGION, steady(2.0)),
        counter("tenant-acme", "api-6f7c9-a", *INTER_ZONE, steady(4.0)),
        counter("tenant-acme", "api-6f7c9-a", *SAME_ZONE, steady(100.0)),  # free
        counter("tenant-beta", "api-55d-x", *INTERNET, steady(10.0)),
        # Namespaces that are not acme's, however alike: never counted to it.
        counter("tenant-acme-old", "api-1", *INTERNET, steady(500.0)),
        counter("xtenant-acme", "api-1", *INTERNET, steady(500.0)),
        counter("tenant-acme.", "api-1", *INTERNET, steady(500.0)),
        # gamma (eu-west-1): one pod's counter is NaN, the other's is sound
        counter("tenant-gamma", "api-1", *INTERNET, lambda t: float("nan")),
        counter("tenant-gamma", "api-2", *INTER_ZONE, steady(3.0)),
        counter("tenant-delta", "api-1", *INTERNET, _reset),
        counter("tenant-epsilon", "api-1", *INTERNET, lambda t: -5e9 + 1e6 * (t - T)),  # negative counter
        counter("tenant-zeta", "api-1", *INTERNET, steady(7.0)),  # a silo tenant's: not read this way
    ]


def _config(tmp_path: Path, cost_yaml: str | None = None) -> Any:
    return make_config(tmp_path, [
        tenant("acme"), tenant("beta"), tenant("gamma", region="eu-west-1"), tenant("delta"),
        tenant("epsilon"), tenant("zeta", isolation="silo", tier="enterprise"), tenant("quiet"),
    ], cost_yaml)


@pytest.fixture
def prom(prometheus):
    return prometheus(series=_series())


def test_egress_is_read_per_tenant_and_destination_class(prom, tmp_path: Path) -> None:
    config = _config(tmp_path)
    egress = NetworkSource(prom.url).read(config, utc(T), WINDOW)
    assert egress.measured and egress.seconds == WINDOW and egress.reason == ""
    acme = egress.tenants["acme"]
    assert acme.bytes["internet"] == pytest.approx(1.0 * GIB, rel=1e-6)
    assert acme.bytes["inter_region"] == pytest.approx(2.0 * GIB, rel=1e-6)
    assert acme.bytes["inter_zone"] == pytest.approx(4.0 * GIB, rel=1e-6)
    assert set(acme.bytes) == {"internet", "inter_region", "inter_zone"}  # same zone is free: not a class
    assert acme.untrusted == 0
    assert egress.tenants["beta"].bytes == {"internet": pytest.approx(10.0 * GIB, rel=1e-6)}
    assert egress.tenants["quiet"].bytes == {}  # measured: no series is no egress
    # a counter reset is a restart, not negative traffic
    assert egress.tenants["delta"].bytes["internet"] == pytest.approx(1.0 * GIB, rel=1e-6)
    # a NaN counter is not read as traffic, nor does it hide the sound pod beside it
    gamma = egress.tenants["gamma"]
    assert gamma.untrusted == 1 and "internet" not in gamma.bytes
    assert gamma.bytes["inter_zone"] == pytest.approx(3.0 * GIB, rel=1e-6)
    epsilon = egress.tenants["epsilon"]
    assert epsilon.untrusted == 1 and epsilon.bytes == {}
    assert "zeta" not in egress.tenants  # a silo tenant runs outside the cluster the daemonset watches


def test_a_short_pass_reads_its_share_of_a_longer_range(prom, tmp_path: Path) -> None:
    """Passes shorter than the scrape interval would read no increase at all: the rate over a range of at
    least `MIN_RANGE_SECONDS` is scaled to the pass's window, so the passes still add up."""
    egress = NetworkSource(prom.url).read(_config(tmp_path), utc(T), 30.0)
    assert egress.tenants["acme"].bytes["internet"] == pytest.approx(GIB * 30 / WINDOW, rel=1e-6)


def test_without_the_daemonset_network_is_not_measured(prometheus, tmp_path: Path) -> None:
    server = prometheus(series=[Series("up", {"job": "x"}, [(T - 60, 1.0), (T, 1.0)])])
    egress = NetworkSource(server.url).read(_config(tmp_path), utc(T), WINDOW)
    assert not egress.measured and egress.tenants == {}
    assert EGRESS_METRIC in egress.reason


def test_an_unreachable_prometheus_is_not_measured(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Not measured, and no further warning: the metrics source has said Prometheus is unreachable."""
    config = _config(tmp_path)
    egress = NetworkSource("http://127.0.0.1:9", timeout=2.0).read(config, utc(T), WINDOW)
    assert not egress.measured and egress.failed and "connection refused" in egress.reason
    with caplog.at_level(logging.INFO):
        findings = _decide(config, egress)
    assert findings.network_not_measured == egress.reason
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("tenantops")]


def _decide(config: Any, egress: NetworkEgress | None, state: dict[str, Any] | None = None) -> CostFindings:
    now = utc(T)
    prior = state if state is not None else {"pass": {"at": (now - timedelta(seconds=WINDOW)).isoformat()}}
    out = CostDecider().decide(PassInput(snapshot(now, {}), config, now, network=egress), prior)
    assert isinstance(out.findings, CostFindings)
    return out.findings


def test_egress_is_charged_at_the_regions_transfer_prices(prom, tmp_path: Path) -> None:
    config = _config(tmp_path)
    egress = NetworkSource(prom.url).read(config, utc(T), WINDOW)
    findings = _decide(config, egress)
    tenants = findings.tenants
    # us-east-1: internet 0.09, inter_region 0.02, inter_zone 0.01 per GiB
    assert tenants["acme"].components["network"] == pytest.approx(1 * 0.09 + 2 * 0.02 + 4 * 0.01, abs=2e-6)
    assert tenants["beta"].components["network"] == pytest.approx(10 * 0.09, abs=2e-6)
    assert tenants["delta"].components["network"] == pytest.approx(0.09, abs=2e-6)
    assert tenants["quiet"].components["network"] == 0.0  # measured, and nothing sent
    assert tenants["gamma"].components["network"] == pytest.approx(3 * 0.01, abs=2e-6)  # eu-west-1
    assert tenants["gamma"].estimated and tenants["epsilon"].estimated  # untrusted counters left out
    assert tenants["epsilon"].components["network"] == 0.0
    assert "network" not in tenants["zeta"].components  # not measured for a silo tenant, not $0
    for found in tenants.values():  # the tenant's total is its components, network included
        assert found.usd == pytest.approx(sum(found.components.values()), abs=1e-5)
    assert findings.network_not_measured == ""
    assert findings.total_usd == pytest.approx(
        sum(t.usd for t in tenants.values()) + findings.idle_bucket_usd + findings.shared_bucket_usd, abs=1e-5)


def test_network_is_in_the_ledger_budgets_and_forecasts_read(prom, tmp_path: Path) -> None:
    config = _config(tmp_path)
    egress = NetworkSource(prom.url).read(config, utc(T), WINDOW)
    now = utc(T)
    state: dict[str, Any] = {"pass": {"at": (now - timedelta(seconds=WINDOW)).isoformat()}}
    out = CostDecider().decide(PassInput(snapshot(now, {}), config, now, network=egress), state)
    ledger = Ledger(out.state)
    mtd = ledger.month_to_date()["beta"]
    assert mtd.components["network"] == pytest.approx(0.9, abs=2e-6)
    assert mtd.total_usd == pytest.approx(sum(mtd.components.values()), abs=1e-5)
    assert ledger.network_not_measured == ""
    assert ledger.budget("beta", 1000, now).month_to_date >= 0.9


def test_a_policy_without_transfer_prices_charges_nothing(prom, tmp_path: Path) -> None:
    text = "\n".join(line for line in (REPO / "policies" / "cost.yaml").read_text().splitlines()
                     if "transfer_gb" not in line)
    config = _config(tmp_path, text)  # loads: transfer prices are optional
    assert all(not r.transfer_gb for r in config.policies.pricing.regions.values())
    egress = NetworkSource(prom.url).read(config, utc(T), WINDOW)
    findings = _decide(config, egress)
    assert findings.tenants["acme"].components["network"] == 0.0
    assert findings.tenants["beta"].components["network"] == 0.0
    assert any("transfer_gb" in issue and "us-east-1" in issue for issue in findings.issues)


def test_unmeasured_network_is_said_once_and_never_shown_as_zero(prometheus, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    server = prometheus(series=[Series("up", {"job": "x"}, [(T - 60, 1.0), (T, 1.0)])])
    config = _config(tmp_path)
    state: dict[str, Any] = {}
    warnings = []
    for step in (2, 1, 0):
        now = utc(T - 60 * step)
        egress = NetworkSource(server.url).read(config, now, 60.0)
        with caplog.at_level(logging.INFO, logger="tenantops.decide.cost.decider"):
            caplog.clear()
            out = CostDecider().decide(PassInput(snapshot(now, {}), config, now, network=egress), state)
            warnings += [r.getMessage() for r in caplog.records
                         if r.levelno >= logging.WARNING and "network" in r.getMessage()]
        state = {**state, **{k: v for k, v in out.state.items() if v is not None}}
        assert isinstance(out.findings, CostFindings)
        assert EGRESS_METRIC in out.findings.network_not_measured
        assert all("network" not in t.components for t in out.findings.tenants.values())
    assert len(warnings) == 1 and EGRESS_METRIC in warnings[0]
    assert EGRESS_METRIC in Ledger(state).network_not_measured
    assert all("network" not in m.components for m in Ledger(state).month_to_date().values())


def test_a_pass_without_a_network_reader_is_not_measured(tmp_path: Path) -> None:
    findings = _decide(_config(tmp_path), None)
    assert findings.network_not_measured
    assert all("network" not in t.components for t in findings.tenants.values())


def test_the_pass_input_reads_the_window_the_cost_decider_charges(prom, tmp_path: Path) -> None:
    """The input provider reads egress over exactly the interval the cost decider will charge: since the
    cost ledger's last pass, capped by `max_pass_gap_seconds`."""
    config = _config(tmp_path)
    now = utc(T)
    provide = NetworkInput(NetworkSource(prom.url))
    states = {"cost": {"pass": {"at": (now - timedelta(seconds=WINDOW)).isoformat()}}}
    inp = provide(PassInput(snapshot(now, {}), config, now), lambda name: states.get(name, {}))
    assert inp.network is not None and inp.network.seconds == WINDOW
    assert inp.network.tenants["beta"].bytes["internet"] == pytest.approx(10 * GIB, rel=1e-6)
    states = {"cost": {"pass": {"at": (now - timedelta(hours=5)).isoformat()}}}  # after an outage
    inp = provide(PassInput(snapshot(now, {}), config, now), lambda name: states.get(name, {}))
    assert inp.network is not None
    assert inp.network.seconds == config.policies.allocation.max_pass_gap_seconds


def test_one_pooled_tenant_is_read_too(prom, tmp_path: Path) -> None:
    """The query selects the namespaces by the prefix the pooled tenants share; with one tenant that is its
    whole namespace."""
    config = make_config(tmp_path, [tenant("beta")])
    egress = NetworkSource(prom.url).read(config, utc(T), WINDOW)
    assert egress.tenants["beta"].bytes == {"internet": pytest.approx(10.0 * GIB, rel=1e-6)}
