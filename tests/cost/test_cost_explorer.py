"""Reconciliation against billed cost from Cost Explorer, on moto's server with queued results."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tenantops.observe.cost_explorer import UNTAGGED, CostExplorerSource, reconcile, tenant_of


def group(key: str, amount: str) -> dict[str, Any]:
    return {"Keys": [key], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}


def test_tag_keys_map_to_tenants() -> None:
    assert tenant_of("tenant$acme") == "acme"
    assert tenant_of("tenant$") == UNTAGGED


@pytest.mark.integration
def test_billed_cost_by_tenant_tag_is_reconciled_with_the_estimate(moto_server: Any) -> None:
    moto_server.queue_cost_and_usage([
        {
            "GroupDefinitions": [{"Type": "TAG", "Key": "tenant"}],
            "ResultsByTime": [
                {"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}, "Estimated": False,
                 "Groups": [group("tenant$acme", "100.50"), group("tenant$globex", "40"), group("tenant$", "7.25")]},
                {"TimePeriod": {"Start": "2026-11-02", "End": "2026-11-03"}, "Estimated": True,
                 "Groups": [group("tenant$acme", "99.50"), group("tenant$globex", "41")]},
            ],
        }
    ])
    source = CostExplorerSource(moto_server.client("ce"))
    actual = source.actual_by_tenant(date(2026, 11, 1), date(2026, 11, 3))
    assert actual == {"acme": 200.0, "globex": 81.0, UNTAGGED: 7.25}
    rows = {r.tenant: r for r in reconcile({"acme": 190.0, "globex": 81.0, "initech": 12.0}, actual)}
    assert rows["acme"].difference_usd == 10.0
    assert rows["acme"].difference_percent == pytest.approx(5.26, abs=0.01)
    assert rows["globex"].difference_usd == 0.0
    assert rows["initech"].actual_usd == 0.0 and rows["initech"].difference_usd == -12.0
    assert rows[UNTAGGED].estimate_usd == 0.0 and rows[UNTAGGED].difference_usd == 7.25
    ordered = reconcile({"acme": 190.0, "globex": 81.0, "initech": 12.0}, actual)
    assert ordered[0].tenant == "initech"  # the largest gap first


@pytest.mark.integration
def test_pages_are_followed(moto_server: Any) -> None:
    period = {"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}, "Estimated": False}
    moto_server.queue_cost_and_usage([
        {"ResultsByTime": [{**period, "Groups": [group("tenant$acme", "1")]}], "NextPageToken": "p2"},
        {"ResultsByTime": [{**period, "Groups": [group("tenant$acme", "2")]}]},
    ])
    actual = CostExplorerSource(moto_server.client("ce")).actual_by_tenant(date(2026, 11, 1), date(2026, 11, 2))
    assert actual == {"acme": 3.0}


@pytest.mark.integration
def test_unusable_amounts_are_skipped_and_credits_kept(moto_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    period = {"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}, "Estimated": False}
    groups = [group("tenant$acme", "10"), group("tenant$acme", "NaN"), group("tenant$acme", "Infinity"),
              group("tenant$acme", "ten dollars"), group("tenant$acme", "-2.5"), group("tenant$globex", "nan")]
    moto_server.queue_cost_and_usage([{"ResultsByTime": [{**period, "Groups": groups}]}])
    actual = CostExplorerSource(moto_server.client("ce")).actual_by_tenant(date(2026, 11, 1), date(2026, 11, 2))
    assert actual == {"acme": 7.5}  # the credit counts; what is not a finite number does not
    assert sum("unusable" in r.getMessage() for r in caplog.records) == 4


@pytest.mark.integration
def test_an_environment_reads_only_spend_tagged_with_it(moto_server: Any) -> None:
    """Two environments in one account: each one's reconciliation asks for its own `environment` tag."""
    period = {"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}, "Estimated": False}
    moto_server.queue_cost_and_usage([{"ResultsByTime": [{**period, "Groups": [group("tenant$acme", "1")]}]}] * 2)
    client = moto_server.client("ce")
    sent: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.ce.GetCostAndUsage",
                                lambda params, **_: sent.append(dict(params)))
    source = CostExplorerSource(client)
    assert source.actual_by_tenant(date(2026, 11, 1), date(2026, 11, 2), environment="prod") == {"acme": 1.0}
    source.actual_by_tenant(date(2026, 11, 1), date(2026, 11, 2))
    assert sent[0]["Filter"] == {"Tags": {"Key": "environment", "Values": ["prod"], "MatchOptions": ["EQUALS"]}}
    assert sent[0]["GroupBy"] == [{"Type": "TAG", "Key": "tenant"}]
    assert "Filter" not in sent[1]

