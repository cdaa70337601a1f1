"""What every Prometheus source sends and says the same way (`observe.prom_client`): a moment as the exact
decimal seconds Prometheus' API parses, and a failed request as a short reason without its URL. The live
reads (`observe.prometheus`) and the egress read (`observe.network`) both use these; before, the egress
read imported the live reads' private helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tenantops.observe.prom_client import api_time, connect, describe_failure, millis


@pytest.mark.integration
def test_a_moment_is_evaluated_by_a_real_prometheus_at_its_exact_millisecond(prometheus: Any) -> None:
    client = connect(str(prometheus().url), timeout=10)
    for moment in (datetime(2026, 11, 17, 10, 0, 0, 999_999, tzinfo=UTC),  # cut, never rounded up
                   datetime(2026, 11, 17, 10, 0, 0, 1_000, tzinfo=UTC),
                   datetime(2026, 11, 17, 10, 0, 0, tzinfo=UTC) - timedelta(milliseconds=1)):
        [_, value] = client.custom_query("time()", params={"time": api_time(moment)})
        assert float(value) * 1000 == pytest.approx(millis(moment), abs=1e-6), (moment, value)
        assert api_time(moment) == f"{millis(moment) // 1000}.{millis(moment) % 1000:03d}"
    assert api_time(datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)) == "-0.500"


def test_a_failure_is_said_in_short_without_the_request_url() -> None:
    query = quote("sum by (namespace) (increase(kubecost_pod_network_egress_bytes_total[5m]))" * 20)  # as sent
    exc = requests.exceptions.RetryError(
        f"HTTPConnectionPool(host='prometheus', port=9090): Max retries exceeded with url: /api/v1/query?query={query}"
        " (Caused by ResponseError('too many 503 error responses'))")
    reason = describe_failure(exc)
    assert reason.startswith("RetryError: HTTPConnectionPool(host='prometheus', port=9090): Max retries exceeded")
    assert "/api/v1" not in reason and "too many 503" in reason and len(reason) <= 300
