"""EC2 network ACL actions: black-hole a region's endpoint (and let it through again).

A deny entry on the network ACL of the region's subnet drops packets (NACLs are
stateless, so established connections break too): clients time out rather than being
refused, as in a real regional network impairment.
"""

import ipaddress
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from gameday import activity, registry
from gameday.describe.ec2 import HINTS as _READ_HINTS
from gameday.describe.ec2 import check_designation, find_network_acl
from gameday.faults import Undo

__all__ = ["block_endpoint", "unblock_endpoint"]

_MODULE = __name__
_MAX_RULE = 32766  # 32767 is the implicit default rule
_PROTOCOLS = {"all": "-1", "-1": "-1", "tcp": "6", "6": "6", "udp": "17", "17": "17"}
_HINTS = {
    **_READ_HINTS,
    "NetworkAclEntryAlreadyExists": "another rule took that number meanwhile, run the action again",
    "NetworkAclEntryLimitExceeded": "remove unused entries from the network ACL first",
    "InvalidNetworkAclEntry.NotFound": "the entry is already gone",
}


def _free_rule_number(acl: dict[str, Any], egress: bool) -> int:
    """A rule number free in that direction and evaluated before every allow rule."""
    entries = [e for e in acl.get("Entries", []) if bool(e.get("Egress")) == egress]
    taken = {int(e["RuleNumber"]) for e in entries}
    allows = [
        int(e["RuleNumber"])
        for e in entries
        if e.get("RuleAction") == "allow" and int(e["RuleNumber"]) <= _MAX_RULE
    ]
    ceiling = min(allows) if allows else _MAX_RULE + 1
    for number in range(1, ceiling):
        if number not in taken:
            return number
    raise activity.fail(
        f"Network ACL {acl['NetworkAclId']} has no free rule number before its first allow "
        f"rule ({ceiling}): renumber its rules to leave room below {ceiling}."
    )


def _canonical(cidr: Any) -> str | None:
    """``cidr`` in the canonical form AWS stores (``10.0.1.5/24`` -> ``10.0.1.0/24``), or
    None when it is not an IPv4 network."""
    try:
        network = ipaddress.ip_network(str(cidr).strip(), strict=False)
    except ValueError:
        return None
    return str(network) if network.version == 4 else None


def _check_cidr(cidr: Any) -> str:
    activity.require(cidr, "cidr")
    canonical = _canonical(cidr)
    if canonical is None:
        raise activity.fail(
            f"Bad `cidr` {cidr!r}: give an IPv4 network in CIDR notation such as '0.0.0.0/0' "
            "or '10.0.1.0/24'."
        )
    return canonical


def _check_port(port: Any) -> int | None:
    if port is None:
        return None
    try:
        number = int(port)
    except (TypeError, ValueError):
        number = -1
    if isinstance(port, bool) or not 0 <= number <= 65535 or str(number) != str(port).strip():
        raise activity.fail(f"Bad `port` {port!r}: give a port number from 0 to 65535.")
    return number


def _matching_deny(
    acl: dict[str, Any], rule_number: int, egress: bool, cidr: str | None
) -> dict[str, Any] | None:
    wanted = None if cidr is None else (_canonical(cidr) or cidr)
    for e in acl.get("Entries", []):
        if (
            int(e["RuleNumber"]) == rule_number
            and bool(e.get("Egress")) == egress
            and e.get("RuleAction") == "deny"
            and (wanted is None or (_canonical(e.get("CidrBlock")) or e.get("CidrBlock")) == wanted)
        ):
            return e
    return None


def _target(region: str, acl_id: str) -> str:
    return f"ec2:{region}:network-acl:{acl_id}:"


def _records(entry: Any, cidr: str | None, rule_number: Any, egress: Any) -> bool:
    """Whether the ``block_endpoint`` ledger ``entry`` added a deny for ``cidr``,
    ``rule_number`` and ``egress`` (each None: any); shared by block and unblock."""
    args = entry.undo.kwargs
    return (
        (cidr is None or _canonical(args.get("cidr")) == cidr)
        and (rule_number is None or int(args["rule_number"]) == int(rule_number))
        and (egress is None or bool(args.get("egress")) == bool(egress))
    )


def _check_match(protocol: Any, port: Any) -> tuple[str, int | None]:
    """``protocol`` as the number AWS takes and ``port`` checked against it (or fail)."""
    proto = _PROTOCOLS.get(str(protocol).lower(), str(protocol))
    if not proto.lstrip("-").isdigit():
        raise activity.fail(
            f"Unknown `protocol` {protocol!r}: use '-1' (all), 'tcp', 'udp' or a number."
        )
    port = _check_port(port)
    if port is not None and proto not in ("6", "17"):
        raise activity.fail("A `port` needs `protocol` 'tcp' or 'udp': set one or drop the port.")
    return proto, port


