"""The moto sandbox: real boto3 calls reach it, reset forgets state, queued Cost Explorer results come back."""

from __future__ import annotations

import pytest

from tenantops_lab.sandbox.moto_server import MotoServer
from tenantops_lab.sandbox.ports import is_listening

pytestmark = pytest.mark.integration


def test_serves_boto3_and_resets(moto_server: MotoServer) -> None:
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket="tenantops-dev-acme-data")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["tenantops-dev-acme-data"]
    moto_server.reset()
    assert s3.list_buckets()["Buckets"] == []


def test_queued_cost_and_usage_results_are_returned_in_order(moto_server: MotoServer) -> None:
    def result(amount: str) -> dict[str, object]:
        return {"ResultsByTime": [{
            "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}, "Estimated": False, "Total": {},
            "Groups": [{"Keys": ["tenant$acme"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}],
        }]}

    moto_server.queue_cost_and_usage([result("12.5"), result("3.25")])
    ce = moto_server.client("ce")
    amounts = []
    for day in ("2026-11-01", "2026-11-02"):
        response = ce.get_cost_and_usage(
            TimePeriod={"Start": day, "End": "2026-11-03"}, Granularity="DAILY", Metrics=["UnblendedCost"],
            GroupBy=[{"Type": "TAG", "Key": "tenant"}],
        )
        group = response["ResultsByTime"][0]["Groups"][0]
        assert group["Keys"] == ["tenant$acme"]
        amounts.append(group["Metrics"]["UnblendedCost"]["Amount"])
    assert amounts == ["12.5", "3.25"]


def test_environment_points_processes_at_the_server(moto_server: MotoServer) -> None:
    env = moto_server.env()
    assert env["TENANTOPS_AWS_ENDPOINT_URL"] == moto_server.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == "testing"


def test_stop_releases_the_port() -> None:
    server = MotoServer().start()
    port = server.port
    assert port is not None and is_listening(port)
    server.stop()
    assert not server.running
    assert not is_listening(port)
