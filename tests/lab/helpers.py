"""Small real-traffic helpers for lab tests: DNS queries and HTTP calls on loopback."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import dns.resolver

from gameday.lab import Lab


def resolve(lab: Lab, name: str | None = None, *, tcp: bool = False) -> tuple[list[str], int]:
    """Ask the lab's DNS server for ``name`` (default: the service record): (addresses, ttl)."""
    info = lab.info
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [info.dns_host]
    resolver.port = info.dns_port
    resolver.cache = None
    answer = resolver.resolve(name or info.record_name, "A", tcp=tcp, lifetime=2)
    return sorted(a.address for a in answer), answer.rrset.ttl


def request(
    address: str, port: int, method: str, path: str, body: Any = None, timeout: float = 2.0
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request: (status, headers, decoded JSON body)."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), json.loads(data) if data else None
    finally:
        conn.close()


def wait_until[T](check: Callable[[], T], timeout: float, interval: float = 0.02) -> T:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


def deny_all_inbound(
    ec2: Any, network_acl_id: str, rule_number: int, cidr: str = "0.0.0.0/0"
) -> None:
    """The blocked-endpoint fault: a deny of all inbound traffic (from ``cidr``) on a NACL."""
    ec2.create_network_acl_entry(
        NetworkAclId=network_acl_id,
        RuleNumber=rule_number,
        Protocol="-1",
        RuleAction="deny",
        Egress=False,
        CidrBlock=cidr,
    )
