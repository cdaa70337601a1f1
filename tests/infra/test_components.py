"""Components on their own, checked through their Outputs under `pulumi.runtime.test` (applies must run)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from tenantops.config import Config
from tenantops_infra.budget import BudgetArgs, TenantBudget, notifications
from tenantops_infra.mocked import ACCOUNT_ID, RecordingMocks, RecordingMonitor
from tenantops_infra.storage import DataArgs, TenantData
from tenantops_infra.tags import cost_tags
from tenantops_infra.tenant import TenantArgs, TenantFootprint


@pytest.fixture
def monitor() -> RecordingMonitor:
    mocks = RecordingMocks()
    recording = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="tenantops", stack="unit", preview=False, monitor=recording)
    return recording


@pulumi.runtime.test
def test_bucket_policy_and_encryption_name_the_tenants_own_key(monitor: RecordingMonitor) -> pulumi.Output[Any]:
    data = TenantData("acme", DataArgs("acme", "dev", "eu-west-1", ACCOUNT_ID, cost_tags("dev", "acme", "pro"),
                                       retain=True, silo=False,
                                       role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/tenantops-dev-acme-workload"))

    def check(values: list[Any]) -> None:
        key_arn, bucket_arn, policy = values
        assert key_arn.startswith(f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/")  # no provider: default region
        assert bucket_arn == "arn:aws:s3:::tenantops-dev-acme-data"
        foreign = next(s for s in json.loads(policy)["Statement"] if s["Sid"] == "DenyForeignKeys")
        condition = foreign["Condition"]["StringNotEquals"]
        assert condition["s3:x-amz-server-side-encryption-aws-kms-key-id"] == key_arn
        assert foreign["Resource"] == [f"{bucket_arn}/*"]

    return pulumi.Output.all(data.key.arn, data.bucket.arn, data.policy.policy).apply(check)


@pulumi.runtime.test
def test_budget_notifies_at_every_threshold(monitor: RecordingMonitor) -> pulumi.Output[Any]:
    args = BudgetArgs("hooli", "dev", 1200, [80, 100], [100], ["sre@hooli.example"], ACCOUNT_ID,
                      cost_tags("dev", "hooli", "pro"))
    budget = TenantBudget("hooli", args)

    def check(values: list[Any]) -> None:
        limit, filters, notes = values
        assert limit == "1200.00"
        assert filters == [("tenant", ["hooli"]), ("environment", ["dev"])]
        assert notes == [("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0)]

    # Output types with a field named `values` cannot go through Output.all as they are: flatten first.
    filters = budget.budget.filter_expression.apply(
        lambda e: [(a.tags.key, list(a.tags.values)) for a in e.ands])  # type: ignore[union-attr]
    notes = budget.budget.notifications.apply(lambda ns: sorted((n.notification_type, n.threshold) for n in ns))
    return pulumi.Output.all(budget.budget.limit_amount, filters, notes).apply(check)


def test_notifications_cap_email_subscribers_and_deduplicate() -> None:
    args = BudgetArgs("t", "dev", 10, [50, 50, 100], [], [f"a{i}@x.example" for i in range(12)] + ["a0@x.example"],
                      ACCOUNT_ID, {})
    notes = notifications(args, "arn:topic")
    assert [n["threshold"] for n in notes] == [50.0, 100.0]
    assert all(len(n["subscriber_email_addresses"]) == 10 for n in notes)  # type: ignore[arg-type]


@pulumi.runtime.test
def test_tenant_outputs_for_a_pool_tenant(monitor: RecordingMonitor, dev_config: Config) -> pulumi.Output[Any]:
    entry = dev_config.tenant("initech")
    footprint = TenantFootprint("initech", TenantArgs(entry, dev_config.for_tenant(entry), "dev", ACCOUNT_ID,
                                                      "app:1", "ami-1"))

    def check(outputs: dict[str, Any]) -> None:
        assert outputs["namespace"] == "tenant-initech"
        assert [t["name"] for t in outputs["scale_targets"]] == ["api", "worker"]
        assert outputs["role_arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/tenantops-dev-initech-workload"
        assert "vpc_id" not in outputs

    return pulumi.Output.from_input(footprint.outputs).apply(check)
