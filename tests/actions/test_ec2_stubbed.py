"""NACL actions: every AWS call checked against the EC2 service model with Stubber."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday.actions import ec2
from tests.actions.conftest import Stubs, ledger_states

ACL = "acl-0123456789abcdef0"
SUBNET = "subnet-0123456789abcdef0"


def acl(*extra: dict) -> dict:
    entries = [
        {
            "RuleNumber": 1,
            "Protocol": "6",
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "198.51.100.0/24",
            "PortRange": {"From": 22, "To": 22},
        },
        {
            "RuleNumber": 100,
            "Protocol": "-1",
            "RuleAction": "allow",
            "Egress": False,
            "CidrBlock": "0.0.0.0/0",
        },
        {
            "RuleNumber": 32767,
            "Protocol": "-1",
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "0.0.0.0/0",
        },
        *extra,
    ]
    return {"NetworkAcls": [{"NetworkAclId": ACL, "VpcId": "vpc-1", "Entries": entries}]}


BY_SUBNET = {"Filters": [{"Name": "association.subnet-id", "Values": [SUBNET]}]}


def test_block_takes_a_free_number_before_the_allows_and_unblock_removes_it(
    stubs: Stubs, isolated: Path
) -> None:
    stubs.identity()
    e = stubs.stub("ec2")
    e.add_response("describe_network_acls", acl(), BY_SUBNET)
    e.add_response(
        "create_network_acl_entry",
        {},
        {
            "NetworkAclId": ACL,
            "RuleNumber": 2,
            "Protocol": "6",
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "0.0.0.0/0",
            "PortRange": {"From": 443, "To": 443},
        },
    )
    out = ec2.block_endpoint(region="eu-west-1", subnet_id=SUBNET, protocol="tcp", port=443)
    assert (out["network_acl_id"], out["rule_number"], out["changed"]) == (ACL, 2, True)

    added = {
        "RuleNumber": 2,
        "Protocol": "6",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
        "PortRange": {"From": 443, "To": 443},
    }
    e.add_response("describe_network_acls", acl(added), BY_SUBNET)
    e.add_response(
        "delete_network_acl_entry", {}, {"NetworkAclId": ACL, "RuleNumber": 2, "Egress": False}
    )
    back = ec2.unblock_endpoint(region="eu-west-1", subnet_id=SUBNET)
    assert back["removed"] == [2]  # rule 1 (someone else's deny) untouched
    assert ledger_states(isolated) == [("block_endpoint", "reverted")]


def test_nacl_found_by_id_and_by_tag(stubs: Stubs) -> None:
    stubs.identity()
    e = stubs.stub("ec2")
    e.add_response("describe_network_acls", acl(), {"NetworkAclIds": [ACL]})
    e.add_response(
        "create_network_acl_entry",
        {},
        {
            "NetworkAclId": ACL,
            "RuleNumber": 1,
            "Protocol": "-1",
            "RuleAction": "deny",
            "Egress": True,
            "CidrBlock": "0.0.0.0/0",
        },
    )
    assert ec2.block_endpoint(region="eu-west-1", network_acl_id=ACL, egress=True)["changed"]
    e.add_response(
        "describe_network_acls",
        {"NetworkAcls": []},
        {"Filters": [{"Name": "tag:Name", "Values": ["primary"]}]},
    )
    with pytest.raises(ActivityFailed, match="describe-network-acls"):
        ec2.unblock_endpoint(region="eu-west-1", tag="Name=primary")


def test_no_room_before_the_first_allow_is_refused(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    full = {
        "NetworkAcls": [
            {
                "NetworkAclId": ACL,
                "Entries": [
                    {
                        "RuleNumber": 1,
                        "Protocol": "-1",
                        "RuleAction": "allow",
                        "Egress": False,
                        "CidrBlock": "0.0.0.0/0",
                    }
                ],
            }
        ]
    }
    stubs.stub("ec2").add_response("describe_network_acls", full, {"NetworkAclIds": [ACL]})
    with pytest.raises(ActivityFailed, match="renumber"):
        ec2.block_endpoint(region="eu-west-1", network_acl_id=ACL)
    assert ledger_states(isolated) == []


def test_unknown_nacl_is_actionable(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    stubs.stub("ec2").add_client_error(
        "describe_network_acls",
        service_error_code="InvalidNetworkAclID.NotFound",
        service_message="The networkAcl ID 'acl-0' does not exist",
        http_status_code=400,
        expected_params={"NetworkAclIds": ["acl-0"]},
    )
    with pytest.raises(ActivityFailed, match="describe-network-acls"):
        ec2.block_endpoint(region="eu-west-1", network_acl_id="acl-0")
    assert ledger_states(isolated) == []


def test_bad_arguments_fail_before_any_call(stubs: Stubs) -> None:
    with pytest.raises(ActivityFailed, match="not an AWS region"):
        ec2.block_endpoint(region="eu-middle-7", subnet_id=SUBNET)
    with pytest.raises(ActivityFailed, match="exactly one of"):
        ec2.block_endpoint(region="eu-west-1")
    with pytest.raises(ActivityFailed, match="protocol"):
        ec2.block_endpoint(region="eu-west-1", subnet_id=SUBNET, port=80)
    assert stubs.calls == []


def test_cidr_is_recorded_as_aws_stores_it_so_the_rollback_finds_the_deny(
    stubs: Stubs, isolated: Path
) -> None:
    """AWS stores ``10.0.1.5/24`` as ``10.0.1.0/24``: a deny recorded with the text given
    would never match on the rollback, which would then close the fault and leave the deny."""
    stubs.identity()
    e = stubs.stub("ec2")
    e.add_response("describe_network_acls", acl(), BY_SUBNET)
    deny = {
        "RuleNumber": 2,
        "Protocol": "-1",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "10.0.1.0/24",
    }
    e.add_response("create_network_acl_entry", {}, {"NetworkAclId": ACL, **deny})
    out = ec2.block_endpoint(region="eu-west-1", subnet_id=SUBNET, cidr="10.0.1.5/24")
    assert (out["cidr"], out["rule_number"]) == ("10.0.1.0/24", 2)

    e.add_response("describe_network_acls", acl(deny), BY_SUBNET)
    e.add_response(
        "delete_network_acl_entry", {}, {"NetworkAclId": ACL, "RuleNumber": 2, "Egress": False}
    )
    back = ec2.unblock_endpoint(region="eu-west-1", subnet_id=SUBNET, cidr="10.0.1.77/24")
    assert back["removed"] == [2]
    assert ledger_states(isolated) == [("block_endpoint", "reverted")]


def test_tcp_without_a_port_denies_every_port(stubs: Stubs) -> None:
    """AWS requires a port range for tcp and udp entries."""
    stubs.identity()
    e = stubs.stub("ec2")
    e.add_response("describe_network_acls", acl(), {"NetworkAclIds": [ACL]})
    e.add_response(
        "create_network_acl_entry",
        {},
        {
            "NetworkAclId": ACL,
            "RuleNumber": 2,
            "Protocol": "17",
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "0.0.0.0/0",
            "PortRange": {"From": 0, "To": 65535},
        },
    )
    assert ec2.block_endpoint(region="eu-west-1", network_acl_id=ACL, protocol="udp")["changed"]


def test_a_refused_retry_leaves_the_deny_open_for_the_rollback(
    stubs: Stubs, isolated: Path
) -> None:
    """The first attempt timed out after AWS had added the entry; the retry is told the
    number is taken. The deny is in place, so the entry must stay open for the rollback."""
    stubs.identity()
    e = stubs.stub("ec2")
    e.add_response("describe_network_acls", acl(), BY_SUBNET)
    e.add_client_error(
        "create_network_acl_entry",
        service_error_code="NetworkAclEntryAlreadyExists",
        service_message="The network acl entry identified by 2 already exists.",
        http_status_code=400,
        response_meta={"RetryAttempts": 1},
    )
    with pytest.raises(ActivityFailed, match="Could not add a deny entry"):
        ec2.block_endpoint(region="eu-west-1", subnet_id=SUBNET)
    assert ledger_states(isolated) == [("block_endpoint", "pending")]

    deny = {
        "RuleNumber": 2,
        "Protocol": "-1",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
    }
    e.add_response("describe_network_acls", acl(deny), BY_SUBNET)
    e.add_response(
        "delete_network_acl_entry", {}, {"NetworkAclId": ACL, "RuleNumber": 2, "Egress": False}
    )
    assert ec2.unblock_endpoint(region="eu-west-1", subnet_id=SUBNET)["removed"] == [2]
    assert ledger_states(isolated) == [("block_endpoint", "reverted")]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"cidr": "10.0.0.0/33"}, "Bad `cidr`"),
        ({"cidr": "::/0"}, "IPv4 network"),
        ({"protocol": "tcp", "port": "https"}, "Bad `port`"),
        ({"protocol": "tcp", "port": 70000}, "Bad `port`"),
    ],
)
def test_bad_cidr_or_port_fails_before_any_call(
    stubs: Stubs, isolated: Path, arguments: dict, message: str
) -> None:
    with pytest.raises(ActivityFailed, match=message):
        ec2.block_endpoint(region="eu-west-1", subnet_id=SUBNET, **arguments)
    assert stubs.calls == [] and ledger_states(isolated) == []
