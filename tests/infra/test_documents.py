"""Policy documents are pure: any set of tenant ids, even ids that are prefixes of each other, stays apart."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.iam.access_control import IAMPolicy, PermissionResult

from tenantops_infra import documents, guards

_ID = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_REGION = st.sampled_from(["us-east-1", "eu-west-1", "eu-central-1"])


def _scope(tenant: str, region: str = "us-east-1", env: str = "dev") -> documents.TenantScope:
    return documents.TenantScope(tenant, env, "123456789012", region,
                                 f"arn:aws:kms:{region}:123456789012:key/{tenant}-0000")


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(_ID, min_size=2, max_size=6, unique=True), region=_REGION)
def test_no_role_policy_reaches_another_tenant(ids: list[str], region: str) -> None:
    scopes = [_scope(t, region) for t in ids]
    for scope in scopes:
        assert guards.cross_tenant_reach(documents.workload_role_policy(scope), scope, scopes) == []
        assert guards.cross_tenant_reach(documents.key_policy(scope, silo=True), scope, scopes,
                                         attached_to=scope.key_arn) == []


@settings(max_examples=60, deadline=None)
@given(base=_ID, suffix=st.from_regex(r"-?[a-z0-9]{1,5}", fullmatch=True))
def test_prefix_ids_do_not_overlap(base: str, suffix: str) -> None:
    """`acme` must not reach `acme-eu`'s bucket: no wildcard ends inside a name."""
    other = (base + suffix).strip("-")
    if other == base:
        return
    a, b = _scope(base), _scope(other)
    assert guards.cross_tenant_reach(documents.workload_role_policy(a), a, [a, b]) == []
    assert guards.cross_tenant_reach(documents.workload_role_policy(b), b, [a, b]) == []


@given(env=st.from_regex(r"[a-z]{1,63}", fullmatch=True), tenant=st.from_regex(r"[a-z0-9]{1,40}", fullmatch=True))
def test_names_fit_aws_limits_and_stay_distinct(env: str, tenant: str) -> None:
    bucket = documents.bucket_name(env, tenant)
    role = documents.role_name(env, tenant)
    assert len(bucket) <= 63 and len(role) <= 64
    assert bucket != documents.bucket_name(env, tenant + "x")
    assert not bucket.endswith("-") and not bucket.startswith("-")


def test_short_names_are_readable() -> None:
    assert documents.bucket_name("dev", "acme") == "tenantops-dev-acme-data"
    assert documents.role_name("prod", "acme") == "tenantops-prod-acme-workload"


def test_abac_statement_is_pinned_to_the_tenant_tag() -> None:
    statement = next(s for s in documents.workload_role_policy(_scope("acme"))["Statement"]
                     if s["Sid"] == "TaggedSecrets")
    assert statement["Resource"] == ["arn:aws:secretsmanager:us-east-1:123456789012:secret:*"]
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/tenant": "acme",
                                                       "aws:ResourceTag/environment": "dev"}}
    # Without the condition the same wildcard would reach every tenant's secrets.
    unpinned = {"Statement": [{**statement, "Condition": {}}]}
    assert guards.cross_tenant_reach(unpinned, _scope("acme"), [_scope("acme"), _scope("globex")])


def _reads_secret(policy: documents.Document, action: str, arn: str, tags: dict[str, str]) -> bool:
    """Whether an Allow statement grants `action` on the secret `arn` carrying `tags`, under IAM's rules for
    the operators used here: `StringEquals` on `aws:ResourceTag/<key>` wants the resource to carry the tag with
    that value (absent is false), and a statement's conditions AND."""
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if (statement["Effect"] != "Allow" or action not in statement["Action"]
                or not any(guards.glob_matches(r, arn) for r in resources)):
            continue
        matched = True
        for operator, conditions in statement.get("Condition", {}).items():
            if operator != "StringEquals":
                raise AssertionError(f"operator {operator} not modelled")
            for key, wanted in conditions.items():
                assert key.startswith("aws:ResourceTag/"), key
                matched &= tags.get(key.removeprefix("aws:ResourceTag/")) == wanted
        if matched:
            return True
    return False


