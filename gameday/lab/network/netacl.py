"""Network ACL evaluation, as AWS does it.

Entries are evaluated in ascending rule-number order, separately for inbound and outbound
traffic, and the first entry that matches decides; when none matches, the implicit ``*``
rule denies. NACLs are stateless: an answer leaving the subnet is evaluated against the
outbound rules on its own (destination = the client, port = the client's ephemeral port).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

TCP = "6"
_PROTOCOL_NAMES = {"tcp": "6", "udp": "17", "icmp": "1", "all": "-1"}


@dataclass(frozen=True)
class Rule:
    """One NACL entry in the form the lab evaluates."""

    rule_number: int
    protocol: str
    action: str
    egress: bool
    cidr: str | None
    port_from: int | None = None
    port_to: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, protocol: str, address: str, port: int) -> bool:
        own = _PROTOCOL_NAMES.get(self.protocol.lower(), self.protocol)
        if own not in ("-1", protocol):
            return False
        if not self.cidr:
            return False  # an IPv6-only entry never matches IPv4 traffic
        try:
            if ipaddress.ip_address(address) not in ipaddress.ip_network(self.cidr, strict=False):
                return False
        except ValueError:
            return False
        if own in ("6", "17") and self.port_from is not None:
            return (
                self.port_from
                <= port
                <= (self.port_to if self.port_to is not None else self.port_from)
            )
        return True


def allowed(rules: Iterable[Rule], *, egress: bool, protocol: str, address: str, port: int) -> bool:
    """Whether traffic of ``protocol`` to/from ``address`` on ``port`` passes the rules."""
    for rule in sorted((r for r in rules if r.egress == egress), key=lambda r: r.rule_number):
        if rule.matches(protocol, address, port):
            return rule.action == "allow"
    return False


def connection_allowed(
    rules: Iterable[Rule], *, client: str, client_port: int, service_port: int
) -> bool:
    """Whether a TCP client reaches a service behind the NACL and its answers get back."""
    rules = list(rules)
    return allowed(
        rules, egress=False, protocol=TCP, address=client, port=service_port
    ) and allowed(rules, egress=True, protocol=TCP, address=client, port=client_port)


def deny_entries(rules: Iterable[Rule]) -> list[Rule]:
    """The explicit deny entries (the implicit 32767 ``*`` rules excluded)."""
    return [r for r in rules if r.action == "deny" and r.rule_number < 32767]
