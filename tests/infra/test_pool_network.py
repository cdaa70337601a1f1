"""What a pooled tenant's pods may reach under the NetworkPolicies the program writes in its namespace.

`egress_allowed` is NetworkPolicy's egress semantics for an address outside the cluster's pods: the
connection is allowed when some policy selecting the pod (all of these select every pod) with an Egress
type has a rule whose `ipBlock` contains the address (and no `except` does) and whose ports admit it.
Pod and namespace selectors never match an address outside the cluster.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from tenantops.config import Config
from tenantops_infra.mocked import MockRun

S3_US_EAST_1 = "52.216.8.1"  # an address of S3's public range


def egress_allowed(policies: list[dict[str, Any]], address: str, protocol: str, port: int) -> bool:
    ip = ipaddress.ip_address(address)
    egress = [p for p in policies if "Egress" in p.get("policyTypes", [])]
    for policy in egress:
        for rule in policy.get("egress", []):
            ports = rule.get("ports")
            if ports and not any(p.get("protocol", "TCP") == protocol and p.get("port") == port for p in ports):
                continue
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if block and ip in ipaddress.ip_network(block["cidr"]) and not any(
                        ip in ipaddress.ip_network(e) for e in block.get("except", [])):
                    return True
    return False


def _policies(run: MockRun, tenant: str) -> list[dict[str, Any]]:
    found = [r.inputs["spec"] for r in run.tenant_resources(tenant) if r.type.endswith("NetworkPolicy")]
    assert all(p["podSelector"] == {} for p in found)
    return found


def test_pooled_pods_reach_their_credentials_and_the_aws_apis(dev_run: MockRun, dev_config: Config) -> None:
    # The tenant's role (Pod Identity) is only usable if the pods reach the node's Pod Identity agent and
    # HTTPS to S3, KMS, SSM: a bare default deny leaves them DNS and their own namespace only.
    for tenant in (t.id for t in dev_config.tenants if t.isolation == "pool"):
        policies = _policies(dev_run, tenant)
        assert egress_allowed(policies, "169.254.170.23", "TCP", 80), tenant
        assert egress_allowed(policies, S3_US_EAST_1, "TCP", 443), tenant


@pytest.mark.parametrize(("address", "protocol", "port"), [
    ("10.1.2.3", "TCP", 443),         # another tenant's pod (VPC CNI addresses pods from the VPC)
    ("100.64.7.9", "TCP", 443),       # pods on custom networking's carrier-grade NAT range
    ("172.20.0.10", "TCP", 443),      # a Service's cluster IP
    ("169.254.169.254", "TCP", 80),   # the node's instance metadata: the node role's credentials
    ("169.254.169.254", "TCP", 443),
    (S3_US_EAST_1, "TCP", 80),        # plain HTTP anywhere
    (S3_US_EAST_1, "UDP", 443),
])
def test_pooled_pods_reach_nothing_else_outside_their_namespace(dev_run: MockRun, address: str, protocol: str,
                                                                port: int) -> None:
    assert not egress_allowed(_policies(dev_run, "hooli"), address, protocol, port)
