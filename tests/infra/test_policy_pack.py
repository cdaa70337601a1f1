"""The policy pack's validations, called as the pulumi-policy SDK calls them on a stack, on what the Pulumi
mocks recorded for the real program: compliant as written, and each guard rejecting its violation."""

from __future__ import annotations

import copy
import json
import os
import selectors
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from tenantops.cli.provision import POLICY_PACK
from tenantops_infra import guards, policy_pack
from tenantops_infra.mocked import MockRun, Recorded

ROOT = Path(__file__).resolve().parents[2]
SSE = guards.SSE


def policy_resources(recorded: Iterable[Recorded]) -> list[PolicyResource]:
    """The stack as the SDK hands it to a stack validation: outputs behind its unknown-checking proxy,
    parents linked to their resource objects, providers as provider resources."""
    recorded = list(recorded)
    providers = {f"{r.urn}::{r.id}": r for r in recorded if r.type.startswith("pulumi:providers:")}
    out: dict[str, PolicyResource] = {}
    for r in recorded:
        opts = PolicyResourceOptions(r.protect, list(r.ignore_changes), None, [], PolicyCustomTimeouts(0, 0, 0), [],
                                     r.parent or None)
        prov = providers.get(r.provider)
        provider = (PolicyProviderResource(prov.type, unknown_checking_proxy(copy.deepcopy(prov.state)), prov.urn,
                                           prov.name) if prov is not None else None)
        out[r.urn] = PolicyResource(r.type, unknown_checking_proxy(copy.deepcopy(r.state or r.inputs)), r.urn, r.name,
                                    opts, provider, None, [], {})
    for r in recorded:
        if r.parent in out:
            out[r.urn].parent = out[r.parent]
    return list(out.values())


def violations(policy: StackValidationPolicy, recorded: Iterable[Recorded]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(policy_resources(recorded)),
                    lambda message, urn=None: found.append((message, urn)))
    return found


def by_name(name: str) -> StackValidationPolicy:
    [policy] = [p for p in policy_pack.POLICIES if p.name == name]
    assert isinstance(policy, StackValidationPolicy)
    return policy


def tenant_urn(run: MockRun, tenant: str) -> str:
    [urn] = [r.urn for r in run.resources if r.type == policy_pack.TENANT and r.name == tenant]
    return urn


def replaced(run: MockRun, match: Callable[[Recorded], bool], change: Callable[[Recorded], Recorded | None]
             ) -> list[Recorded]:
    """The run's resources with each matching one changed (or dropped when `change` returns None)."""
    out = []
    for r in run.resources:
        if match(r):
            changed = change(copy.deepcopy(r))
            if changed is not None:
                out.append(changed)
        else:
            out.append(r)
    return out


def in_tenant(run: MockRun, tenant: str, typ: str) -> Callable[[Recorded], bool]:
    urns = {r.urn for r in run.tenant_resources(tenant)}
    return lambda r: r.type == typ and r.urn in urns


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_as_written_passes_every_policy(stack: str, dev_run: MockRun, prod_run: MockRun) -> None:
    run = dev_run if stack == "dev" else prod_run
    assert len(policy_pack.POLICIES) == 4
    for policy in policy_pack.POLICIES:
        assert policy.enforcement_level == EnforcementLevel.MANDATORY
        assert isinstance(policy, StackValidationPolicy)
        assert violations(policy, run.resources) == [], policy.name


def test_a_tenant_bucket_without_encryption_is_rejected(dev_run: MockRun) -> None:
    policy = by_name("tenant-bucket-encrypted-with-tenant-key")
    without_sse = replaced(dev_run, in_tenant(dev_run, "acme", SSE), lambda r: None)
    [(message, _)] = violations(policy, without_sse)
    assert "bucket tenantops-dev-acme-data:" in message and "no SSE-KMS default encryption" in message


