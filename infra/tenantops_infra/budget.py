"""The tenant's monthly AWS Budget: filtered on its cost allocation tags, alerting at the policy's thresholds.

The filter is the tenant's `tenant` tag AND the stack's `environment` tag. With the tenant tag alone, the
prod budget of a tenant also counted its dev spend wherever two environments share an AWS account, and
the legacy `CostFilters` cannot say AND of two tags (values of `TagKeyValue` are ORed); a
`FilterExpression` can. Its tag keys are plain keys, as in Cost Explorer's `Expression`; the `user:`
prefix belongs to the legacy `TagKeyValue` value format only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tenantops.structs.naming import resource_prefix
from tenantops_infra import documents

# AWS Budgets accepts at most ten e-mail subscribers per notification.
MAX_EMAIL_SUBSCRIBERS = 10


def filter_expression(environment: str, tenant_id: str) -> dict[str, object]:
    """Spend tagged with this tenant in this environment, and nothing else (see the module docstring)."""
    return {"ands": [{"tags": {"key": key, "values": [value], "match_options": ["EQUALS"]}}
                     for key, value in (("tenant", tenant_id), ("environment", environment))]}


@dataclass(frozen=True)
class BudgetArgs:
    tenant_id: str
    environment: str
    amount_usd: float
    actual_thresholds: Sequence[float]
    forecast_thresholds: Sequence[float]
    recipients: Sequence[str]
    account_id: pulumi.Input[str]
    tags: dict[str, str]


def notifications(args: BudgetArgs, topic_arn: pulumi.Input[str]) -> list[dict[str, object]]:
    """One notification per threshold and kind, to the contacts and to the tenant's SNS topic."""
    emails = list(dict.fromkeys(args.recipients))[:MAX_EMAIL_SUBSCRIBERS]
    out: list[dict[str, object]] = []
    for kind, thresholds in (("ACTUAL", args.actual_thresholds), ("FORECASTED", args.forecast_thresholds)):
        for threshold in sorted(set(thresholds)):
            out.append({
                "comparison_operator": "GREATER_THAN",
                "notification_type": kind,
                "threshold": float(threshold),
                "threshold_type": "PERCENTAGE",
                "subscriber_email_addresses": emails,
                "subscriber_sns_topic_arns": [topic_arn],
            })
    return out


class TenantBudget(pulumi.ComponentResource):
    """SNS topic for cost alerts (the controller and chat integrations subscribe to it) and the budget."""

    topic: aws.sns.Topic
    budget: aws.budgets.Budget

    def __init__(self, name: str, args: BudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenantops:tenant:Budget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = resource_prefix(args.environment, args.tenant_id)
        if len(set(args.recipients)) > MAX_EMAIL_SUBSCRIBERS:
            pulumi.log.warn(
                f"tenant {args.tenant_id}: more than {MAX_EMAIL_SUBSCRIBERS} budget recipients; "
                "the first ones get e-mail, everyone can subscribe to the SNS topic"
            )
        self.topic = aws.sns.Topic(f"{name}-cost-alerts", name=f"{prefix}-cost-alerts", tags=args.tags, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-cost-alerts-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, args.account_id).apply(
                lambda values: json.dumps(documents.budget_topic_policy(values[0], values[1]))
            ),
            opts=child,
        )
        self.budget = aws.budgets.Budget(
            f"{name}-budget",
            name=documents.budget_name(args.environment, args.tenant_id),
            budget_type="COST",
            # A zero budget is a "no spend expected" budget; AWS needs a positive limit to compute percentages.
            limit_amount=f"{max(args.amount_usd, 0.01):.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            filter_expression=filter_expression(args.environment, args.tenant_id),
            metrics="UnblendedCost",  # the cost Cost Explorer's reconciliation reads (`observe.cost_explorer`)
            notifications=notifications(args, self.topic.arn),
            tags=args.tags,
            opts=child,
        )
        self.register_outputs({"budget": self.budget.name, "topic_arn": self.topic.arn})
