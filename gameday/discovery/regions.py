"""The regions behind the service's records, and each region's network.

A record's region comes from the record itself where Route 53 says it (a latency record's
``Region``, an alias to a load balancer whose DNS name carries its region), else from the
``gameday:region`` tag of its health check, else from the enabled region whose target
groups hold the record's address. In that region, the load balancer in front of the
address (the alias target, or the one whose target group holds it) gives the subnets, and
each subnet its network ACL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gameday.discovery.model import TAG_REGION, TAG_SERVICE, DiscoveryError, Missing
from gameday.discovery.reader import Reader
from gameday.discovery.route53 import RoutedRecord, normalise

__all__ = ["RegionNetwork", "network", "region_of"]

#: ``name-123.us-east-1.elb.amazonaws.com`` (and ``internal-...``, ``dualstack.``).
_ELB_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.elb\.amazonaws\.com$")


@dataclass(frozen=True)
class RegionNetwork:
    """What the region's network holds for the drills (empty strings when not found)."""

    subnet_id: str = ""
    network_acl_id: str = ""


def _target_address(record: RoutedRecord) -> str | None:
    """The address the record (or its health check) sends users to."""
    config = record.health_check or {}
    return config.get("IPAddress") or record.address


def region_of(reader: Reader, record: RoutedRecord, service: str) -> str:
    """The AWS region ``record`` routes to; :class:`DiscoveryError` when nothing says."""
    if record.record.get("Region"):
        return str(record.record["Region"])
    match = _ELB_REGION.search((record.address or "").lower())
    if match:
        return match.group(1)
    if record.tags.get(TAG_REGION):
        return record.tags[TAG_REGION]
    address = _target_address(record)
    for region in _enabled_regions(reader):
        if address and any(True for _ in _groups_holding(reader, region, address)):
            return region
    raise DiscoveryError(
        f"cannot tell which region the {record.role} record of {service} "
        f"({record.set_identifier!r}) serves: it is not a latency record or an alias to a load "
        f"balancer, its health check has no {TAG_REGION} tag, and no target group in an "
        f"enabled region holds {address}. Tag the health check {TAG_REGION}=<region>."
    )


def _enabled_regions(reader: Reader) -> list[str]:
    answer = reader.call("ec2", None, "DescribeRegions")
    return sorted(
        r["RegionName"] for r in answer["Regions"] if r.get("OptInStatus") != "not-opted-in"
    )


def _groups_holding(reader: Reader, region: str, address: str) -> Iterator[dict[str, Any]]:
    """The region's target groups with ``address`` registered as a target."""
    for group in reader.pages("elbv2", region, "DescribeTargetGroups", "TargetGroups"):
        health = reader.call(
            "elbv2", region, "DescribeTargetHealth", TargetGroupArn=group["TargetGroupArn"]
        )
        if any(t["Target"]["Id"] == address for t in health["TargetHealthDescriptions"]):
            yield group


def _load_balancer(reader: Reader, region: str, record: RoutedRecord) -> dict[str, Any] | None:
    """The load balancer in front of the record: its alias target, or the one whose target
    group holds the record's address."""
    balancers = list(reader.pages("elbv2", region, "DescribeLoadBalancers", "LoadBalancers"))
    if record.record.get("AliasTarget"):
        target = normalise(record.address or "").removeprefix("dualstack.")
        return next((b for b in balancers if normalise(b["DNSName"]) == target), None)
    address = _target_address(record)
    arns = {
        arn
        for g in _groups_holding(reader, region, address or "")
        for arn in g.get("LoadBalancerArns", [])
    }
    return next((b for b in balancers if b["LoadBalancerArn"] in arns), None)


def network(
    reader: Reader, region: str, record: RoutedRecord, service: str, missing: list[Missing]
) -> RegionNetwork:
    """The region's subnet and network ACL in front of the service (or a :class:`Missing`)."""
    keys = (f"{record.role}_subnet_id", f"{record.role}_network_acl_id")
    balancer = _load_balancer(reader, region, record)
    if balancer is None:
        missing.append(
            Missing(
                keys,
                f"the {record.role} region's load balancer ({region})",
                f"no load balancer in {region} is the record's alias target or has "
                f"{_target_address(record)} in a target group",
            )
        )
        return RegionNetwork()
    subnet_ids = sorted(
        z["SubnetId"] for z in balancer.get("AvailabilityZones", []) if z.get("SubnetId")
    )
    if not subnet_ids:
        missing.append(
            Missing(
                keys,
                f"the subnets of {balancer['LoadBalancerArn']} ({region})",
                "the load balancer lists no subnet",
            )
        )
        return RegionNetwork()
    subnet_id = _preferred_subnet(reader, region, subnet_ids, service)
    acls = reader.call(
        "ec2",
        region,
        "DescribeNetworkAcls",
        Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}],
    )["NetworkAcls"]
    if not acls:
        missing.append(
            Missing(
                keys[1:],
                f"the network ACL of {subnet_id} ({region})",
                "no network ACL is associated with the load balancer's subnet",
            )
        )
        return RegionNetwork(subnet_id=subnet_id)
    return RegionNetwork(subnet_id=subnet_id, network_acl_id=acls[0]["NetworkAclId"])


def _preferred_subnet(reader: Reader, region: str, subnet_ids: list[str], service: str) -> str:
    """The subnet tagged ``gameday:service`` for this service, else the first by id."""
    if len(subnet_ids) > 1:
        subnets = reader.call("ec2", region, "DescribeSubnets", SubnetIds=subnet_ids)["Subnets"]
        for subnet in subnets:
            tags = {t["Key"]: t["Value"] for t in subnet.get("Tags", [])}
            if normalise(tags.get(TAG_SERVICE, "")) == service:
                return str(subnet["SubnetId"])
    return subnet_ids[0]
