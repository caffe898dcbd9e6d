"""Network ACL lookups shared by the network ACL actions and probes (not activities).

:func:`find_network_acl` finds the one NACL a drill names (by subnet, id or tag);
:func:`network_acl_allows` evaluates it as AWS does. Read-only.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from gameday.activity import call, fail

__all__ = [
    "EPHEMERAL_PORT",
    "HINTS",
    "check_designation",
    "find_network_acl",
    "network_acl_allows",
]

#: Hints for the errors a read of a network ACL can meet.
HINTS = {
    "InvalidNetworkAclID.NotFound": (
        "check the id with `aws ec2 describe-network-acls` in that region"
    ),
    # moto answers an unknown network ACL id with this code
    "InvalidRouteTableID.NotFound": (
        "check the network ACL id with `aws ec2 describe-network-acls` in that region"
    ),
    "InvalidSubnetID.NotFound": "check the id with `aws ec2 describe-subnets` in that region",
}
#: Where the answer to a TCP client goes back to: a port of the client's ephemeral range
#: (Linux and the IANA dynamic range both include it), for the outbound rules.
EPHEMERAL_PORT = 49152
_PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "all": "-1"}


def _tag_filter(tag: str | dict[str, str]) -> list[dict[str, Any]]:
    if isinstance(tag, dict):
        pairs = list(tag.items())
    else:
        key, sep, value = str(tag).partition("=")
        if not sep or not key:
            raise fail(f'Bad `tag` {tag!r}: write it as \'Key=Value\' or {{"Key": "Value"}}.')
        pairs = [(key, value)]
    return [{"Name": f"tag:{key}", "Values": [value]} for key, value in pairs]


def check_designation(
    subnet_id: str | None, network_acl_id: str | None, tag: str | dict[str, str] | None
) -> None:
    """Raise :class:`ActivityFailed` unless exactly one way of naming the NACL is given."""
    given = [
        name
        for name, v in (("subnet_id", subnet_id), ("network_acl_id", network_acl_id), ("tag", tag))
        if v
    ]
    if len(given) != 1:
        raise fail(
            "Designate the network ACL with exactly one of `subnet_id`, `network_acl_id` or "
            f"`tag` (got {', '.join(given) or 'none'})."
        )
    if tag:
        _tag_filter(tag)


def find_network_acl(
    ec2: Any,
    region: str,
    subnet_id: str | None,
    network_acl_id: str | None,
    tag: str | dict[str, str] | None,
) -> dict[str, Any]:
    """The one network ACL designated by exactly one of subnet id, NACL id or tag."""
    check_designation(subnet_id, network_acl_id, tag)
    if network_acl_id:
        what = f"network ACL {network_acl_id!r} in {region}"
        params: dict[str, Any] = {"NetworkAclIds": [network_acl_id]}
    elif subnet_id:
        what = f"the network ACL of subnet {subnet_id!r} in {region}"
        params = {"Filters": [{"Name": "association.subnet-id", "Values": [subnet_id]}]}
    else:
        what = f"the network ACL tagged {tag!r} in {region}"
        params = {"Filters": _tag_filter(tag)}  # type: ignore[arg-type]
    acls = call(ec2, "describe_network_acls", f"Could not find {what}", HINTS, **params)[
        "NetworkAcls"
    ]
    if not acls:
        hint = (
            "check the subnet id with `aws ec2 describe-subnets`"
            if subnet_id
            else "check the tag on the network ACL with `aws ec2 describe-network-acls`"
        )
        raise fail(f"Found no {what.removeprefix('the ')}: {hint}.")
    if len(acls) > 1:
        ids = ", ".join(a["NetworkAclId"] for a in acls)
        raise fail(f"{what} matches several network ACLs ({ids}): use `network_acl_id`.")
    return acls[0]


def _matches(entry: dict[str, Any], address: str, port: int) -> bool:
    """Whether a NACL entry matches TCP traffic to/from ``address`` on ``port``."""
    protocol = str(entry.get("Protocol", "-1")).lower()
    protocol = _PROTOCOL_NUMBERS.get(protocol, protocol)
    if protocol not in ("-1", "6"):
        return False
    ip = ipaddress.ip_address(address)
    cidr = entry.get("CidrBlock") if ip.version == 4 else entry.get("Ipv6CidrBlock")
    if not cidr or ip not in ipaddress.ip_network(cidr, strict=False):
        return False
    ports = entry.get("PortRange")
    if protocol == "6" and ports:
        return int(ports.get("From", 0)) <= port <= int(ports.get("To", 65535))
    return True


def network_acl_allows(
    acl: dict[str, Any], *, client: str, port: int, egress: bool
) -> tuple[bool, int | None]:
    """AWS's verdict on TCP between ``client`` and the subnet: ``(allowed, deciding rule)``.

    Entries of that direction are evaluated in ascending rule number and the first match
    decides; with none, the implicit ``*`` rule denies (rule ``None``). Inbound, ``port``
    is the service's port; outbound (the answer, NACLs being stateless), the client's.
    """
    entries = sorted(
        (e for e in acl.get("Entries", []) if bool(e.get("Egress")) == egress),
        key=lambda e: int(e["RuleNumber"]),
    )
    for entry in entries:
        if _matches(entry, client, port):
            return entry.get("RuleAction") == "allow", int(entry["RuleNumber"])
    return False, None
