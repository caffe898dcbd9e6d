"""The stock gameday workload, and the pieces a custom locustfile can reuse.

Run by :mod:`gameday.load.runner` as ``locust -f <this file> --host http://NAME:PORT ...``.
Options reach it as Locust custom arguments (``--write-ratio`` ...), each also readable from
an environment variable (``GAMEDAY_WRITE_RATIO`` ...); custom arguments travel from the
master to its workers with Locust's spawn message. See :func:`add_arguments`.

Reuse in your own locustfile::

    from locust import task
    from gameday.load.locustfile import GamedayUser, new_write_id  # + options and ledger

    class Checkout(GamedayUser):
        @task
        def pay(self):
            self.call("POST", "/pay", op="write", write_id=new_write_id(), json={...})

:class:`GamedayUser` resolves the host name of ``--host`` through the TTL-honouring
resolver before every request, sends to the resolved address with the name in ``Host``,
drops its pooled connections when the answer changes, and tags each request with the
address and write id the ledger records. (For https targets the TLS server name is then the
address, not the name: fine for the lab and for endpoints that do not check SNI.)
"""

from __future__ import annotations

import os
import random
import time
from typing import Any
from urllib.parse import urlsplit

from locust import events, task
from locust.contrib.fasthttp import FastHttpUser

from gameday.load.ledger import DEFAULT_FLUSH_INTERVAL, cohort_of
from gameday.load.recorder import install_ledger
from gameday.load.resolver import (
    MODES,
    DNSResolutionError,
    NonLoopbackAddress,
    TTLResolver,
)
from gameday.netutil import is_loopback

DEFAULTS: dict[str, Any] = {
    "ledger": "",
    "ledger_flush_interval": DEFAULT_FLUSH_INTERVAL,
    "region_header": "X-Region",
    "resolver_mode": "ttl",
    "sticky_share": 0.0,
    "nameserver": "",
    "dns_timeout": 1.0,
    "lab_mode": False,
    "write_ratio": 0.5,
    "think_min": 0.1,
    "think_max": 0.5,
    "connect_timeout": 2.0,
    "network_timeout": 5.0,
}


def _env_default(name: str, env: str) -> Any:
    value = os.environ.get(env)
    default = DEFAULTS[name]
    if value is None or value == "":
        return default
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return type(default)(value)


def add_arguments(parser: Any) -> None:
    """The workload's options (``events.init_command_line_parser`` listener).

    Each ``--opt-name`` defaults to env ``GAMEDAY_OPT_NAME`` (``--nameserver`` to
    ``GAMEDAY_NAMESERVER``, as the lab exports it), then to :data:`DEFAULTS`.
    """

    group = parser.add_argument_group("gameday", "options of the gameday workload")

    def arg(flag: str, help_text: str, **kw: Any) -> None:
        name = flag.lstrip("-").replace("-", "_")
        env = "GAMEDAY_" + name.upper()
        group.add_argument(flag, default=_env_default(name, env), help=f"{help_text} [{env}]", **kw)

    arg("--ledger", "JSONL ledger path, written by the local/master process", type=str)
    arg("--ledger-flush-interval", "seconds between ledger batch flushes", type=float)
    arg("--region-header", "response header that names the serving region", type=str)
    arg("--resolver-mode", "ttl: re-resolve when the TTL expires; sticky: never", choices=MODES)
    arg(
        "--sticky-share",
        "fraction of users that cache their first DNS answer for ever (the sticky cohort; "
        "the others follow --resolver-mode)",
        type=_share,
    )
    arg("--nameserver", "HOST:PORT of the DNS server to ask (empty: the system's)", type=str)
    arg("--dns-timeout", "seconds to wait for a DNS answer", type=float)
    arg("--lab-mode", "refuse to send to any non-loopback address", action="store_true")
    arg("--write-ratio", "share of iterations that write (the rest read acked ids)", type=float)
    arg("--think-min", "minimum think time between requests, seconds", type=float)
    arg("--think-max", "maximum think time between requests, seconds", type=float)
    arg("--connect-timeout", "TCP connect timeout, seconds", type=float)
    arg("--network-timeout", "timeout for each network read/write, seconds", type=float)