def test_a_bucket_encrypted_with_s3_managed_keys_or_another_tenants_key_is_rejected(dev_run: MockRun) -> None:
    policy = by_name("tenant-bucket-encrypted-with-tenant-key")

    def algorithm(r: Recorded) -> Recorded:
        r.state["rules"][0]["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}
        return r

    assert len(violations(policy, replaced(dev_run, in_tenant(dev_run, "initech", SSE), algorithm))) == 1
    [globex_key] = [r for r in dev_run.tenant_resources("globex") if r.type == policy_pack.KEY]

    def other_key(r: Recorded) -> Recorded:
        r.state["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] = globex_key.state["arn"]
        return r

    [(message, _)] = violations(policy, replaced(dev_run, in_tenant(dev_run, "acme", SSE), other_key))
    assert "tenantops-dev-acme" in message


def test_a_bucket_with_public_access_allowed_is_rejected(dev_run: MockRun) -> None:
    def open_acls(r: Recorded) -> Recorded:
        r.state["blockPublicAcls"] = False
        return r

    found = violations(by_name("tenant-bucket-not-public"),
                       replaced(dev_run, in_tenant(dev_run, "hooli", guards.PUBLIC_ACCESS_BLOCK), open_acls))
    assert [m for m, _ in found] == ["bucket tenantops-dev-hooli-data: public access not fully blocked"]


def test_a_resource_tagged_for_another_tenant_is_rejected(dev_run: MockRun) -> None:
    def retag(r: Recorded) -> Recorded:
        r.state["tags"] = {**r.state["tags"], "tenant": "globex"}
        return r

    found = violations(by_name("tenant-resources-cost-tagged"),
                       replaced(dev_run, in_tenant(dev_run, "acme", "aws:kms/key:Key"), retag))
    assert len(found) == 1 and "aws:kms/key:Key" in found[0][0] and "tenant" in found[0][0]


def test_a_role_policy_reaching_another_tenants_bucket_is_rejected(dev_run: MockRun) -> None:
    def widen(r: Recorded) -> Recorded:
        document = json.loads(r.state["policy"])
        document["Statement"].append({"Sid": "Leak", "Effect": "Allow", "Action": "s3:GetObject",
                                      "Resource": "arn:aws:s3:::tenantops-dev-*/*"})
        r.state["policy"] = json.dumps(document)
        return r

    found = violations(by_name("no-cross-tenant-reach"),
                       replaced(dev_run, in_tenant(dev_run, "acme", policy_pack.ROLE_POLICY), widen))
    assert found and all("acme: statement Leak" in m for m, _ in found)
    assert {urn for _, urn in found} == {r.urn for r in dev_run.tenant_resources("acme")
                                        if r.type == policy_pack.ROLE_POLICY}
    assert any("globex" in m for m, _ in found)


def test_an_s3_endpoint_policy_reaching_another_tenants_bucket_is_rejected(dev_run: MockRun) -> None:
    def widen(r: Recorded) -> Recorded:
        document = json.loads(r.state["policy"])
        document["Statement"].append({"Sid": "Leak", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                      "Resource": "arn:aws:s3:::tenantops-dev-globex-data/*"})
        r.state["policy"] = json.dumps(document)
        return r

    endpoint = in_tenant(dev_run, "acme", "aws:ec2/vpcEndpoint:VpcEndpoint")
    assert violations(by_name("no-cross-tenant-reach"), dev_run.resources) == []
    found = violations(by_name("no-cross-tenant-reach"), replaced(dev_run, endpoint, widen))
    assert found and all("acme: statement Leak" in m and "globex" in m for m, _ in found)


@pytest.fixture
def analyzer(tmp_path: Path) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack directory started as the engine starts it: it prints its port and serves the Analyzer."""
    assert POLICY_PACK == ROOT / "infra" / "policy"  # what `tenantops provision` passes to every preview/up
    manifest = yaml.safe_load((POLICY_PACK / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == "python" and manifest["name"] == policy_pack.PACK_NAME
    # The SDK writes its port to stdout without flushing; the engine's Python host runs packs unbuffered.
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "controllers"), os.environ.get("PYTHONPATH", "")])}
    # stderr goes to a file: a pipe nobody reads fills up with the SDKs' import warnings and blocks the pack
    # before it prints its port.
    log = tmp_path / "policy-pack.log"
    with log.open("wb") as err:
        process = subprocess.Popen([sys.executable, str(POLICY_PACK / "__main__.py")], cwd=POLICY_PACK, env=env,
                                   stdout=subprocess.PIPE, stderr=err)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(process.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=120), f"the pack printed no port: {log.read_text(errors='replace')[-2000:]}"
        port = int(process.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=10)


def analyzer_resources(recorded: Iterable[Recorded]) -> list[analyzer_pb2.AnalyzerResource]:
    """The stack as the engine sends it to AnalyzeStack: properties as a protobuf Struct, parents by URN."""
    out = []
    for r in recorded:
        properties = struct_pb2.Struct()
        properties.update(json.loads(json.dumps(r.state or r.inputs, default=str)))
        out.append(analyzer_pb2.AnalyzerResource(type=r.type, properties=properties, urn=r.urn, name=r.name,
                                                 parent=r.parent))
    return out


def test_the_pack_served_as_the_engine_runs_it_rejects_an_unencrypted_bucket(
        analyzer: analyzer_pb2_grpc.AnalyzerStub, dev_run: MockRun) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == policy_pack.PACK_NAME
    assert {p.name for p in info.policies} == {p.name for p in policy_pack.POLICIES}
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}

    compliant = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=analyzer_resources(
        dev_run.resources)))
    assert list(compliant.diagnostics) == []
    without_sse = replaced(dev_run, in_tenant(dev_run, "acme", SSE), lambda r: None)
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=analyzer_resources(without_sse)))
    [diagnostic] = response.diagnostics
    assert diagnostic.policyName == "tenant-bucket-encrypted-with-tenant-key"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY  # the engine fails the preview or update
    assert "tenantops-dev-acme-data" in diagnostic.message


def test_in_a_first_preview_an_unknown_key_arn_is_reported_as_not_yet_checkable(
        analyzer: analyzer_pb2_grpc.AnalyzerStub, dev_run: MockRun) -> None:
    """A new tenant's key has no ARN before it exists: the pack says it cannot check yet (advisory), not
    that the bucket is unencrypted; the update then checks the known values."""
    def unknown_arn(r: Recorded) -> Recorded:
        r.state["arn"] = rpc.UNKNOWN  # what the engine sends for an output not known during preview
        return r

    preview = replaced(dev_run, in_tenant(dev_run, "acme", policy_pack.KEY), unknown_arn)
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=analyzer_resources(preview)))
    assert response.diagnostics
    assert all(d.enforcementLevel == analyzer_pb2.ADVISORY and "during preview" in d.message
               for d in response.diagnostics)
    assert "tenant-bucket-encrypted-with-tenant-key" in {d.policyName for d in response.diagnostics}
