"""One Route 53 checker's probe of an endpoint, worded as Route 53 reports it.

A probe fails when the TCP connection is not made within AWS's limit (HTTP/HTTPS 4 s, TCP
10 s), or no HTTP status arrives within 2 s more, or the status is not 2xx/3xx, or the
answer is not HTTP at all (garbage, a reset, half a response): each is a failed
observation in AWS's wording (``Failure: ...``), never a crash. The limits are the lab
clock's (:meth:`gameday.lab.clock.LabClock.probe_timeouts`). Used by
:mod:`gameday.lab.network.healthchecker`, one call per checker per interval.
"""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass

from gameday.lab.clock import HTTP_RESPONSE_TIMEOUT as HTTP_STATUS_LIMIT
from gameday.lab.clock import LabClock, ProbeTimeouts
from gameday.lab.controlplane import route53
from gameday.lab.network import endpointprobe
from gameday.netutil import is_loopback

#: Route 53 reads at most this much of the body for a string match.
BODY_LIMIT = 5120

_FIREWALL = (
    "The endpoint or the internet connection is down, or requests are being blocked by "
    "your firewall. See https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/"
    "dns-failover-router-firewall-rules.html"
)


@dataclass(frozen=True)
class Observation:
    """One probe's outcome, worded as Route 53 reports it (``Success: ...``/``Failure: ...``)."""

    success: bool
    status: str
    checked_at: float


def probe(
    config: route53.HealthCheckConfig,
    *,
    source: str,
    clock: LabClock,
    resolve: endpointprobe.Resolve | None = None,
) -> Observation:
    """Probe a health check's endpoint once from ``source``, as a Route 53 checker does.

    Never raises for anything the endpoint does: a refused, reset, dropped or timed-out
    connection, a non-HTTP answer or half a response is a failed observation. A check
    named by ``FullyQualifiedDomainName`` alone is resolved with ``resolve`` first.
    """
    now = time.time()
    address, failure = endpointprobe.endpoint_address(config, resolve)
    if address is None:
        return Observation(False, f"Failure: {failure}", now)
    if not is_loopback(address):
        # Network hygiene: the lab never sends a probe off this machine.
        return Observation(
            False,
            f"Failure: The lab only probes 127.0.0.0/8; {address} was not probed",
            now,
        )
    timeouts = clock.probe_timeouts(config.type)
    if config.type == "TCP":
        limit = timeouts.connect
        try:
            sock = socket.create_connection(
                (address, config.port), timeout=limit, source_address=(source, 0)
            )
        except OSError as exc:
            return Observation(False, _connect_failure(exc), now)
        sock.close()
        return Observation(True, "Success: TCP connection established", now)
    if config.type not in ("HTTP", "HTTP_STR_MATCH", "HTTPS", "HTTPS_STR_MATCH"):
        return Observation(
            False, f"Failure: The lab does not probe {config.type} health checks", now
        )
    return _probe_http(config, address, source, timeouts, now)


def _probe_http(
    config: route53.HealthCheckConfig,
    address: str,
    source: str,
    timeouts: ProbeTimeouts,
    now: float,
) -> Observation:
    connect_limit, status_limit = timeouts.connect, timeouts.response
    conn = endpointprobe.connection(
        address,
        config.port,
        timeout=connect_limit,
        source=source,
        tls=config.type.startswith("HTTPS"),
        sni=config.fqdn if config.enable_sni else None,
    )
    try:
        try:
            conn.connect()
        except OSError as exc:
            return Observation(False, _connect_failure(exc), now)
        assert conn.sock is not None
        conn.sock.settimeout(status_limit)
        try:
            conn.request(
                "GET",
                config.resource_path,
                headers={
                    "User-Agent": "Amazon-Route53-Health-Check-Service",
                    **({"Host": config.fqdn} if config.fqdn else {}),
                },
            )
            response = conn.getresponse()
            body = response.read(BODY_LIMIT) if config.type.endswith("_STR_MATCH") else b""
        except TimeoutError:
            return Observation(
                False,
                f"Failure: Response timed out. The endpoint did not return an HTTP status "
                f"within {HTTP_STATUS_LIMIT:.0f} seconds (lab: {status_limit:.2f} s).",
                now,
            )
        except http.client.HTTPException as exc:
            # garbage, a status line cut short, half a response, a peer gone mid-answer
            return Observation(
                False,
                f"Failure: The endpoint did not return a valid HTTP response "
                f"({type(exc).__name__}: {_printable(str(exc)) or 'empty'}).",
                now,
            )
        except OSError as exc:
            return Observation(False, _connect_failure(exc), now)
    finally:
        conn.close()
    status = f"HTTP Status Code {response.status}, {response.reason}"
    if not 200 <= response.status < 400:
        return Observation(False, f"Failure: {status}", now)
    if config.type.endswith("_STR_MATCH") and (config.search_string or "") not in body.decode(
        "utf-8", "replace"
    ):
        return Observation(
            False,
            f"Failure: {status}. The search string was not found in the first "
            f"{BODY_LIMIT} bytes of the response body.",
            now,
        )
    return Observation(True, f"Success: {status}", now)


def _printable(text: str, limit: int = 60) -> str:
    """What an endpoint sent, safe to show in an XML status (no control characters)."""
    return "".join(c if c.isprintable() and c.isascii() else "?" for c in text.strip())[:limit]


def _connect_failure(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return f"Failure: Connection timed out. {_FIREWALL}"
    if isinstance(exc, ConnectionRefusedError):
        return f"Failure: Connection refused. {_FIREWALL}"
    if isinstance(exc, ConnectionResetError):
        return f"Failure: Connection reset by peer. {_FIREWALL}"
    return f"Failure: Failure to connect: {exc.strerror or exc}. {_FIREWALL}"
