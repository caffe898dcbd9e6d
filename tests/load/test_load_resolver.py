"""The TTL-honouring resolver against a real DNS server on loopback (dnslib)."""

from __future__ import annotations

import math
import threading
import time

import pytest

from gameday.load.resolver import (
    DNSResolutionError,
    TTLResolver,
    parse_nameserver,
)
from gameday.netutil import is_loopback


class Clock:
    """A hand-driven monotonic clock: TTL expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_answer_is_kept_exactly_for_its_ttl_then_re_resolved(dns, regions) -> None:
    clock = Clock()
    resolver = TTLResolver("api.lab.internal", nameserver=dns.nameserver, clock=clock)
    first = resolver.resolve()
    assert first.addresses == (regions[0].address,) and first.ttl == 1.0
    assert resolver.lookups == 1 and dns.queries == 1
    dns.point_to(regions[1].address)
    clock.now += 0.99
    assert resolver.resolve().address == regions[0].address  # still within the TTL
    assert dns.queries == 1
    clock.now += 0.02
    assert resolver.resolve().address == regions[1].address  # expired: asked again
    assert resolver.lookups == 2 and dns.queries == 2


def test_users_sharing_a_resolver_send_one_query_per_expiry(dns, regions) -> None:
    """Eight users find the answer expired while the refresh is in flight: one query goes
    out, the others wait for its answer (the nameserver holds every query for up to 0.5 s,
    the window in which extra queries would show)."""
    clock = Clock()
    resolver = TTLResolver("api.lab.internal", nameserver=dns.nameserver, clock=clock)
    resolver.resolve()
    dns.point_to(regions[1].address)
    clock.now += 2
    dns.answer.hold_for = 0.5
    start = threading.Barrier(8)
    answers: list[str] = []

    def user() -> None:
        start.wait()
        answers.append(resolver.resolve().address)

    threads = [threading.Thread(target=user) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert answers == [regions[1].address] * 8
    assert dns.queries == 2 and resolver.lookups == 2


def test_sticky_mode_never_asks_again(dns, regions) -> None:
    clock = Clock()
    resolver = TTLResolver(
        "api.lab.internal", nameserver=dns.nameserver, mode="sticky", clock=clock
    )
    assert resolver.resolve().address == regions[0].address
    dns.point_to(regions[1].address)
    clock.now += 3600
    assert resolver.resolve().address == regions[0].address
    assert resolver.lookups == 1 and resolver.cached is not None
    assert math.isinf(resolver.cached.expires)


def test_unknown_name_is_a_resolution_error(dns) -> None:
    resolver = TTLResolver("nosuch.lab.internal", nameserver=dns.nameserver)
    with pytest.raises(DNSResolutionError, match="no such name"):
        resolver.resolve()


def test_silent_nameserver_times_out_quickly() -> None:
    resolver = TTLResolver("api.lab.internal", nameserver="127.0.0.1:9", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(DNSResolutionError):
        resolver.resolve()
    assert time.monotonic() - started < 3


def test_ip_literals_and_localhost_need_no_dns() -> None:
    literal = TTLResolver("127.0.0.5")
    assert literal.resolve().address == "127.0.0.5" and literal.lookups == 0
    assert TTLResolver("[::1]").resolve().address == "::1"
    assert is_loopback(TTLResolver("localhost").resolve().address)


def test_parse_nameserver_and_loopback() -> None:
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_nameserver("[::1]:5300") == ("::1", 5300)
    for bad in ("", "dns.example:53", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            parse_nameserver(bad)
    assert is_loopback("127.9.9.9") and is_loopback("::1")
    assert not is_loopback("10.0.0.1") and not is_loopback("not-an-ip")


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        TTLResolver("127.0.0.1", mode="forever")  # type: ignore[arg-type]
