"""Account-wide settings the tenants rely on: the cost allocation tags activated for billing.

A tag only shows up in Cost Explorer and in budget filters once it is activated; without this the tenant
budgets exist but match no spend.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from tenantops.structs.naming import COST_TAG_KEYS


class CostAllocation(pulumi.ComponentResource):
    """One active `CostAllocationTag` per cost tag key (billing is global, served from us-east-1)."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenantops:account:CostAllocation", name, None, opts)
        billing = aws.Provider(f"{name}-billing", region="us-east-1", opts=pulumi.ResourceOptions(parent=self))
        self.tags = [
            aws.costexplorer.CostAllocationTag(
                f"{name}-{key}", tag_key=key, status="Active",
                opts=pulumi.ResourceOptions(parent=self, provider=billing),
            )
            for key in COST_TAG_KEYS
        ]
        self.register_outputs({"keys": list(COST_TAG_KEYS)})
