"""network_acl_in_force: AWS's NACL evaluation, and an endpoint that ignores its NACL caught.

The NACLs live in moto (real boto3 calls); the endpoint is a real HTTP server on loopback.
A server that answers although a deny rule covers it is exactly "a NACL that did nothing".
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from gameday import aws, faults
from gameday.describe.ec2 import network_acl_allows
from gameday.probes.ec2 import network_acl_in_force
from tests.probes.conftest import Regions


def entry(number: int, action: str, cidr: str = "0.0.0.0/0", **extra: object) -> dict:
    return {
        "RuleNumber": number,
        "RuleAction": action,
        "Egress": extra.pop("egress", False),
        "Protocol": extra.pop("protocol", "-1"),
        "CidrBlock": cidr,
        **extra,
    }


@pytest.mark.parametrize(
    ("entries", "allowed", "rule"),
    [
        ([entry(100, "allow"), entry(32767, "deny")], True, 100),
        ([entry(1, "deny"), entry(100, "allow")], False, 1),
        ([entry(200, "deny"), entry(100, "allow")], True, 100),  # order is by number
        ([entry(1, "deny", "10.0.0.0/8"), entry(100, "allow")], True, 100),  # not our source
        ([entry(1, "deny", protocol="17"), entry(100, "allow")], True, 100),  # UDP only
        ([entry(1, "deny", protocol="6", PortRange={"From": 80, "To": 80})], False, None),
        (
            [
                entry(1, "deny", protocol="6", PortRange={"From": 8000, "To": 9000}),
                entry(2, "allow"),
            ],
            False,
            1,
        ),
        ([{**entry(1, "deny"), "CidrBlock": None, "Ipv6CidrBlock": "::/0"}], False, None),
        ([], False, None),  # the implicit * rule
    ],
)
def test_inbound_evaluation_follows_aws(entries: list, allowed: bool, rule: int | None) -> None:
    acl = {"Entries": entries}
    assert network_acl_allows(acl, client="127.0.0.1", port=8080, egress=False) == (allowed, rule)


def test_outbound_rules_are_evaluated_on_their_own() -> None:
    acl = {
        "Entries": [
            entry(100, "allow"),
            entry(1, "deny", egress=True),
            entry(2, "allow", egress=True),
        ]
    }
    assert network_acl_allows(acl, client="127.0.0.1", port=8080, egress=False) == (True, 100)
    assert network_acl_allows(acl, client="127.0.0.1", port=49152, egress=True) == (False, 1)


@pytest.fixture
def ec2() -> Iterator[object]:
    from moto import mock_aws

    with mock_aws():
        aws.clear_sessions()
        faults.forget_identities()
        client = boto3.client("ec2", region_name="us-east-1")
        yield client
    aws.clear_sessions()


@pytest.fixture
def subnet(ec2: object) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]  # type: ignore[attr-defined]
    return ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]  # type: ignore[attr-defined]


def _deny_all(ec2: object, subnet: str) -> None:
    acl = ec2.describe_network_acls(  # type: ignore[attr-defined]
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
    )["NetworkAcls"][0]["NetworkAclId"]
    ec2.create_network_acl_entry(  # type: ignore[attr-defined]
        NetworkAclId=acl,
        RuleNumber=1,
        Protocol="-1",
        RuleAction="deny",
        Egress=False,
        CidrBlock="0.0.0.0/0",
    )


def test_an_endpoint_that_answers_under_its_open_nacl_is_in_force(
    ec2: object, subnet: str, regions: Regions
) -> None:
    out = network_acl_in_force(regions.url(0) + "/health", "us-east-1", subnet_id=subnet)
    assert out["allowed"] and out["answered"] and out["in_force"]
    assert out["rules"] == {"inbound": 100, "outbound": 100}
    assert out["source_address"] == "127.0.0.1" and out["status"] == 200


def test_an_endpoint_that_answers_through_a_deny_is_caught(
    ec2: object, subnet: str, regions: Regions
) -> None:
    """The NACL says deny, the endpoint still answers: the fault did nothing."""
    _deny_all(ec2, subnet)
    out = network_acl_in_force(regions.url(0) + "/health", "us-east-1", subnet_id=subnet)
    assert out["allowed"] is False and out["rules"]["inbound"] == 1
    assert out["answered"] is True and out["in_force"] is False


def test_a_silent_endpoint_behind_a_deny_is_in_force(ec2: object, subnet: str) -> None:
    _deny_all(ec2, subnet)
    # a loopback port nothing listens on: no HTTP answer
    out = network_acl_in_force(
        "http://127.0.0.1:9/health", "us-east-1", subnet_id=subnet, timeout=1
    )
    assert out["allowed"] is False and out["answered"] is False and out["in_force"] is True


def test_bad_input_fails_before_any_call(ec2: object, subnet: str) -> None:
    with pytest.raises(ActivityFailed, match="absolute http"):
        network_acl_in_force("ftp://x", "us-east-1", subnet_id=subnet)
    with pytest.raises(ActivityFailed, match="exactly one of"):
        network_acl_in_force("http://127.0.0.1:9/", "us-east-1")
    with pytest.raises(ActivityFailed, match="source_address"):
        network_acl_in_force(
            "http://127.0.0.1:9/", "us-east-1", subnet_id=subnet, source_address="me"
        )
    with pytest.raises(ActivityFailed, match=r"Found no network ACL"):
        network_acl_in_force("http://127.0.0.1:9/", "us-east-1", subnet_id="subnet-nope")
