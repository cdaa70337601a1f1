"""The cost report's network line: the month's measured network transfer from the ledger, or a plain
"not measured" where the network-costs daemonset gave the controller nothing (never a $0 that looks measured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.cost.helpers import apply_state, make_config, snapshot, tenant

from tenantops.decide.base import PassInput
from tenantops.decide.cost import CostDecider, Ledger
from tenantops.notify.report.build import build_report_data
from tenantops.notify.report.render import render_html, render_text
from tenantops.quantities import GIB
from tenantops.structs.network import NetworkEgress, TenantEgress

DAY = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
REPORT_AT = datetime(2026, 11, 19, 8, 0, tzinfo=UTC)
MISSING = "no kubecost_pod_network_egress_bytes_total series (is the network-costs daemonset running?)"


def _ledger(tmp_path: Path, egress: NetworkEgress) -> tuple[Any, Ledger]:
    config = make_config(tmp_path, [tenant("acme"), tenant("beta")])
    state: dict[str, Any] = {}
    for minutes in (0, 10, 20):
        now = DAY + timedelta(minutes=minutes)
        inp = PassInput(snapshot(now, {("acme", "api"): {"cpu": 1.0}}), config, now, network=egress)
        apply_state(state, CostDecider().decide(inp, state).state)
    return config, Ledger(state)


def test_measured_network_is_a_line_of_the_report(tmp_path: Path) -> None:
    egress = NetworkEgress(True, 600, {"acme": TenantEgress({"internet": 2 * GIB}), "beta": TenantEgress({})})
    config, ledger = _ledger(tmp_path, egress)
    data = build_report_data(config, ledger, REPORT_AT)
    assert data.network is not None and data.network.not_measured == ""
    assert data.network.month == "2026-11" and data.network.tenants_measured == 2
    assert abs(data.network.month_to_date_usd - 3 * 2 * 0.09) < 0.01  # three passes of 2 GiB to the internet
    text = render_text(data)
    assert "Network transfer in 2026-11 so far: $0.54 over 2 tenant(s)" in text
    assert data.network.sentence in render_html(data, {})
    own = build_report_data(config, ledger, REPORT_AT, tenants=["beta"])  # beta's own mail: beta's only
    assert own.network is not None and own.network.month_to_date_usd == 0.0 and own.network.tenants_measured == 1


def test_unmeasured_network_is_said_and_not_shown_as_zero(tmp_path: Path) -> None:
    config, ledger = _ledger(tmp_path, NetworkEgress.not_measured(MISSING, 600))
    data = build_report_data(config, ledger, REPORT_AT)
    assert data.network is not None and data.network.not_measured == MISSING
    text = render_text(data)
    assert f"Network transfer: not measured ({MISSING}); the costs above include no data transfer." in text
    assert "Network transfer in" not in text and "$0.00 over" not in text
    assert data.to_json()["network"]["not_measured"] == MISSING