def _share(text: str) -> float:
    """argparse type of ``--sticky-share``: a fraction in [0, 1] (Locust exits with this
    message on anything else, before any user starts)."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} is not between 0 and 1")
    return value


_users_created = 0


def next_cohort(share: float, mode: str) -> str:
    """The cohort of the next user of this process (see :func:`gameday.load.ledger.cohort_of`)."""
    global _users_created
    n = _users_created
    _users_created += 1
    return cohort_of(n, share, mode)


def options(environment: Any) -> dict[str, Any]:
    """The workload options in force (parsed options over env over defaults)."""
    parsed = getattr(environment, "parsed_options", None)
    out = {}
    for name in DEFAULTS:
        value = getattr(parsed, name, None) if parsed is not None else None
        out[name] = _env_default(name, "GAMEDAY_" + name.upper()) if value is None else value
    return out


# ------------------------------------------------------------------------------ ids
_last_ms = 0
_seq = 0


def new_write_id() -> str:
    """A client-generated, time-ordered unique id (UUIDv7 layout, RFC 9562).

    48 bits of unix milliseconds, a 12-bit per-process sequence within the millisecond
    (so ids from one process sort in creation order), 62 random bits.
    """
    global _last_ms, _seq
    ms = time.time_ns() // 1_000_000
    if ms > _last_ms:
        _last_ms, _seq = ms, random.getrandbits(8)
    else:
        _seq += 1
        if _seq > 0xFFF:  # more than ~3800 ids in one millisecond: borrow the next one
            _last_ms += 1
            _seq = 0
        ms = _last_ms
    value = (ms << 80) | (0x7 << 76) | (_seq << 64) | (0b10 << 62) | random.getrandbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# ------------------------------------------------------------------------- resolvers
_resolvers: dict[tuple[str, str, str, float], TTLResolver] = {}


def shared_resolver(name: str, nameserver: str, mode: str, timeout: float) -> TTLResolver:
    """One resolver per process and configuration: like a host's stub cache, all users of a
    process see an answer change together, and the nameserver gets one query per TTL."""
    key = (name, nameserver, mode, timeout)
    resolver = _resolvers.get(key)
    if resolver is None:
        resolver = TTLResolver(name, nameserver=nameserver or None, mode=mode, timeout=timeout)  # type: ignore[arg-type]
        _resolvers[key] = resolver
    return resolver


# ----------------------------------------------------------------------------- users
class GamedayUser(FastHttpUser):
    """FastHttpUser that resolves its host like a TTL-honouring client (abstract).

    Timeouts come from ``--connect-timeout`` / ``--network-timeout``; no retries. Each
    user belongs to one cohort (``self.cohort``, recorded with every request): ``sticky``
    for a ``--sticky-share`` of the users, who cache their first DNS answer for ever.
    Use :meth:`call` for requests so the ledger gets the op, address and write id.
    """

    abstract = True
    max_retries = 0

    def __init__(self, environment: Any) -> None:
        opts = options(environment)
        self.gameday_options = opts
        self.connection_timeout = float(opts["connect_timeout"])
        self.network_timeout = float(opts["network_timeout"])
        self._think = (float(opts["think_min"]), float(opts["think_max"]))
        self.write_ratio = float(opts["write_ratio"])
        parts = urlsplit(self.host or "")
        if self.host is not None and not parts.hostname:
            raise ValueError(f"--host must be a URL like http://name:port, got {self.host!r}")
        self.scheme = parts.scheme or "http"
        self.target = parts.hostname or ""
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        host_header = self.target if ":" not in self.target else f"[{self.target}]"
        if self.port not in (80, 443):
            host_header += f":{self.port}"
        # the name goes in every request's Host header while requests go to the resolved
        # address: set once on the client, not copied into each request
        self.default_headers = {**(self.default_headers or {}), "Host": host_header}
        super().__init__(environment)  # (raises StopTest when there is no --host)
        self.lab_mode = bool(opts["lab_mode"])
        if self.lab_mode:
            # a redirect could lead a lab-mode client off loopback: record it, never follow
            # it (set once on the client, so a custom task's own requests are covered too)
            self.client.client.redirect_response_codes = frozenset()
        self.cohort = next_cohort(float(opts["sticky_share"]), str(opts["resolver_mode"]))
        self.resolver = shared_resolver(
            self.target,
            str(opts["nameserver"]),
            self.cohort,  # the cohort is the resolver mode: "ttl" or "sticky"
            float(opts["dns_timeout"]),
        )
        self.address: str | None = None
        self._base = ""
        self.connection_drops = 0

    def wait_time(self) -> float:
        low, high = self._think
        return low + (high - low) * random.random()

    def current_address(self) -> str:
        """The address to send to now; on a changed answer, drop pooled connections."""
        address = self.resolver.resolve().address
        if address != self.address:
            if self.lab_mode and not is_loopback(address):
                raise NonLoopbackAddress(
                    f"{self.target} resolved to {address}, outside loopback: lab mode sends nothing"
                )
            if self.address is not None:
                self.client.client.clientpool.close()  # like a client whose answer changed
                self.connection_drops += 1
            self.address = address
            shown = address if ":" not in address else f"[{address}]"
            self._base = f"{self.scheme}://{shown}:{self.port}"
        return address

    def call(
        self,
        method: str,
        path: str,
        *,
        op: str,
        write_id: str | None = None,
        json: Any = None,
    ) -> Any:
        """Send one request to the resolved address; returns the response, or None when the
        name did not resolve (then a failed request is recorded, as a user would see it)."""
        try:
            address = self.current_address()
        except (DNSResolutionError, NonLoopbackAddress) as exc:
            self.environment.events.request.fire(
                request_type=method,
                name=op,
                response_time=0.0,
                response_length=0,
                response=None,
                context={"op": op, "write_id": write_id, "cohort": self.cohort},
                exception=exc,
                start_time=time.time(),
                url=path,
            )
            return None
        return self.client.request(
            method,
            self._base + path,
            name=op,
            json=json,
            context={"op": op, "address": address, "write_id": write_id, "cohort": self.cohort},
        )


# Ids this process had acknowledged, for reads (a bounded ring: reads pick any of them).
ACKED_CAPACITY = 10_000
_acked: list[str] = []
_acked_next = 0


def remember_ack(write_id: str) -> None:
    """Keep ``write_id`` as readable (bounded memory)."""
    global _acked_next
    if len(_acked) < ACKED_CAPACITY:
        _acked.append(write_id)
    else:
        _acked[_acked_next] = write_id
        _acked_next = (_acked_next + 1) % ACKED_CAPACITY


class OrdersUser(GamedayUser):
    """The orders workload: writes ``POST /orders`` with a fresh id (share ``--write-ratio``),
    otherwise reads ``GET /orders/{id}`` of an id acknowledged earlier."""

    @task
    def step(self) -> None:
        if not _acked or random.random() < self.write_ratio:
            self.write()
        else:
            self.read()

    def write(self) -> None:
        write_id = new_write_id()
        body = {"id": write_id, "item": "widget", "quantity": random.randint(1, 9)}
        response = self.call("POST", "/orders", op="write", write_id=write_id, json=body)
        if response is not None and response.status_code in (200, 201):
            remember_ack(write_id)

    def read(self) -> None:
        write_id = random.choice(_acked)
        self.call("GET", f"/orders/{write_id}", op="read", write_id=write_id)


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_kw: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    opts = options(environment)
    install_ledger(
        environment,
        opts["ledger"] or None,
        region_header=str(opts["region_header"]),
        flush_interval=float(opts["ledger_flush_interval"]),
    )


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kw: Any) -> None:
    # A worker learns the master's options with the spawn message: refresh the header.
    recorder = getattr(environment, "_gameday_ledger", None)
    if recorder is not None:
        recorder.region_header = str(options(environment)["region_header"])
