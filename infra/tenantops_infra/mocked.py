"""Run the real program under Pulumi mocks and keep what it registered: for tests and the benchmark.

The Pulumi CLI and provider plugins are not needed: `pulumi.runtime.set_mocks` stands in for the engine.
The mocks fill the computed fields a real provider would (`id`, `arn`, `keyId`...) so that applies run
(`preview=False`), and a recording monitor keeps each registration's options (protect, retainOnDelete,
ignoreChanges, parent) which the mocks API itself does not expose.

Pulumi's runtime settings are process-global; every `run_program` call installs fresh mocks and a fresh
root stack, so runs in one process do not see each other's resources.
"""

from __future__ import annotations

import hashlib
import os
import runpy
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

ACCOUNT_ID = "123456789012"
PROGRAM = Path(__file__).resolve().parent.parent / "__main__.py"
PROJECT_ROOT = PROGRAM.parent.parent
CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
AVAILABILITY_ZONES = "aws:index/getAvailabilityZones:getAvailabilityZones"


@dataclass
class Recorded:
    """One registered resource: its inputs as the engine saw them (camelCase) and its mocked state."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    custom: bool = True
    parent: str = ""
    provider: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)  # URNs the engine creates before this one


@dataclass
class MockRun:
    resources: list[Recorded]
    outputs: dict[str, Any]
    seconds: float

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    @property
    def by_urn(self) -> dict[str, Recorded]:
        return {r.urn: r for r in self.resources}

    def tenant_resources(self, tenant_id: str) -> list[Recorded]:
        """Every resource under the tenant's component (its descendants, providers included)."""
        roots = {r.urn for r in self.resources if r.type == "tenantops:tenant:Tenant" and r.name == tenant_id}
        by_urn = self.by_urn
        out = []
        for res in self.resources:
            node: Recorded | None = res
            while node is not None and node.parent:
                if node.parent in roots:
                    out.append(res)
                    break
                node = by_urn.get(node.parent)
        return out


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers registrations the way AWS and Kubernetes would: ids, ARNs in the provider's region."""

    def __init__(self, account_id: str = ACCOUNT_ID, zones: Mapping[str, Sequence[str]] | None = None) -> None:
        self.account_id = account_id
        self.zones = dict(zones or {})  # region -> the zone names it offers (default: <region>a, b, c)
        self.region_of_provider: dict[str, str] = {}
        self.state: dict[str, tuple[str, dict[str, Any]]] = {}

    def _region(self, provider_ref: str) -> str:
        return self.region_of_provider.get(provider_ref.rsplit("::", 1)[-1], "us-east-1")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        if typ.startswith("pulumi:providers:"):
            rid = f"{name}-provider-id"
            self.region_of_provider[rid] = str(inputs.get("region", "us-east-1"))
            return rid, inputs
        if not args.custom:
            return None, {}
        region, account = self._region(args.provider or ""), self.account_id
        state = inputs
        if typ == "aws:s3/bucket:Bucket":
            rid = str(inputs.get("bucket") or name)
            state.update(bucket=rid, arn=f"arn:aws:s3:::{rid}", region=region)
        elif typ == "aws:kms/key:Key":
            rid = f"{_short_hash(name)[:8]}-0000-4000-8000-{_short_hash(name + 'k')}"
            state.update(keyId=rid, arn=f"arn:aws:kms:{region}:{account}:key/{rid}")
        elif typ == "aws:iam/role:Role":
            rid = str(inputs.get("name") or name)
            state.update(arn=f"arn:aws:iam::{account}:role/{rid}", uniqueId=f"AROA{_short_hash(rid).upper()}")
        elif typ == "aws:iam/instanceProfile:InstanceProfile":
            rid = str(inputs.get("name") or name)
            state.update(arn=f"arn:aws:iam::{account}:instance-profile/{rid}")
        elif typ == "aws:sns/topic:Topic":
            rid = f"arn:aws:sns:{region}:{account}:{inputs.get('name') or name}"
            state.update(arn=rid)
        elif typ.startswith("kubernetes:"):
            meta = dict(inputs.get("metadata") or {})
            meta.setdefault("name", name)
            state["metadata"] = meta
            rid = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])
        else:
            service = typ.split(":")[1].split("/")[0]
            rid = str(inputs.get("name") or f"{name}-{_short_hash(name)[:8]}")
            state.setdefault("arn", f"arn:aws:{service}:{region}:{account}:{typ.rsplit(':', 1)[-1].lower()}/{rid}")
            if typ == "aws:ec2/launchTemplate:LaunchTemplate":
                state["latestVersion"] = 1
            elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint" and inputs.get("vpcEndpointType") == "Gateway":
                state["prefixListId"] = f"pl-{_short_hash(name)[:8]}"
        state.setdefault("id", rid)
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == CALLER_IDENTITY:
            return {"accountId": self.account_id, "arn": f"arn:aws:iam::{self.account_id}:user/ci",
                    "userId": "AIDACI", "id": self.account_id}, []
        if args.token == AVAILABILITY_ZONES:
            region = str(args.args.get("region") or self._region(args.provider or ""))
            names = list(self.zones.get(region, [f"{region}{z}" for z in "abc"]))
            return {"id": region, "region": region, "names": names, "groupNames": [region] * len(names),
                    "zoneIds": [f"{region[:3]}{region.split('-')[-1]}-az{i + 1}" for i in range(len(names))]}, []
        return {}, []


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps each registration's resource options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Recorded] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources[response.urn]
        self.recorded.append(Recorded(
            type=request.type,
            name=request.name,
            urn=response.urn,
            inputs=dict(rpc.deserialize_properties(request.object)),
            state=dict(registration.state or {}),
            id=registration.id or "",
            custom=bool(request.custom),
            parent=request.parent,
            provider=request.provider,
            protect=request.HasField("protect") and request.protect,
            retain_on_delete=request.HasField("retainOnDelete") and request.retainOnDelete,
            ignore_changes=list(request.ignoreChanges),
            dependencies=list(request.dependencies),
        ))
        return response