def _reusable_block(book: Any, acl: dict[str, Any], outcome: dict[str, Any]) -> Any:
    """The open ``block_endpoint`` fault whose deny with the same match is still in place
    on ``acl`` (to reuse instead of adding another), or None."""
    region, cidr, egress = outcome["region"], outcome["cidr"], outcome["egress"]
    for entry in book.open_entries(
        activity="block_endpoint", target_prefix=_target(region, acl["NetworkAclId"])
    ):
        same = (
            _records(entry, cidr, None, egress)
            and entry.arguments.get("protocol") == outcome["protocol"]
            and entry.arguments.get("port") == outcome["port"]
        )
        if same and _matching_deny(acl, int(entry.undo.kwargs["rule_number"]), egress, cidr):
            return entry
    return None


def _add_deny(
    ec2: Any,
    acl: dict[str, Any],
    outcome: dict[str, Any],
    subnet_id: str | None,
    configuration: Configuration,
) -> tuple[int, str]:
    """Add the deny entry of ``outcome``'s match under the first free rule number, written
    to the fault ledger first; (rule number, fault id)."""
    region, acl_id, egress = outcome["region"], acl["NetworkAclId"], outcome["egress"]
    cidr, proto, port = outcome["cidr"], outcome["protocol"], outcome["port"]
    rule_number = _free_rule_number(acl, egress)
    params: dict[str, Any] = {
        "NetworkAclId": acl_id,
        "RuleNumber": rule_number,
        "Protocol": proto,
        "RuleAction": "deny",
        "Egress": egress,
        "CidrBlock": cidr,
    }
    if proto in ("6", "17"):
        # AWS requires a port range for tcp and udp: no `port` means all of them
        low, high = (port, port) if port is not None else (0, 65535)
        params["PortRange"] = {"From": low, "To": high}

    fault_id, _ = activity.inject(
        activity="block_endpoint",
        target=f"{_target(region, acl_id)}{'egress' if egress else 'ingress'}:{rule_number}",
        arguments={
            "region": region,
            "network_acl_id": acl_id,
            "subnet_id": subnet_id,
            "cidr": cidr,
            "protocol": proto,
            "port": port,
            "egress": egress,
        },
        undo=Undo(
            _MODULE,
            "unblock_endpoint",
            {
                "region": region,
                "network_acl_id": acl_id,
                "rule_number": rule_number,
                "egress": egress,
                "cidr": cidr,
            },
        ),
        configuration=configuration,
        apply=lambda _id: ec2.create_network_acl_entry(**params),
        failure=f"Could not add a deny entry to network ACL {acl_id} in {region}",
        hints=_HINTS,
    )
    return rule_number, fault_id


def _delete_denies(
    ec2: Any, acl: dict[str, Any], region: str, planned: list[tuple[int, bool, Any]]
) -> list[int]:
    """Delete the ``planned`` (rule number, egress, cidr) denies still on ``acl``; the
    rule numbers deleted (a number now holding someone else's rule is left alone)."""
    acl_id = acl["NetworkAclId"]
    removed: list[int] = []
    for number, is_egress, rule_cidr in dict.fromkeys(planned):
        if not _matching_deny(acl, number, is_egress, rule_cidr):
            continue  # already gone, or the number now holds someone else's rule
        try:
            activity.call(
                ec2,
                "delete_network_acl_entry",
                f"Could not delete deny entry {number} from network ACL {acl_id} in {region}",
                _HINTS,
                NetworkAclId=acl_id,
                RuleNumber=number,
                Egress=is_egress,
            )
        except ActivityFailed as exc:
            if not activity.caused_by(exc, "InvalidNetworkAclEntry.NotFound"):
                raise
        removed.append(number)
    return removed


