"""Probing an endpoint the way AWS's checkers do: HTTP or HTTPS, by IP address or by name.

Two checkers of the lab use it:

* Route 53's health checker (:mod:`gameday.lab.network.healthchecker`) hands it the checks
  it cannot probe by itself: ``HTTPS`` / ``HTTPS_STR_MATCH`` checks, and checks that name
  their endpoint by ``FullyQualifiedDomainName`` instead of ``IPAddress``
  (:func:`probe_route53`).
* the load balancers' target-health prober (:mod:`gameday.lab.network.targethealth`)
  sends its HTTP requests through :func:`http_get`.

Route 53's rules modelled here (Route 53 developer guide, "How Route 53 determines whether
a health check is healthy" and the HealthCheckConfig reference):

* an FQDN check without an IP address resolves the name at every check (the lab resolves
  it through the lab's own DNS server) and probes the first address returned; with an IP
  address the name is only sent as the ``Host`` header;
* HTTPS checks do not validate the server's certificate; with ``EnableSNI`` the name is
  sent in the TLS handshake;
* a 2xx or 3xx status within the timeout is a success; ``*_STR_MATCH`` also needs the
  search string in the first 5,120 bytes of the body.

The lab never sends a probe off the machine: an endpoint outside 127.0.0.0/8 is a failure.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gameday.netutil import is_loopback

#: Route 53 reads at most this much of a body for a string match.
BODY_LIMIT = 5120
USER_AGENT = "Amazon-Route53-Health-Check-Service"
TIMEOUT_DETAIL = (
    "Connection timed out. The endpoint or the internet connection is down, "
    "or requests are being blocked by your firewall."
)

#: Resolves a name to addresses (raises :class:`LookupError` with a reason when it cannot).
Resolve = Callable[[str], list[str]]


@dataclass(frozen=True)
class HttpResult:
    """One HTTP(S) exchange: a status, or the reason there was none."""

    status: int | None
    reason: str
    body: bytes = b""
    timed_out: bool = False


def http_get(
    address: str,
    port: int,
    path: str,
    *,
    timeout: float,
    tls: bool = False,
    host: str | None = None,
    sni: str | None = None,
    user_agent: str = USER_AGENT,
    source: str | None = None,
) -> HttpResult:
    """GET ``path`` from ``address:port`` (over TLS without certificate validation), from
    the local address ``source`` if given (a checker's own address)."""
    conn: http.client.HTTPConnection
    bind = (source, 0) if source else None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = _SniHTTPSConnection(
            address, port, timeout=timeout, context=context, sni=sni, source_address=bind
        )
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout, source_address=bind)
    headers = {"User-Agent": user_agent}
    if host:
        headers["Host"] = host
    try:
        conn.request("GET", path or "/", headers=headers)
        response = conn.getresponse()
        body = response.read(BODY_LIMIT)
        return HttpResult(response.status, response.reason, body)
    except TimeoutError:
        return HttpResult(None, TIMEOUT_DETAIL, timed_out=True)
    except ssl.SSLError as exc:
        return HttpResult(None, f"TLS handshake failed: {exc.reason or exc}")
    except OSError as exc:
        return HttpResult(None, f"Failure to connect: {exc}")
    finally:
        conn.close()


class _SniHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to an IP address that sends ``sni`` (or no SNI) in its hello."""

    def __init__(self, *args: Any, sni: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sni = sni

    def connect(self) -> None:
        sock = socket.create_connection(
            (self.host, self.port), self.timeout, source_address=self.source_address
        )
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni)  # type: ignore[attr-defined]


def probe_route53(
    config: Any,
    timeout: float,
    resolve: Resolve | None,
    dropped: Callable[[str], bool] = lambda address: False,
    source: str | None = None,
) -> tuple[bool, str]:
    """Probe an HTTPS check or a check named by FQDN once: (success, Route 53's detail).

    ``config`` is the lab's view of a health check (``motoext.HealthCheckConfig``).
    """
    address = config.ip_address
    if not address:
        if not config.fqdn:
            return False, "Neither an IP address nor a domain name is configured"
        if resolve is None:
            return False, f"Failed to resolve {config.fqdn}: the lab's DNS is not available"
        try:
            addresses = resolve(config.fqdn)
        except LookupError as exc:
            return False, f"Failed to resolve {config.fqdn}: {exc}"
        if not addresses:
            return False, f"Failed to resolve {config.fqdn}: no address"
        address = addresses[0]
    if not is_loopback(address):
        return False, f"The lab only probes 127.0.0.0/8; {address} was not probed"
    if dropped(address) and config.type in ("TCP", "HTTPS", "HTTPS_STR_MATCH"):
        # A black-holed address accepts nothing in AWS; the lab's region still accepts TCP,
        # so a connection-level check asks the lab as a dropped SYN would have told it.
        return False, TIMEOUT_DETAIL
    if config.type == "TCP":
        try:
            bind = (source, 0) if source else None
            with socket.create_connection((address, config.port), timeout, bind):
                return True, "TCP connection established"
        except OSError as exc:
            return False, f"Failure to connect: {exc}"
    if config.type not in ("HTTP", "HTTP_STR_MATCH", "HTTPS", "HTTPS_STR_MATCH"):
        return False, f"The lab does not probe {config.type} health checks"
    tls = config.type.startswith("HTTPS")
    result = http_get(
        address,
        config.port,
        config.resource_path,
        timeout=timeout,
        tls=tls,
        host=config.fqdn or None,
        sni=(config.fqdn or None) if tls and config.enable_sni else None,
        source=source,
    )
    if result.status is None:
        return False, result.reason
    status = f"HTTP Status Code {result.status}, {result.reason}"
    if not 200 <= result.status < 400:
        return False, status
    if config.type.endswith("_STR_MATCH") and (config.search_string or "") not in (
        result.body.decode("utf-8", "replace")
    ):
        return False, f"{status}. Search string not found in the response body"
    return True, status


def dns_resolver(host: str, port: int, timeout: float = 1.0) -> Resolve:
    """A :data:`Resolve` asking the DNS server at ``host:port`` for A records."""
    import dns.exception
    import dns.resolver

    def resolve(name: str) -> list[str]:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
        resolver.cache = None
        try:
            answer = resolver.resolve(name, "A", lifetime=timeout)
        except dns.resolver.NXDOMAIN as exc:
            raise LookupError("NXDOMAIN") from exc
        except dns.resolver.NoAnswer as exc:
            raise LookupError("no A record") from exc
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise LookupError(type(exc).__name__) from exc
        return [a.address for a in answer]

    return resolve