_PATH_VARIABLES = ("TENANTOPS_CATALOG", "TENANTOPS_POLICIES")


@contextmanager
def _environment(environ: Mapping[str, str]) -> Iterator[None]:
    """Only the given TENANTOPS_* path variables are visible to the program while it runs."""
    saved = {k: os.environ.get(k) for k in _PATH_VARIABLES}
    try:
        for key in _PATH_VARIABLES:
            os.environ.pop(key, None)
            if key in environ:
                os.environ[key] = environ[key]
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_program(
    config: Mapping[str, str],
    *,
    stack: str = "dev",
    environ: Mapping[str, str] | None = None,
    program: Path = PROGRAM,
    account_id: str = ACCOUNT_ID,
    zones: Mapping[str, Sequence[str]] | None = None,
) -> MockRun:
    """Run `program` under fresh mocks with stack `config` (`{"tenantops:catalog": ...}`); wait for all of it.
    `zones` gives the availability zones a region offers (`{"us-west-1": ["us-west-1b", "us-west-1c"]}`).

    Stack outputs are resolved inside a `pulumi.runtime.test` function returning an Output, so every
    apply has run (and any exception in one fails the run) by the time this returns.
    """
    mocks = RecordingMocks(account_id, zones)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="tenantops", stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config))
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator, unused-ignore]
    def execute() -> pulumi.Output[None]:
        with _environment(environ or {}):
            runpy.run_path(str(program), run_name="__main__")
        root = pulumi.runtime.get_root_resource()
        exported = dict(getattr(root, "outputs", {}))
        return pulumi.Output.from_input(exported).apply(outputs.update)

    start = time.perf_counter()
    execute()
    return MockRun(monitor.recorded, outputs, time.perf_counter() - start)
