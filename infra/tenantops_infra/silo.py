"""A dedicated (silo) tenant's own network and compute: nothing shared with any other tenant.

A VPC of its own with private subnets in three of the availability zones its region offers the account
(two where it offers only two; `silo_zones`), no internet gateway: traffic to S3 stays on a gateway
endpoint whose policy reaches the tenant's own bucket only, which the workloads' security group lets
HTTPS out to. Per workload a launch template and an Auto Scaling group named by `naming.asg_name`, which
is how the controller finds it. Min and max come from the catalogue; desired capacity belongs to the
controller, so Pulumi ignores later changes to it.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tenantops.config.catalog import Workload
from tenantops.structs.naming import asg_name, launch_template_name, resource_prefix
from tenantops_infra import documents
from tenantops_infra.tags import asg_tags, with_name

SILO_ZONES = 3  # subnets (and so zones) per silo VPC when the region offers that many
MIN_SILO_ZONES = 2  # fewer, and one zone's outage takes every instance of the tenant down
SUBNET_SUFFIXES = ("a", "b", "c")  # the subnets' resource names: by position, so URNs stay as they were
DEFAULT_IMAGE = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def silo_zones(tenant_id: str, region: str, offered: Sequence[str]) -> list[str]:
    """The zones a silo tenant's subnets go in: the first `SILO_ZONES` of those the region offers, by name.

    Zone names are the account's own (ap-northeast-1 has no `b` for most accounts; us-west-1 offers new
    accounts `b` and `c` only), so they come from the region (`aws.get_availability_zones`), not from
    `<region>a/b/c`. Fewer than `MIN_SILO_ZONES` is an error naming the tenant, region and zones found.
    """
    zones = sorted(set(offered))
    if len(zones) < MIN_SILO_ZONES:
        found = ", ".join(zones) or "none"
        raise pulumi.RunError(
            f"silo tenant {tenant_id}: region {region} offers {len(zones)} availability zone(s) ({found}); "
            f"a silo tenant needs at least {MIN_SILO_ZONES}, so that one zone's outage leaves instances running"
        )
    return zones[:SILO_ZONES]


def available_zones(region: str, parent: pulumi.Resource) -> list[str]:
    """The region's zones in service for the account, without Local and Wavelength Zones (opt-in)."""
    result = aws.get_availability_zones(
        region=region,
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        opts=pulumi.InvokeOptions(parent=parent),
    )
    return list(result.names)


def private_subnets(vpc_cidr: str, count: int) -> list[str]:
    """`count` equal, non-overlapping subnets carved from the VPC range (a /16 gives /19s)."""
    network = ipaddress.ip_network(vpc_cidr)
    extra_bits = max(1, (count - 1).bit_length() + 1)
    return [str(net) for net in list(network.subnets(prefixlen_diff=extra_bits))[:count]]


@dataclass(frozen=True)
class SiloArgs:
    tenant_id: str
    environment: str
    region: str
    workloads: Sequence[Workload]
    tags: dict[str, str]
    key_arn: pulumi.Input[str]
    instance_profile_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    vpc_cidr: str = "10.0.0.0/16"
    image: str = DEFAULT_IMAGE


class SiloFootprint(pulumi.ComponentResource):
    """VPC, private subnets across AZs, S3 gateway endpoint, and a launch template + ASG per workload."""

    vpc: aws.ec2.Vpc
    subnets: list[aws.ec2.Subnet]
    groups: dict[str, aws.autoscaling.Group]

    def __init__(self, name: str, args: SiloArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenantops:tenant:Silo", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = resource_prefix(args.environment, args.tenant_id)
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=with_name(args.tags, prefix),
            opts=child,
        )
        routes = aws.ec2.RouteTable(
            f"{name}-private-routes", vpc_id=self.vpc.id, tags=with_name(args.tags, f"{prefix}-private"), opts=child
        )
        self.subnets = []
        zones = silo_zones(args.tenant_id, args.region, available_zones(args.region, self))
        cidrs = private_subnets(args.vpc_cidr, SILO_ZONES)  # the same ranges whichever zones are used
        for suffix, zone, cidr in zip(SUBNET_SUFFIXES, zones, cidrs, strict=False):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{suffix}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=with_name(args.tags, f"{prefix}-private-{suffix}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{suffix}-routes", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            self.subnets.append(subnet)
        s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[routes.id],
            policy=pulumi.Output.from_input(args.account_id).apply(lambda account: json.dumps(
                documents.s3_endpoint_policy(documents.TenantScope(args.tenant_id, args.environment, account,
                                                                   args.region, "")))),
            tags=with_name(args.tags, f"{prefix}-s3"),
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-workloads",
            vpc_id=self.vpc.id,
            description=f"Workloads of tenant {args.tenant_id}: traffic inside the tenant's VPC only",
            ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [args.vpc_cidr]}],
            # A gateway endpoint routes to S3's public addresses, which a group that lets traffic out to the
            # VPC's range only still refuses: the endpoint's prefix list is what the instances' HTTPS to
            # their bucket is addressed to.
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [args.vpc_cidr]},
                    {"protocol": "tcp", "from_port": 443, "to_port": 443,
                     "prefix_list_ids": [s3_endpoint.prefix_list_id]}],
            tags=with_name(args.tags, f"{prefix}-workloads"),
            opts=child,
        )
        self.groups = {}
        for workload in args.workloads:
            group_name = asg_name(args.environment, args.tenant_id, workload.name)
            instance_tags = with_name({**args.tags, "workload": workload.name}, group_name)
            template = aws.ec2.LaunchTemplate(
                f"{name}-{workload.name}-template",
                name=launch_template_name(args.environment, args.tenant_id, workload.name),
                image_id=args.image,
                instance_type=workload.silo_instance_type,
                iam_instance_profile={"arn": args.instance_profile_arn},
                vpc_security_group_ids=[security_group.id],
                metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
                block_device_mappings=[{
                    "device_name": "/dev/xvda",
                    "ebs": {"encrypted": "true", "kms_key_id": args.key_arn, "volume_size": 30, "volume_type": "gp3"},
                }],
                user_data=base64.b64encode(
                    f"#!/bin/sh\necho 'tenant={args.tenant_id} workload={workload.name}' > /etc/tenantops\n".encode()
                ).decode(),
                tag_specifications=[
                    {"resource_type": "instance", "tags": instance_tags},
                    {"resource_type": "volume", "tags": instance_tags},
                ],
                tags=args.tags,
                opts=child,
            )
            self.groups[workload.name] = aws.autoscaling.Group(
                f"{name}-{workload.name}",
                name=group_name,
                min_size=workload.min_replicas,
                max_size=workload.max_replicas,
                desired_capacity=workload.min_replicas,
                vpc_zone_identifiers=[subnet.id for subnet in self.subnets],
                launch_template={"id": template.id, "version": "$Latest"},
                health_check_type="EC2",
                tags=asg_tags({**args.tags, "workload": workload.name}),
                # The controller owns desired capacity; `pulumi up` must not reset it.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desired_capacity"]),
            )
        self.register_outputs({"vpc_id": self.vpc.id})
