"""A TTL-honouring resolver for the service name, and a sticky variant.

Why: DNS failover only reaches clients that ask again when the record's TTL runs out.
Locust's HTTP client would resolve once per connection through the system's stub; this
resolver asks the configured nameserver (the lab's DNS server, or the system's resolvers)
through dnspython, keeps the answer exactly as long as its TTL, and lets the caller see
when the answer changes. ``mode="sticky"`` resolves once and never again, to show what
long-caching clients (JVMs with a forever cache, pooled connections) suffer.

No gevent here: the same code validates the target in the calling process and, under
Locust's monkey-patching, resolves cooperatively inside the load generator.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.resolver

from gameday.netutil import ip_literal

Mode = Literal["ttl", "sticky"]
MODES: tuple[str, ...] = ("ttl", "sticky")

# Names the system resolves from /etc/hosts (e.g. ``localhost``) carry no TTL: keep them this long.
HOSTS_FILE_TTL = 30.0


class DNSResolutionError(Exception):
    """The name did not resolve (NXDOMAIN, no answer, timeout, unreachable nameserver)."""


class NonLoopbackAddress(Exception):
    """Lab mode: the name resolved to an address outside loopback, so nothing is sent."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One resolution: the addresses, the TTL they came with, and when they expire.

    ``expires`` is on the resolver's clock (``time.monotonic`` by default); ``math.inf`` for
    IP literals and sticky answers.
    """

    addresses: tuple[str, ...]
    ttl: float
    expires: float
    source: str

    @property
    def address(self) -> str:
        """The address a client connects to (the first one, as most stub resolvers do)."""
        return self.addresses[0]


def parse_nameserver(spec: str) -> tuple[str, int]:
    """``"127.0.0.1:5353"`` -> ``("127.0.0.1", 5353)``; ``"[::1]:53"`` and a bare host work too."""
    spec = spec.strip()
    if not spec:
        raise ValueError("empty nameserver")
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif spec.count(":") == 1:
        host, _, port_text = spec.partition(":")
        port = int(port_text)
    else:
        host, port = spec, 53
    ipaddress.ip_address(host)  # a nameserver is given by address: raises ValueError otherwise
    if not 0 < port < 65536:
        raise ValueError(f"nameserver port out of range: {port}")
    return host, port


def _is_localhost(name: str) -> bool:
    name = name.lower()
    return name == "localhost" or name.endswith(".localhost")


class TTLResolver:
    """Resolve ``name`` (A, then AAAA), caching each answer for exactly its TTL.

    ``nameserver`` is ``"host:port"`` (the lab's DNS server) or None for the system's
    resolvers from /etc/resolv.conf, falling back to getaddrinfo (/etc/hosts) for names
    the DNS does not know. ``mode="sticky"`` keeps the first answer forever.
    ``lookups`` counts the queries actually sent.
    """

    def __init__(
        self,
        name: str,
        *,
        nameserver: str | None = None,
        mode: Mode = "ttl",
        timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"resolver mode must be one of {MODES}, got {mode!r}")
        self.name = name.strip().rstrip(".")
        self.nameserver = nameserver or None
        self.mode: Mode = mode
        self.timeout = timeout
        self.lookups = 0
        self._clock = clock
        self._answer: Answer | None = None
        # one lookup at a time: under gevent (monkey-patched, this lock is cooperative) the
        # users of a process share one resolver, and without it every user arriving while
        # the refresh is in flight would send a query of its own (8 users: 8 per TTL)
        self._refresh = threading.Lock()
        self._literal = ip_literal(self.name)
        self._dns = self._make_dns_resolver() if self._literal is None else None

    def _make_dns_resolver(self) -> dns.resolver.Resolver:
        if self.nameserver is None:
            try:
                resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                resolver = dns.resolver.Resolver(configure=False)
        else:
            host, port = parse_nameserver(self.nameserver)
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [host]
            resolver.port = port
        resolver.timeout = self.timeout
        resolver.lifetime = self.timeout
        resolver.cache = None  # this class is the cache, and it honours the TTL
        return resolver

    @property
    def cached(self) -> Answer | None:
        """The answer currently held, if any (expired or not)."""
        return self._answer

    def resolve(self) -> Answer:
        """The current answer: the cached one while its TTL lasts (forever when sticky)."""
        answer = self._answer
        if answer is not None and (self.mode == "sticky" or self._clock() < answer.expires):
            return answer
        with self._refresh:
            answer = self._answer  # another caller may have refreshed it while we waited
            if answer is not None and (self.mode == "sticky" or self._clock() < answer.expires):
                return answer
            answer = self._lookup()
            self._answer = answer
            return answer

    def _lookup(self) -> Answer:
        if self._literal is not None:
            return Answer((self._literal,), math.inf, math.inf, "literal")
        if self.nameserver is None and _is_localhost(self.name):
            # RFC 6761: never sent to a DNS server; the system answers from /etc/hosts.
            return self._query_system()
        self.lookups += 1
        try:
            return self._query_dns()
        except DNSResolutionError:
            if self.nameserver is not None:
                raise
            return self._query_system()

    def _query_dns(self) -> Answer:
        assert self._dns is not None
        where = self.nameserver or "the system resolvers"
        last: Exception | None = None
        for rdtype in ("A", "AAAA"):
            try:
                result = self._dns.resolve(self.name + ".", rdtype, search=False)
            except dns.resolver.NoAnswer as exc:
                last = exc
                continue
            except dns.resolver.NXDOMAIN as exc:
                raise DNSResolutionError(f"{self.name}: no such name at {where}") from exc
            except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
                raise DNSResolutionError(f"{self.name}: no answer from {where} ({exc})") from exc
            except dns.exception.DNSException as exc:
                raise DNSResolutionError(f"{self.name}: {exc}") from exc
            assert result.rrset is not None
            ttl = float(result.rrset.ttl)
            addresses = tuple(str(r.address) for r in result.rrset)
            expires = math.inf if self.mode == "sticky" else self._clock() + ttl
            return Answer(addresses, ttl, expires, "dns")
        raise DNSResolutionError(f"{self.name}: no A or AAAA record at {where}") from last

    def _query_system(self) -> Answer:
        try:
            infos = socket.getaddrinfo(self.name, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise DNSResolutionError(f"{self.name}: does not resolve ({exc})") from exc
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise DNSResolutionError(f"{self.name}: does not resolve")
        expires = math.inf if self.mode == "sticky" else self._clock() + HOSTS_FILE_TTL
        return Answer(addresses, HOSTS_FILE_TTL, expires, "hosts")
