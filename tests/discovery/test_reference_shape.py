"""Discovery on an account shaped like ``examples/reference-stack`` (moto in-process).

What the lab does not build is exercised here: failover *alias* records to internal load
balancers (the region read from the load balancer's name), health checks on CloudWatch
alarms (no endpoint to probe), two subnets per load balancer sharing one network ACL (the
one tagged ``gameday:service`` is chosen), two replicated secrets (the tag decides), weighted
records whose roles come from ``gameday:role`` tags. The expected ids are the ones the
account was built with: the values the reference stack's outputs would give.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from gameday.discovery import discover

NAME = "api.example.internal"
REGIONS = ("us-east-1", "us-west-2")


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": f"gameday:{k}", "Value": v} for k, v in tags.items()]


def _region(region: str, index: int) -> dict[str, Any]:
    """VPC, two subnets sharing one NACL (the first tagged), an internal ALB over them."""
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.{index}.{n}.0/24", AvailabilityZone=f"{region}{zone}"
        )["Subnet"]["SubnetId"]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    tagged = sorted(subnets)[1]  # not the first by id: the tag must decide
    ec2.create_tags(Resources=[tagged], Tags=_tags(service=NAME))
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for subnet in subnets:
        association = ec2.describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
        )["NetworkAcls"][0]["Associations"]
        current = next(a for a in association if a["SubnetId"] == subnet)
        ec2.replace_network_acl_association(
            AssociationId=current["NetworkAclAssociationId"], NetworkAclId=acl
        )
    lb = boto3.client("elbv2", region_name=region).create_load_balancer(
        Name=f"Gameday-Internal-{index}", Subnets=subnets, Scheme="internal"
    )["LoadBalancers"][0]
    return {"subnet": tagged, "acl": acl, "lb": lb}


def _check(route53: Any, region: str, **tags: str) -> str:
    check = route53.create_health_check(
        CallerReference=f"hc-{region}",
        HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": region, "Name": f"gameday-{region}-no-healthy-target"},
            "InsufficientDataHealthStatus": "Unhealthy",
        },
    )["HealthCheck"]["Id"]
    route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=check, AddTags=_tags(service=NAME, **tags)
    )
    return str(check)


def _build(routing: str) -> dict[str, Any]:
    """The reference stack's shape; returns the ids its outputs would name."""
    nets = {region: _region(region, i + 1) for i, region in enumerate(REGIONS)}
    route53 = boto3.client("route53", region_name="us-east-1")
    vpc = boto3.client("ec2", region_name="us-east-1").describe_vpcs()["Vpcs"][-1]["VpcId"]
    zone = route53.create_hosted_zone(
        Name="example.internal",
        CallerReference="zone",
        HostedZoneConfig={"Comment": "", "PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
    )["HostedZone"]["Id"].split("/")[-1]
    checks, changes = {}, []
    for region, role, weight in zip(REGIONS, ("primary", "secondary"), (10, 10), strict=True):
        checks[role] = _check(route53, region, role=role)
        routed: dict[str, Any] = (
            {"Failover": role.upper()} if routing == "failover" else {"Weight": weight}
        )
        lb = nets[region]["lb"]
        changes.append({"Action": "UPSERT", "ResourceRecordSet": {
            "Name": NAME, "Type": "A", "SetIdentifier": f"{region}-{role}",
            "HealthCheckId": checks[role], **routed,
            "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"],
                            "DNSName": f"dualstack.{lb['DNSName']}", "EvaluateTargetHealth": True},
        }})  # fmt: skip
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    rds = boto3.client("rds", region_name="us-east-1")
    rds.create_global_cluster(GlobalClusterIdentifier="orders-global", Engine="aurora-postgresql")
    arns = {}
    for region in REGIONS:
        extra = {"MasterUsername": "orders", "MasterUserPassword": "a-long-password"}
        arns[region] = boto3.client("rds", region_name=region).create_db_cluster(
            DBClusterIdentifier=f"orders-{region}", Engine="aurora-postgresql",
            GlobalClusterIdentifier="orders-global", **(extra if region == REGIONS[0] else {}),
        )["DBCluster"]["DBClusterArn"]  # fmt: skip
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    for name, tags in (("orders/db", _tags(service=NAME)), ("billing/db", [])):
        secrets.create_secret(
            Name=name, SecretString="{}", AddReplicaRegions=[{"Region": REGIONS[1]}], Tags=tags
        )
    role = boto3.client("iam").create_role(
        RoleName="gameday-fis",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    return {"zone": zone, "checks": checks, "nets": nets, "arns": arns, "role": role}


@pytest.mark.parametrize("routing", ["failover", "weighted"])
def test_discovery_reads_the_reference_stacks_shape(account: Any, routing: str) -> None:
    built = _build(routing)
    found = discover(NAME)
    v = found.values
    primary, secondary = (built["nets"][r] for r in REGIONS)
    assert v["gameday_target"] == "aws" and v["aws_endpoint_url"] is None
    assert v["hosted_zone_id"] == built["zone"] and v["service_name"] == NAME
    assert (v["primary_region"], v["secondary_region"]) == REGIONS
    assert v["primary_health_check_id"] == built["checks"]["primary"]
    assert v["secondary_health_check_id"] == built["checks"]["secondary"]
    assert v["primary_endpoint"] == f"http://dualstack.{primary['lb']['DNSName']}"
    assert (v["primary_subnet_id"], v["primary_network_acl_id"]) == (
        primary["subnet"],
        primary["acl"],
    )
    assert (v["secondary_subnet_id"], v["secondary_network_acl_id"]) == (
        secondary["subnet"],
        secondary["acl"],
    )
    assert v["global_cluster_id"] == "orders-global"
    assert v["secondary_db_cluster_arn"] == built["arns"][REGIONS[1]]
    assert v["secret_name"] == "orders/db"
    assert v["fis_role_arn"] == built["role"]
    # moto's DynamoDB keeps no replicas: no global table, reported, and no drill needs it
    assert [m.keys for m in found.missing] == [("table_name", "table_arn")]
    assert found.ruled_out == {"table_name": (), "table_arn": ()}
    assert found.notes and "service_port 80 are assumed" in found.notes[0]
