"""The one loopback check of gameday.

Lab mode promises that nothing leaves the machine: the AWS client factory refuses
endpoints off loopback, the load refuses targets and DNS answers off loopback, and the
lab's health checker never probes off loopback. All of them ask :func:`is_loopback`, so
the promise has one definition: 127.0.0.0/8, ``::1``, and IPv4-mapped forms of them
(``::ffff:127.0.0.1`` reaches the same socket). Host names are not addresses: only
:func:`is_loopback_host` accepts the names the resolver library answers locally.
"""

from __future__ import annotations

import ipaddress

__all__ = ["LOOPBACK_NAMES", "ip_literal", "is_loopback", "is_loopback_host"]

#: Host names that always mean this machine (RFC 6761 reserves ``localhost``).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def ip_literal(text: str) -> str | None:
    """The normalised address if ``text`` is an IP literal (brackets allowed), else None."""
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def is_loopback(address: str) -> bool:
    """True for an IP literal in 127.0.0.0/8 or ``::1`` (brackets and IPv4-mapped allowed)."""
    literal = ip_literal(address) if isinstance(address, str) else None
    if literal is None:
        return False
    parsed = ipaddress.ip_address(literal)
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback


def is_loopback_host(host: str) -> bool:
    """:func:`is_loopback`, or one of :data:`LOOPBACK_NAMES` (for URLs' host parts)."""
    return isinstance(host, str) and (host.lower() in LOOPBACK_NAMES or is_loopback(host))
