"""EC2 in the lab's control plane: network ACLs and subnets, as the data plane reads them.

The fault reconciler (:mod:`gameday.lab.network.impairments`) reads the ACL associated with
each region's subnet here; FIS target resolution reads the subnets and their tags. One
operation is patched: deleting an entry that does not exist is AWS's
``InvalidNetworkAclEntry.NotFound``, not a server error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gameday.lab.controlplane.server import LAB_ACCOUNT_ID, truthy


@dataclass(frozen=True)
class AclEntry:
    """One network ACL entry (protocol as AWS numbers it: "-1" all, "6" TCP, "17" UDP)."""

    rule_number: int
    protocol: str
    action: str
    egress: bool
    cidr: str | None
    port_from: int | None
    port_to: int | None


# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)
# (from here to the end of the module)


def subnet_acl(region: str, subnet_id: str) -> tuple[str | None, list[AclEntry]]:
    """The network ACL associated with ``subnet_id`` right now and its entries."""
    for acl in list(_ec2(region).network_acls.values()):
        if any(a.subnet_id == subnet_id for a in acl.associations):
            entries = [
                AclEntry(
                    rule_number=int(e.rule_number),
                    protocol=str(e.protocol),
                    action=str(e.rule_action).lower(),
                    egress=truthy(e.egress),
                    cidr=e.cidr_block,
                    port_from=_port(e.port_range_from),
                    port_to=_port(e.port_range_to),
                )
                for e in list(acl.network_acl_entries)
            ]
            return acl.id, entries
    return None, []


def _port(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def subnets(region: str) -> list[tuple[str, str, dict[str, str]]]:
    """Every subnet of ``region``: (subnet id, ARN, tags)."""
    found = []
    backend = _ec2(region)
    for subnet in backend.describe_subnets():
        tags = {
            t["key"]: t["value"]
            for t in backend.describe_tags(filters={"resource-id": [subnet.id]})
        }
        arn = f"arn:aws:ec2:{region}:{LAB_ACCOUNT_ID}:subnet/{subnet.id}"
        found.append((subnet.id, arn, tags))
    return found


def _ec2(region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[LAB_ACCOUNT_ID][region]


def install() -> None:
    """``delete_network_acl_entry`` of a missing entry is AWS's error, not a server error."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.network_acls import NetworkAclBackend

    original = NetworkAclBackend.delete_network_acl_entry

    def delete_network_acl_entry(
        self: Any, network_acl_id: str, rule_number: int, egress: bool
    ) -> Any:
        acl = self.get_network_acl(network_acl_id)
        if not any(
            truthy(e.egress) == truthy(egress) and int(e.rule_number) == int(rule_number)
            for e in acl.network_acl_entries
        ):
            direction = "egress" if truthy(egress) else "ingress"
            raise EC2ClientError(
                "InvalidNetworkAclEntry.NotFound",
                f"The network ACL entry identified by {rule_number} ({direction}) does not exist in {network_acl_id}",
            )
        return original(self, network_acl_id, rule_number, egress)

    NetworkAclBackend.delete_network_acl_entry = delete_network_acl_entry