def test_a_tenants_role_reads_its_own_environments_secrets_only() -> None:
    """Stacks share an account (dev and prod are both in us-east-1) and a customer has the same id in each:
    a secret tagged only `tenant=acme` is both environments' secret. Pinned to the tenant tag alone, dev
    acme's role read prod acme's database password."""
    dev = documents.workload_role_policy(_scope("acme", env="dev"))
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme-db-AbCdEf"
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"):
        assert _reads_secret(dev, action, arn, {"tenant": "acme", "environment": "dev"})
        assert not _reads_secret(dev, action, arn, {"tenant": "acme", "environment": "prod"})
        assert not _reads_secret(dev, action, arn, {"tenant": "acme"})
        assert not _reads_secret(dev, action, arn, {"tenant": "globex", "environment": "dev"})


def test_trust_policies_by_isolation_model() -> None:
    silo = documents.workload_trust_policy("silo", "acme", account_id="123456789012", region="eu-west-1")
    assert silo["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    pool = documents.workload_trust_policy("pool", "acme", PROD_CLUSTER)["Statement"][0]
    assert pool["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(pool["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    assert pool["Condition"] == {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "tenant-acme",
                                                  "aws:RequestTag/kubernetes-service-account": "workload",
                                                  "aws:RequestTag/eks-cluster-arn": PROD_CLUSTER}}
    without_cluster = documents.workload_trust_policy("pool", "acme")["Statement"][0]["Condition"]["StringEquals"]
    assert "aws:RequestTag/eks-cluster-arn" not in without_cluster and len(without_cluster) == 2


PROD_CLUSTER = "arn:aws:eks:us-east-1:123456789012:cluster/tenantops-prod"


def _service_allowed(policy: documents.Document, context: dict[str, str]) -> bool:
    """Whether a service principal's request with this context is allowed: a trust or resource policy's
    conditions as IAM evaluates them (`...IfExists` holds when its key is absent; a statement's conditions
    AND)."""
    operators = {"StringEquals": lambda pattern, value: pattern == value, "ArnLike": guards.glob_matches}
    for statement in policy["Statement"]:
        held = []
        for operator, conditions in statement.get("Condition", {}).items():
            base = operator.removesuffix("IfExists")
            assert base in operators, operator
            for key, pattern in conditions.items():
                if key not in context:
                    held.append(operator.endswith("IfExists"))
                else:
                    held.append(operators[base](pattern, context[key]))
        if statement["Effect"] == "Allow" and all(held):
            return True
    return False


def test_a_silo_role_is_assumed_only_for_its_own_accounts_instances_in_its_region() -> None:
    """Confused-deputy protection: the EC2 service assumes the role for an instance, and the request names
    the instance's account and ARN. Without conditions, the role was EC2's to assume for whatever instance
    the service was made to act for; pinned, a request whose source is another account, another region or
    anything but an instance is refused. EC2 is not documented to supply these keys for every assumption
    (only iam:PassRole, which never crosses accounts, is), so a request without them is not refused: the
    `IfExists` form protects where the key is present and never locks the tenant's instances out."""
    policy = documents.workload_trust_policy("silo", "acme", account_id="123456789012", region="eu-west-1")
    [statement] = policy["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    own = {"aws:SourceAccount": "123456789012",
           "aws:SourceArn": "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"}
    assert _service_allowed(policy, own)
    assert _service_allowed(policy, {})
    assert not _service_allowed(policy, {**own, "aws:SourceAccount": "999999999999"})
    assert not _service_allowed(policy, {**own, "aws:SourceArn": "arn:aws:ec2:eu-west-1:999999999999:instance/i-0"})
    assert not _service_allowed(policy, {**own, "aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:instance/i-0"})
    assert not _service_allowed(policy, {**own, "aws:SourceArn": "arn:aws:lambda:eu-west-1:123456789012:function:f"})


def test_budgets_publish_to_a_tenants_topic_only_for_a_budget_of_the_stacks_account() -> None:
    """Confused-deputy protection as AWS documents it for budget notifications: the topic policy named the
    account (`aws:SourceAccount`) but not the source, so anything the Budgets service was made to publish
    for in the account reached the tenant's topic. Budgets names both on its publishes; a request from
    another account, from a resource other than a budget, or naming no source is refused."""
    topic = "arn:aws:sns:eu-west-1:123456789012:tenantops-dev-acme-cost-alerts"
    policy = documents.budget_topic_policy(topic, "123456789012")
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "budgets.amazonaws.com"} and statement["Resource"] == topic
    budget = "arn:aws:budgets::123456789012:budget/tenantops-dev-acme"
    own = {"aws:SourceAccount": "123456789012", "aws:SourceArn": budget}
    assert _service_allowed(policy, own)
    assert not _service_allowed(policy, {})
    assert not _service_allowed(policy, {"aws:SourceAccount": "123456789012"})
    assert not _service_allowed(policy, {**own, "aws:SourceAccount": "999999999999"})
    assert not _service_allowed(policy, {**own, "aws:SourceArn": budget.replace("123456789012", "999999999999")})
    assert not _service_allowed(policy, {**own, "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a"})
    china = documents.budget_topic_policy("arn:aws-cn:sns:cn-north-1:123456789012:t", "123456789012")
    assert china["Statement"][0]["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws-cn:budgets::123456789012:*"}


