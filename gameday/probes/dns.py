"""DNS probes: what a client resolving the service name gets, and for how long."""

from typing import Any

import dns.exception
import dns.rdatatype
import dns.resolver
from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.activity import fail, require

__all__ = ["dns_answer"]


@registry.probe()
def dns_answer(
    name: str,
    record_type: str = "A",
    nameserver: str | None = None,
    port: int = 53,
    timeout: float = 2.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Resolve ``name`` and return the addresses and TTL of the answer.

    Asks ``nameserver`` (an IP address, on ``port``; or ``"address:port"``) when given, otherwise the system
    resolver (``/etc/resolv.conf``). No caching: every call is a fresh query. A name with
    no answer, or a server that does not answer within ``timeout`` seconds, gives empty
    ``addresses`` and an ``error`` (``NXDOMAIN``, ``NOANSWER``, ``TIMEOUT``...) rather than
    failing, so a drill can watch DNS change.

    Returns ``name``, ``record_type``, ``addresses`` (sorted), ``ttl`` (seconds or null),
    ``nameserver`` and ``error`` (null when answered).
    """
    require(name, "name", "the DNS name to resolve, e.g. api.example.com")
    try:
        rdtype = dns.rdatatype.from_text(str(record_type).upper())
    except dns.rdatatype.UnknownRdatatype as exc:
        raise fail(f"Unknown `record_type` {record_type!r}: use A, AAAA, CNAME, TXT...") from exc
    if nameserver and nameserver.count(":") == 1:  # "host:port", as GAMEDAY_NAMESERVER
        nameserver, _, given_port = nameserver.partition(":")
        port = int(given_port)
    if nameserver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [nameserver]
        resolver.port = int(port)
    else:
        resolver = dns.resolver.Resolver()
    resolver.lifetime = float(timeout)
    resolver.timeout = float(timeout)
    result: dict[str, Any] = {
        "name": name,
        "record_type": dns.rdatatype.to_text(rdtype),
        "addresses": [],
        "ttl": None,
        "nameserver": f"{nameserver}:{port}" if nameserver else "system",
        "error": None,
    }
    try:
        answer = resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        result["error"] = "NXDOMAIN"
        return result
    except dns.resolver.NoNameservers as exc:
        result["error"] = f"SERVFAIL: {exc}"
        return result
    except dns.exception.Timeout:
        result["error"] = "TIMEOUT"
        return result
    except ValueError as exc:  # a nameserver that is not an IP address
        raise fail(f"Bad `nameserver` {nameserver!r}: give an IP address ({exc}).") from exc
    if answer.rrset is None:
        result["error"] = "NOANSWER"
        return result
    result["addresses"] = sorted(rdata.to_text() for rdata in answer.rrset)
    result["ttl"] = int(answer.rrset.ttl)
    return result
