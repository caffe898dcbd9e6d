"""EC2 network ACL probes: does an endpoint behave as its subnet's network ACL says?

Built on :mod:`gameday.describe.ec2`, which the network ACL actions read through too.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.activity import check_region, connect, fail, require
from gameday.describe.ec2 import (
    EPHEMERAL_PORT,
    check_designation,
    find_network_acl,
    network_acl_allows,
)
from gameday.probes.http import endpoint_available

__all__ = ["network_acl_in_force"]


def _source_for(host: str, port: int) -> str:
    """The local address the OS would send from to reach ``host`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


@registry.probe(iam=("ec2:DescribeNetworkAcls",))
def network_acl_in_force(
    url: str,
    region: str,
    subnet_id: str | None = None,
    network_acl_id: str | None = None,
    tag: str | dict[str, str] | None = None,
    source_address: str | None = None,
    timeout: float = 2.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Whether the endpoint at ``url`` answers exactly when its network ACL lets us in.

    Reads the network ACL (named by exactly one of ``subnet_id``, ``network_acl_id`` or
    ``tag``), evaluates it as AWS does for TCP from ``source_address`` to the URL's port and
    back (see :func:`network_acl_allows`), then sends one HTTP request to ``url``.
    ``in_force`` is true when both agree: allowed and answered, or denied and silent within
    ``timeout`` seconds. A deny that lets traffic through (on another subnet's ACL, below
    an allow rule, not yet propagated) or an endpoint down although allowed makes it false:
    as a steady-state probe it fails an experiment whose fault did nothing.

    ``source_address`` defaults to the address this host sends from; behind NAT, give the
    address AWS sees (the NAT gateway's public IP). Any HTTP status counts as answered.

    Returns ``url``, ``network_acl_id``, ``source_address``, ``allowed``, ``rules``
    (the deciding ``inbound`` and ``outbound`` rule numbers, null for the implicit deny),
    ``answered``, ``status``, ``error`` and ``in_force``.
    """
    require(url, "url", "the endpoint behind the network ACL, e.g. http://10.0.1.5/health")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"Bad `url` {url!r}: give an absolute http:// or https:// URL.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    region = check_region(region)
    check_designation(subnet_id, network_acl_id, tag)
    try:
        client = source_address or _source_for(parts.hostname, port)
        ipaddress.ip_address(client)
    except (OSError, ValueError) as exc:
        raise fail(
            f"Bad `source_address` {source_address!r} (or none found for {url}): give the "
            "IP address AWS sees this probe's traffic come from."
        ) from exc
    ec2 = connect("ec2", region, configuration, secrets)
    acl = find_network_acl(ec2, region, subnet_id, network_acl_id, tag)
    inbound, in_rule = network_acl_allows(acl, client=client, port=port, egress=False)
    outbound, out_rule = network_acl_allows(acl, client=client, port=EPHEMERAL_PORT, egress=True)
    answer = endpoint_available(url, timeout=timeout)
    allowed = inbound and outbound
    answered = answer["status"] is not None
    return {
        "url": url,
        "network_acl_id": acl["NetworkAclId"],
        "source_address": client,
        "allowed": allowed,
        "rules": {"inbound": in_rule, "outbound": out_rule},
        "answered": answered,
        "status": answer["status"],
        "error": answer["error"],
        "in_force": allowed == answered,
    }
