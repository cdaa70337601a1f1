"""For every tenant of the example catalogues: encryption, no public access, tags, budgets, quotas, networks."""

from __future__ import annotations

import json

import pytest

from tenantops.config import Config
from tenantops.structs.naming import COST_TAG_KEYS, asg_name, namespace
from tenantops_infra import documents, guards
from tenantops_infra.mocked import MockRun
from tenantops_infra.pool import quota_hard
from tenantops_infra.tags import cost_tags

TENANT_IDS = [
    "acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne", "tyrell", "cyberdyne",
    "soylent", "oscorp",
]


def _one(run: MockRun, tenant: str, typ: str) -> guards.Recorded:
    found = [r for r in run.tenant_resources(tenant) if r.type == typ]
    assert len(found) == 1, f"{tenant}: expected one {typ}, got {len(found)}"
    return found[0]


def test_every_catalogue_tenant_gets_a_footprint(dev_run: MockRun, dev_config: Config) -> None:
    assert sorted(dev_run.outputs["tenants"]) == sorted(t.id for t in dev_config.tenants) == sorted(TENANT_IDS)


@pytest.mark.parametrize("tenant", TENANT_IDS)
def test_bucket_is_encrypted_under_the_tenants_own_key(dev_run: MockRun, tenant: str) -> None:
    resources = dev_run.tenant_resources(tenant)
    key = _one(dev_run, tenant, "aws:kms/key:Key")
    bucket = _one(dev_run, tenant, guards.BUCKET)
    assert key.inputs["enableKeyRotation"] is True
    assert guards.unencrypted_buckets(resources, {bucket.id: key.state["arn"]}) == []
    # Another tenant's key does not count as this bucket's encryption.
    other_key = _one(dev_run, "globex" if tenant != "globex" else "acme", "aws:kms/key:Key")
    assert guards.unencrypted_buckets(resources, {bucket.id: other_key.state["arn"]}) != []
    versioning = _one(dev_run, tenant, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"


def test_no_bucket_anywhere_lacks_sse_kms_or_has_public_access(dev_run: MockRun) -> None:
    keys = {}
    for tenant in TENANT_IDS:
        keys[_one(dev_run, tenant, guards.BUCKET).id] = _one(dev_run, tenant, "aws:kms/key:Key").state["arn"]
    assert len(dev_run.of_type(guards.BUCKET)) == len(TENANT_IDS)
    assert guards.unencrypted_buckets(dev_run.resources, keys) == []
    assert guards.public_buckets(dev_run.resources) == []


@pytest.mark.parametrize("tenant", TENANT_IDS)
def test_bucket_policy_denies_non_tls_access(dev_run: MockRun, tenant: str) -> None:
    bucket = _one(dev_run, tenant, guards.BUCKET)
    policy = json.loads(_one(dev_run, tenant, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    tls = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*" and tls["Action"] == "s3:*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(tls["Resource"]) == {bucket.state["arn"], f"{bucket.state['arn']}/*"}


@pytest.mark.parametrize("tenant", TENANT_IDS)
def test_every_taggable_resource_carries_the_four_cost_tags(
    dev_run: MockRun, dev_config: Config, tenant: str
) -> None:
    entry = dev_config.tenant(tenant)
    expected = cost_tags("dev", tenant, entry.tier)
    assert tuple(expected) == COST_TAG_KEYS
    resources = dev_run.tenant_resources(tenant)
    assert guards.missing_tags(resources, expected) == []
    tagged = [r for r in resources if r.custom and r.type.startswith("aws:") and guards.aws_type_is_taggable(r.type)]
    assert {r.type for r in tagged} >= {guards.BUCKET, "aws:kms/key:Key", "aws:iam/role:Role",
                                         "aws:budgets/budget:Budget"}
    provider = _one(dev_run, tenant, "pulumi:providers:aws")
    assert json.loads(provider.inputs["defaultTags"]) == {"tags": expected}
    assert provider.inputs["region"] == entry.region
    # Every AWS resource of the tenant goes through that provider (so it also gets the default tags).
    for res in resources:
        if res.custom and res.type.startswith("aws:"):
            assert res.provider.startswith(provider.urn), f"{res.type} {res.name} bypasses the tenant provider"


def test_missing_tags_flags_an_untagged_resource(dev_run: MockRun) -> None:
    bucket = _one(dev_run, "acme", guards.BUCKET)
    stripped = guards.Recorded(bucket.type, bucket.name, bucket.urn, {**bucket.inputs, "tags": {"tenant": "acme"}})
    assert guards.missing_tags([stripped], cost_tags("dev", "acme", "enterprise"))
    assert guards.aws_type_is_taggable("aws:s3/bucket:Bucket")
    assert not guards.aws_type_is_taggable("aws:s3/bucketPolicy:BucketPolicy")


@pytest.mark.parametrize("tenant", TENANT_IDS)
def test_budget_matches_the_catalogue_and_the_tier_thresholds(
    dev_run: MockRun, dev_config: Config, tenant: str
) -> None:
    entry, policies = dev_config.tenant(tenant), dev_config.for_tenant(tenant)
    budget = _one(dev_run, tenant, "aws:budgets/budget:Budget")
    topic = _one(dev_run, tenant, "aws:sns/topic:Topic")
    assert budget.inputs["budgetType"] == "COST" and budget.inputs["timeUnit"] == "MONTHLY"
    assert float(budget.inputs["limitAmount"]) == pytest.approx(max(entry.budget_usd_month, 0.01))
    assert budget.inputs["limitUnit"] == "USD"
    # Tenant AND environment: one environment's budget never counts another's spend in a shared account.
    assert "costFilters" not in budget.inputs and budget.inputs["metrics"] == "UnblendedCost"
    operands = [a["tags"] for a in budget.inputs["filterExpression"]["ands"]]
    assert operands == [{"key": "tenant", "values": [tenant], "matchOptions": ["EQUALS"]},
                        {"key": "environment", "values": [dev_config.catalog.environment], "matchOptions": ["EQUALS"]}]
    # ...and the tags it selects are the ones the tenant's resources carry.
    bucket = _one(dev_run, tenant, "aws:s3/bucket:Bucket")
    assert all(bucket.inputs["tags"][o["key"]] == o["values"][0] for o in operands)
    got = sorted((n["notificationType"], n["threshold"]) for n in budget.inputs["notifications"])
    want = sorted([("ACTUAL", float(t)) for t in policies.budget.actual_thresholds]
                  + [("FORECASTED", float(t)) for t in policies.budget.forecast_thresholds])
    assert got == want
    for notification in budget.inputs["notifications"]:
        assert notification["thresholdType"] == "PERCENTAGE"
        assert notification["comparisonOperator"] == "GREATER_THAN"
        assert set(entry.contacts) <= set(notification["subscriberEmailAddresses"])
        assert notification["subscriberSnsTopicArns"] == [topic.state["arn"]]


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_budget_topics_take_publishes_only_from_the_stacks_own_budgets(dev_run: MockRun, tenant: str) -> None:
    topic = _one(dev_run, tenant, "aws:sns/topic:Topic")
    [statement] = json.loads(_one(dev_run, tenant, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "budgets.amazonaws.com"} and statement["Action"] == "SNS:Publish"
    assert statement["Resource"] == topic.state["arn"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                      "ArnLike": {"aws:SourceArn": "arn:aws:budgets::123456789012:*"}}


def test_enterprise_and_standard_budgets_differ(dev_run: MockRun) -> None:
    def thresholds(tenant: str) -> int:
        return len(_one(dev_run, tenant, "aws:budgets/budget:Budget").inputs["notifications"])

    assert thresholds("acme") == 5  # enterprise: actual 50/80/100, forecast 90/100
    assert thresholds("hooli") == 3  # standard: actual 80/100, forecast 100


def test_cost_allocation_tags_are_activated(dev_run: MockRun) -> None:
    tags = dev_run.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert sorted(t.inputs["tagKey"] for t in tags) == sorted(COST_TAG_KEYS)
    assert all(t.inputs["status"] == "Active" for t in tags)


def _pool_tenants(config: Config) -> list[str]:
    return [t.id for t in config.tenants if t.isolation == "pool"]


@pytest.mark.parametrize("tenant", [t for t in TENANT_IDS if t not in ("acme", "globex")])
def test_pool_tenant_quota_limits_and_network_match_the_tier(
    dev_run: MockRun, dev_config: Config, tenant: str
) -> None:
    tier = dev_config.for_tenant(tenant).tier
    ns = _one(dev_run, tenant, "kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["name"] == namespace(tenant)
    quota = _one(dev_run, tenant, "kubernetes:core/v1:ResourceQuota")
    assert quota.inputs["metadata"]["namespace"] == namespace(tenant)
    assert quota.inputs["spec"]["hard"] == quota_hard(tier.quota)
    assert quota.inputs["spec"]["hard"]["requests.cpu"] == tier.quota.cpu
    assert quota.inputs["spec"]["hard"]["pods"] == str(tier.quota.pods)
    limits = _one(dev_run, tenant, "kubernetes:core/v1:LimitRange").inputs["spec"]["limits"][0]
    assert limits["defaultRequest"] == {"cpu": tier.limits.default_cpu, "memory": tier.limits.default_memory}
    assert limits["max"] == {"cpu": tier.limits.max_cpu, "memory": tier.limits.max_memory}
    policies = [r for r in dev_run.tenant_resources(tenant) if r.type.endswith("NetworkPolicy")]
    deny = next(p for p in policies if p.inputs["metadata"]["name"] == "default-deny")
    assert deny.inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert not [r for r in dev_run.tenant_resources(tenant) if r.type == "aws:ec2/vpc:Vpc"]


def test_free_and_pro_quotas_differ(dev_run: MockRun) -> None:
    def cpu(tenant: str) -> str:
        return str(_one(dev_run, tenant, "kubernetes:core/v1:ResourceQuota").inputs["spec"]["hard"]["requests.cpu"])

    assert (cpu("tyrell"), cpu("hooli"), cpu("initech")) == ("2", "16", "64")


@pytest.mark.parametrize("tenant", [t for t in TENANT_IDS if t not in ("acme", "globex")])
def test_pool_deployments_carry_the_labels_the_controller_selects_on(
    dev_run: MockRun, dev_config: Config, tenant: str
) -> None:
    deployments = {r.inputs["metadata"]["name"]: r for r in dev_run.tenant_resources(tenant)
                   if r.type == "kubernetes:apps/v1:Deployment"}
    for workload in dev_config.tenant(tenant).workloads:
        dep = deployments[workload.name]
        selector = {"tenant": tenant, "workload": workload.name}
        assert dep.inputs["metadata"]["namespace"] == namespace(tenant)
        assert dep.inputs["spec"]["selector"]["matchLabels"] == selector
        assert selector.items() <= dep.inputs["spec"]["template"]["metadata"]["labels"].items()
        assert dep.inputs["spec"]["replicas"] == workload.min_replicas
        # Replicas (scaling) and container resources (right-sizing) belong to the controller.
        assert dep.ignore_changes == ["spec.replicas", "spec.template.spec.containers[*].resources"]


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_silo_tenants_get_their_own_network_and_asgs(dev_run: MockRun, dev_config: Config, tenant: str) -> None:
    entry = dev_config.tenant(tenant)
    resources = dev_run.tenant_resources(tenant)
    vpc = _one(dev_run, tenant, "aws:ec2/vpc:Vpc")
    subnets = [r for r in resources if r.type == "aws:ec2/subnet:Subnet"]
    assert len({s.inputs["availabilityZone"] for s in subnets}) == 3
    assert all(s.inputs["availabilityZone"].startswith(entry.region) for s in subnets)
    assert all(s.inputs["vpcId"] == vpc.id for s in subnets)
    assert all(s.inputs.get("mapPublicIpOnLaunch") is False for s in subnets)
    assert not [r for r in resources if r.type == "aws:ec2/internetGateway:InternetGateway"]
    assert not [r for r in resources if r.type.startswith("kubernetes:")]
    groups = {r.inputs["name"]: r for r in resources if r.type == "aws:autoscaling/group:Group"}
    for workload in entry.workloads:
        group = groups[asg_name("dev", tenant, workload.name)]
        assert (group.inputs["minSize"], group.inputs["maxSize"]) == (workload.min_replicas, workload.max_replicas)
        assert sorted(group.inputs["vpcZoneIdentifiers"]) == sorted(s.id for s in subnets)
        assert group.ignore_changes == ["desiredCapacity"]


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_silo_roles_trust_ec2_only_for_the_stacks_account_and_the_tenants_region(
        dev_run: MockRun, dev_config: Config, tenant: str) -> None:
    region = dev_config.tenant(tenant).region
    role = _one(dev_run, tenant, "aws:iam/role:Role")
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEqualsIfExists": {"aws:SourceAccount": "123456789012"},
        "ArnLikeIfExists": {"aws:SourceArn": f"arn:aws:ec2:{region}:123456789012:instance/*"},
    }


def test_silo_networks_are_not_shared(dev_run: MockRun) -> None:
    vpcs = dev_run.of_type("aws:ec2/vpc:Vpc")
    assert len(vpcs) == 2 and len({v.id for v in vpcs}) == 2
    owners = {v.id: t for t in ("acme", "globex") for v in dev_run.tenant_resources(t) if v.type == "aws:ec2/vpc:Vpc"}
    for subnet in dev_run.of_type("aws:ec2/subnet:Subnet"):
        tenant = subnet.inputs["tags"]["tenant"]
        assert owners[subnet.inputs["vpcId"]] == tenant


@pytest.mark.parametrize("tenant", TENANT_IDS)
def test_data_resources_follow_the_tiers_retention(dev_run: MockRun, dev_config: Config, tenant: str) -> None:
    retain = dev_config.for_tenant(tenant).tier.data_retention == "retain"
    for typ in (guards.BUCKET, "aws:kms/key:Key", guards.SSE, guards.PUBLIC_ACCESS_BLOCK):
        res = _one(dev_run, tenant, typ)
        assert (res.protect, res.retain_on_delete) == (retain, retain), f"{tenant} {typ}"
    bucket = _one(dev_run, tenant, guards.BUCKET)
    assert bucket.inputs.get("forceDestroy") is (not retain)
    # The README's offboarding steps: a retained key waits 30 days once deleted by hand, a free tier's 7.
    assert _one(dev_run, tenant, "aws:kms/key:Key").inputs["deletionWindowInDays"] == (30 if retain else 7)
    # Non-data resources are never protected: offboarding removes them.
    assert _one(dev_run, tenant, "aws:budgets/budget:Budget").protect is False


@pytest.mark.parametrize("tenant", TENANT_IDS)
def test_the_key_is_created_after_the_role_its_policy_grants(dev_run: MockRun, tenant: str) -> None:
    # KMS refuses a key policy naming a principal that does not exist yet (MalformedPolicyDocumentException):
    # with nothing ordering the two, the first `pulumi up` of a tenant could create its key before its role.
    key = _one(dev_run, tenant, "aws:kms/key:Key")
    role = _one(dev_run, tenant, "aws:iam/role:Role")
    assert role.urn in key.dependencies
    users = next(s for s in json.loads(key.inputs["policy"])["Statement"] if s["Sid"] == "TenantRoleUses")
    assert users["Principal"] == {"AWS": role.state["arn"]}
    # The role's policy names the key, so it follows the key: role, then key, then the role's policy.
    policy = _one(dev_run, tenant, "aws:iam/rolePolicy:RolePolicy")
    assert key.urn in policy.dependencies and role.urn in policy.dependencies


def test_stack_outputs_give_the_controller_its_scale_targets(dev_run: MockRun, dev_config: Config) -> None:
    tenants = dev_run.outputs["tenants"]
    for entry in dev_config.tenants:
        out = tenants[entry.id]
        assert out["bucket"] == _one(dev_run, entry.id, guards.BUCKET).id
        assert out["key_arn"] == _one(dev_run, entry.id, "aws:kms/key:Key").state["arn"]
        assert out["role_arn"].endswith(f":role/tenantops-dev-{entry.id}-workload")
        targets = {t["workload"]: t for t in out["scale_targets"]}
        assert sorted(targets) == sorted(w.name for w in entry.workloads)
        for workload in entry.workloads:
            target = targets[workload.name]
            if entry.isolation == "silo":
                assert (target["kind"], target["name"]) == ("asg", asg_name("dev", entry.id, workload.name))
            else:
                assert (target["kind"], target["namespace"], target["name"]) == (
                    "kubernetes", namespace(entry.id), workload.name)
            assert (target["min_replicas"], target["max_replicas"]) == (workload.min_replicas, workload.max_replicas)
    assert dev_run.outputs["environment"] == "dev"


def test_prod_stack_names_resources_for_prod_and_binds_pod_identity(prod_run: MockRun) -> None:
    assert prod_run.outputs["environment"] == "prod"
    assert {b.id for b in prod_run.of_type(guards.BUCKET)} == {f"tenantops-prod-{t}-data" for t in TENANT_IDS}
    associations = prod_run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert {(a.inputs["namespace"], a.inputs["serviceAccount"]) for a in associations} == {
        (namespace(t), "workload") for t in TENANT_IDS if t not in ("acme", "globex")} | {
        ("tenantops", "tenantops-controller")}  # the controller's own identity (test_controller_identity)
    assert all(a.inputs["clusterName"] == "tenantops-prod" for a in associations)


def _effective_region(run: MockRun, resource: guards.Recorded) -> str:
    """Where the provider would manage a resource: its own `region` argument, else its provider's region."""
    providers = {r.urn: r for r in run.of_type("pulumi:providers:aws")}
    return str(resource.inputs.get("region") or providers[resource.provider.rsplit("::", 1)[0]].inputs["region"])


def test_pod_identity_associations_are_made_in_the_clusters_region(prod_run: MockRun) -> None:
    # Pooled tenants keep their key and bucket in their own region but run in the stack's one cluster:
    # an association in eu-central-1 for a cluster in us-east-1 fails `pulumi up` with "cluster not found".
    associations = prod_run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    controller = next(a for a in associations if a.inputs["namespace"] == "tenantops")
    stack_region = _effective_region(prod_run, controller)
    assert stack_region == "us-east-1"
    assert {a.inputs["namespace"]: _effective_region(prod_run, a) for a in associations} == {
        a.inputs["namespace"]: stack_region for a in associations}
    # ... while the tenant's data stays in the tenant's region.
    (umbrella_bucket,) = [r for r in prod_run.tenant_resources("umbrella") if r.type == guards.BUCKET]
    assert _effective_region(prod_run, umbrella_bucket) == "eu-central-1"


def _egress_allows(group: guards.Recorded, *, prefix_list: str | None = None, cidr_ip: str | None = None,
                   port: int) -> bool:
    """Whether a security group's egress rules let TCP to `port` out to a prefix list or an address."""
    import ipaddress

    for rule in group.inputs.get("egress") or []:
        protocol, low, high = str(rule["protocol"]), int(rule["fromPort"]), int(rule["toPort"])
        if not (protocol == "-1" or (protocol == "tcp" and low <= port <= high)):
            continue
        if prefix_list is not None and prefix_list in (rule.get("prefixListIds") or []):
            return True
        if cidr_ip is not None and any(ipaddress.ip_address(cidr_ip) in ipaddress.ip_network(c)
                                       for c in rule.get("cidrBlocks") or []):
            return True
    return False


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_silo_instances_reach_their_bucket_through_the_s3_gateway_endpoint(dev_run: MockRun, tenant: str) -> None:
    # The gateway endpoint routes to S3's public addresses (its prefix list): a group whose egress is the
    # VPC's range only refuses every request of the instances to their own bucket.
    endpoint = _one(dev_run, tenant, "aws:ec2/vpcEndpoint:VpcEndpoint")
    group = _one(dev_run, tenant, "aws:ec2/securityGroup:SecurityGroup")
    assert _egress_allows(group, prefix_list=endpoint.state["prefixListId"], port=443)
    assert not _egress_allows(group, prefix_list=endpoint.state["prefixListId"], port=80)
    assert not _egress_allows(group, cidr_ip="52.216.8.1", port=443)  # nothing else outside the VPC


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_the_s3_gateway_endpoint_reaches_only_the_tenants_own_bucket(dev_run: MockRun, tenant: str) -> None:
    # Without an endpoint policy the gateway endpoint allows every request to every bucket of every
    # account: code on a silo instance could copy the tenant's data to any bucket with any credentials.
    endpoint = _one(dev_run, tenant, "aws:ec2/vpcEndpoint:VpcEndpoint")
    bucket = _one(dev_run, tenant, "aws:s3/bucket:Bucket")
    policy = json.loads(endpoint.inputs["policy"])
    resources = sorted(r for s in policy["Statement"] for r in guards._as_list(s["Resource"]))
    assert resources == [bucket.state["arn"], f"{bucket.state['arn']}/*"]
    assert all(s["Effect"] == "Allow" and "NotResource" not in s and "NotAction" not in s
               for s in policy["Statement"])
    actions = {a for s in policy["Statement"] for a in guards._as_list(s["Action"])}
    assert actions and not any("*" in a for a in actions)
    # A bucket of that name in another account (were the tenant's ever deleted and its name taken) is not it.
    assert all(s["Condition"] == {"StringEquals": {"aws:ResourceAccount": "123456789012"}}
               for s in policy["Statement"])
    scopes = {t: documents.TenantScope(t, "dev", "123456789012", v["region"], v["key_arn"])
              for t, v in dev_run.outputs["tenants"].items()}
    assert guards.cross_tenant_reach(policy, scopes[tenant], scopes.values()) == []


@pytest.mark.parametrize("tenant", TENANT_IDS)
def test_the_log_group_the_role_writes_to_exists_in_the_tenants_region(dev_run: MockRun, dev_config: Config,
                                                                       tenant: str) -> None:
    # The role may create streams and put events in its group, and may not create groups: the program
    # must create the group, or every log call of the tenant's workloads fails.
    policy = json.loads(_one(dev_run, tenant, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    [granted] = next(s for s in policy["Statement"] if "logs:PutLogEvents" in s["Action"])["Resource"]
    group = _one(dev_run, tenant, "aws:cloudwatch/logGroup:LogGroup")
    region = _effective_region(dev_run, group)
    assert region == dev_config.tenant(tenant).region
    assert granted == f"arn:aws:logs:{region}:123456789012:log-group:{group.inputs['name']}:*"
    assert not any(a.startswith("logs:Create") and a != "logs:CreateLogStream"
                   for s in policy["Statement"] for a in s["Action"])
    retain = dev_config.for_tenant(tenant).tier.data_retention == "retain"
    assert (group.protect, group.inputs["retentionInDays"]) == (retain, 365 if retain else 30)