def _trusts(policy: documents.Document, session_tags: dict[str, str]) -> bool:
    """Whether the trust policy lets Pod Identity assume the role with these session tags (`StringEquals` on
    `aws:RequestTag/<key>` wants the tag with that value; a statement's conditions AND)."""
    for statement in policy["Statement"]:
        conditions = statement.get("Condition", {})
        assert set(conditions) <= {"StringEquals"}, conditions
        wanted = conditions.get("StringEquals", {})
        if statement["Effect"] == "Allow" and all(
                session_tags.get(key.removeprefix("aws:RequestTag/")) == value for key, value in wanted.items()):
            return True
    return False


def test_a_cluster_of_the_same_name_elsewhere_does_not_get_the_role() -> None:
    """Cluster names are unique only within an account and region. Pinned to `eks-cluster-name`, an
    association on a `tenantops-prod` cluster in another region of the account (a copy for a region move or
    disaster recovery), or in another account, handed its `tenant-acme` pods prod acme's bucket and key. The
    Pod Identity agent also tags the session with the cluster's ARN, which names account and region too."""
    policy = documents.workload_trust_policy("pool", "acme", PROD_CLUSTER)
    pod = {"kubernetes-namespace": "tenant-acme", "kubernetes-service-account": "workload",
           "eks-cluster-name": "tenantops-prod"}
    assert _trusts(policy, {**pod, "eks-cluster-arn": PROD_CLUSTER})
    for elsewhere in ("arn:aws:eks:eu-west-1:123456789012:cluster/tenantops-prod",
                      "arn:aws:eks:us-east-1:999999999999:cluster/tenantops-prod"):
        assert not _trusts(policy, {**pod, "eks-cluster-arn": elsewhere}), elsewhere
    assert not _trusts(policy, {**pod, "eks-cluster-arn": PROD_CLUSTER, "kubernetes-namespace": "tenant-globex"})
    assert documents.cluster_arn("tenantops-prod", "us-east-1", "123456789012") == PROD_CLUSTER


def test_documents_are_json_serialisable() -> None:
    scope = _scope("acme")
    for doc in (documents.workload_role_policy(scope), documents.bucket_policy(scope),
                documents.key_policy(scope, silo=False), documents.budget_topic_policy("arn:t", "1")):
        assert json.loads(json.dumps(doc)) == doc


def test_only_auto_scaling_may_create_grants_and_only_for_aws_resources() -> None:
    """A grant hands the key to its grantee: it must not be creatable for arbitrary principals.

    Actions are matched as IAM matches them: the account's `kms:Create*` was a grant too, so any principal
    of the account whose identity policy allows `kms:CreateGrant` (AWS-managed policies for EBS, backup or
    databases do) could grant itself Decrypt on every tenant's key, which the key policy gives one role."""
    for silo in (True, False):
        statements = documents.key_policy(_scope("acme"), silo=silo)["Statement"]
        granting = [s for s in statements if any(guards.glob_matches(a, "kms:CreateGrant") for a in s["Action"])]
        if not silo:
            assert granting == []
            continue
        assert len(granting) == 1 and granting[0]["Action"] == ["kms:CreateGrant"]
        assert granting[0]["Principal"]["AWS"].endswith("/AWSServiceRoleForAutoScaling")
        assert granting[0]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_the_account_still_administers_the_key() -> None:
    """What the program and an operator do to a key stays allowed to the account: the alias, the policy
    itself (KMS refuses a policy that would lock its writer out), rotation, tags and deletion."""
    [admin] = [s for s in documents.key_policy(_scope("acme"), silo=True)["Statement"]
               if s["Sid"] == "AccountAdministers"]
    for action in ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:PutKeyPolicy", "kms:GetKeyPolicy",
                   "kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyRotationStatus", "kms:ListResourceTags",
                   "kms:TagResource", "kms:UntagResource", "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion",
                   "kms:CancelKeyDeletion", "kms:DisableKey", "kms:EnableKey", "kms:RevokeGrant"):
        assert any(guards.glob_matches(a, action) for a in admin["Action"]), action
    for use in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant"):
        assert not any(guards.glob_matches(a, use) for a in admin["Action"]), use