@registry.fault(
    rollback="unblock_endpoint",
    iam=("ec2:DescribeNetworkAcls", "ec2:CreateNetworkAclEntry"),
    note="deny entry on the subnet's NACL, found by subnet id, NACL id or tag",
)
def block_endpoint(
    region: str,
    subnet_id: str | None = None,
    network_acl_id: str | None = None,
    tag: str | dict[str, str] | None = None,
    cidr: str = "0.0.0.0/0",
    protocol: str = "-1",
    port: int | None = None,
    egress: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Black-hole a region's endpoint with a deny entry on its subnet's network ACL.

    The network ACL is found by exactly one of ``subnet_id``, ``network_acl_id`` or ``tag``
    (``"Key=Value"``). The deny entry matches ``cidr`` (default everything), ``protocol``
    (``-1``/``all``, ``tcp``, ``udp`` or a number) and, for tcp/udp, ``port`` (default: all
    ports); ``cidr`` is recorded in the canonical form AWS stores. It takes the
    lowest free rule number that is evaluated before every allow rule. Idempotent: a deny
    this harness already added with the same match is reused. The entry is written to the
    fault ledger before the call. Roll back with ``unblock_endpoint``.

    Returns ``region``, ``network_acl_id``, ``rule_number``, ``egress``, ``cidr``,
    ``changed`` and ``fault_id``.
    """
    region = activity.check_region(region)
    cidr = _check_cidr(cidr)
    proto, port = _check_match(protocol, port)
    check_designation(subnet_id, network_acl_id, tag)
    ec2 = activity.connect("ec2", region, configuration, secrets)
    activity.guard(region, configuration, secrets)
    acl = find_network_acl(ec2, region, subnet_id, network_acl_id, tag)
    outcome: dict[str, Any] = {
        "region": region,
        "network_acl_id": acl["NetworkAclId"],
        "egress": bool(egress),
        "cidr": cidr,
        "protocol": proto,
        "port": port,
        "changed": False,
        "fault_id": None,
    }
    book = activity.ledger(configuration)
    reused = _reusable_block(book, acl, outcome)
    if reused is not None:
        outcome.update(rule_number=int(reused.undo.kwargs["rule_number"]), fault_id=reused.id)
        return outcome
    rule_number, fault_id = _add_deny(ec2, acl, outcome, subnet_id, configuration)
    outcome.update(rule_number=rule_number, changed=True, fault_id=fault_id)
    return outcome


@registry.rollback(iam=("ec2:DescribeNetworkAcls", "ec2:DeleteNetworkAclEntry"))
def unblock_endpoint(
    region: str,
    subnet_id: str | None = None,
    network_acl_id: str | None = None,
    tag: str | dict[str, str] | None = None,
    cidr: str | None = None,
    rule_number: int | None = None,
    egress: bool | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Remove the deny entries ``block_endpoint`` added (its rollback).

    Designate the network ACL as for ``block_endpoint``. Removes exactly the entries the
    fault ledger records as added to that network ACL and not yet reverted (narrowed by
    ``cidr``, ``rule_number`` or ``egress`` when given); an entry is deleted only if its
    rule number still holds that deny, so a rule someone else wrote is never touched.
    With ``rule_number`` and no ledger record, deletes that rule only if it is a deny.
    Idempotent.

    Returns ``region``, ``network_acl_id``, ``removed`` (rule numbers deleted) and
    ``reverted`` (ledger entry ids closed).
    """
    region = activity.check_region(region)
    check_designation(subnet_id, network_acl_id, tag)
    if cidr is not None:
        cidr = _check_cidr(cidr)
    ec2 = activity.connect("ec2", region, configuration, secrets)
    activity.guard(region, configuration, secrets)
    book = activity.ledger(configuration)
    prefix_entries = []
    if network_acl_id:
        prefix_entries = book.open_entries(
            activity="block_endpoint", target_prefix=_target(region, network_acl_id)
        )
    try:
        acl = find_network_acl(ec2, region, subnet_id, network_acl_id, tag)
    except ActivityFailed as exc:
        if prefix_entries and activity.caused_by(
            exc, "InvalidNetworkAclID.NotFound", "InvalidRouteTableID.NotFound"
        ):
            # the network ACL itself is gone, and its entries with it
            book.mark_reverted(prefix_entries, by="unblock_endpoint", note="network ACL gone")
            return {
                "region": region,
                "network_acl_id": network_acl_id,
                "removed": [],
                "reverted": [e.id for e in prefix_entries],
            }
        raise
    acl_id = acl["NetworkAclId"]
    entries = [
        e
        for e in book.open_entries(activity="block_endpoint", target_prefix=_target(region, acl_id))
        if _records(e, cidr, rule_number, egress)
    ]
    planned = [
        (
            int(e.undo.kwargs["rule_number"]),
            bool(e.undo.kwargs.get("egress")),
            e.undo.kwargs.get("cidr"),
        )
        for e in entries
    ]
    if not entries and rule_number is not None:
        planned = [(int(rule_number), bool(egress), cidr)]
    removed = _delete_denies(ec2, acl, region, planned)
    book.mark_reverted(entries, by="unblock_endpoint")
    return {
        "region": region,
        "network_acl_id": acl_id,
        "removed": removed,
        "reverted": [e.id for e in entries],
    }