def _allows(document: documents.Document, action: str, resource: str) -> bool:
    """Evaluate an identity policy with moto's IAM evaluator (the one its enforcement uses)."""
    verdict = IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)
    return verdict == PermissionResult.PERMITTED


def test_a_tenant_reads_its_own_parameters_by_path_and_no_one_elses() -> None:
    """`GetParametersByPath` is authorised against the ARN of the requested path, not of the parameters.

    So the role must allow the path ARN itself (`parameter/tenantops/dev/acme`) as well as what lies under
    it, and that exact ARN must not be widened into a prefix that reaches `acme-evil`.
    """
    own, other = _scope("acme"), _scope("acme-evil")
    policy = documents.workload_role_policy(own)
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/tenantops/dev/"
    for path in ("acme", "acme/", "acme/db"):
        assert _allows(policy, "ssm:GetParametersByPath", arn + path), path
    assert _allows(policy, "ssm:GetParameter", arn + "acme/db-password")
    assert _allows(policy, "ssm:GetParameters", arn + "acme/db/password")
    for foreign in ("acme-evil", "acme-evil/", "acme-evil/db-password", "acmeevil", "acme-evil/acme/x"):
        for action in ("ssm:GetParametersByPath", "ssm:GetParameter", "ssm:GetParameters"):
            assert not _allows(policy, action, arn + foreign), (action, foreign)
    assert not _allows(policy, "ssm:GetParametersByPath", arn.replace("/dev/", "/prod/") + "acme")
    assert guards.cross_tenant_reach(policy, own, [own, other]) == []
    # The tempting shortcut, a wildcard straight after the id, lets `acme` read `acme-evil` by path.
    statement = next(s for s in policy["Statement"] if s["Sid"] == "OwnParameters")
    statement["Resource"] = [arn + "acme*"]
    assert _allows(policy, "ssm:GetParametersByPath", arn + "acme-evil")
    assert any("acme-evil" in v for v in guards.cross_tenant_reach(policy, own, [own, other]))


def _denied_upload(policy: documents.Document, headers: dict[str, str]) -> bool:
    """Whether a TLS `PutObject` with these headers meets a Deny of the bucket policy, under IAM's rules for
    the operators used here: conditions see only the request's keys; a negated operator (`StringNotEquals`,
    `...IfExists`) is true when its key is absent; `Null: false` wants the key present; operators AND."""
    context = {"aws:SecureTransport": "true", **headers}
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Deny" or not {"s3:PutObject", "s3:*"} & set(actions):
            continue
        matched = True
        for operator, conditions in statement.get("Condition", {}).items():
            for key, wanted in conditions.items():
                values = wanted if isinstance(wanted, list) else [wanted]
                present = key in context
                if operator == "Bool":
                    matched &= present and context[key] in values
                elif operator == "Null":
                    matched &= (not present) == (values == ["true"])
                elif operator in ("StringNotEquals", "StringNotEqualsIfExists"):
                    matched &= (not present) or context[key] not in values
                else:
                    raise AssertionError(f"operator {operator} not modelled")
        if matched:
            return True
    return False


def test_uploads_are_admitted_only_under_the_tenants_own_key() -> None:
    scope = _scope("acme")
    policy = documents.bucket_policy(scope)
    kms, key_id = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"
    # No header: the bucket's default encrypts under the tenant's key. `StringNotEqualsIfExists` on the key
    # id alone is true when the header is absent, and refused every such upload.
    assert not _denied_upload(policy, {})
    assert not _denied_upload(policy, {kms: "aws:kms"})
    assert not _denied_upload(policy, {kms: "aws:kms", key_id: scope.key_arn})
    assert _denied_upload(policy, {kms: "aws:kms", key_id: _scope("globex").key_arn})
    # SSE-S3 names no key: the object would be readable without the tenant's key.
    assert _denied_upload(policy, {kms: "AES256"})
