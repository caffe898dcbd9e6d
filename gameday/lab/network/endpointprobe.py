"""Reaching an endpoint the way AWS's checkers do: over HTTP or HTTPS, by address or name.

Two checkers of the lab use it:

* Route 53's health checker (:mod:`gameday.lab.network.healthchecker`) for HTTPS checks and
  for checks that name their endpoint by ``FullyQualifiedDomainName`` instead of
  ``IPAddress`` (:func:`endpoint_address`, :func:`connection`);
* the load balancers' target-health prober (:mod:`gameday.lab.network.targethealth`),
  which sends its requests through :func:`http_get`.

Route 53's rules modelled here (Route 53 developer guide on health checks and the
HealthCheckConfig reference):

* a check with a ``FullyQualifiedDomainName`` and no ``IPAddress`` resolves the name at
  every check (the lab resolves it through the lab's own DNS server, :func:`dns_resolver`)
  and probes the first address; with both, the name is only the ``Host`` header;
* HTTPS checks do not validate the endpoint's certificate; with ``EnableSNI`` the name is
  sent in the TLS handshake.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Resolves a name to addresses (raises :class:`LookupError` with a reason when it cannot).
Resolve = Callable[[str], list[str]]
BODY_LIMIT = 5120


def endpoint_address(config: Any, resolve: Resolve | None) -> tuple[str | None, str]:
    """The address a check probes now, or (None, why not) in Route 53's words.

    ``config`` is the lab's view of a health check (``route53.HealthCheckConfig``).
    """
    if config.ip_address:
        return config.ip_address, ""
    if not config.fqdn:
        return None, "Neither an IP address nor a domain name is configured"
    if resolve is None:
        return None, f"Failed to resolve {config.fqdn}: the lab's DNS is not available"
    try:
        addresses = resolve(config.fqdn)
    except LookupError as exc:
        return None, f"Failed to resolve {config.fqdn}: {exc}"
    if not addresses:
        return None, f"Failed to resolve {config.fqdn}: no address"
    return addresses[0], ""


def connection(
    address: str,
    port: int,
    *,
    timeout: float,
    source: str | None = None,
    tls: bool = False,
    sni: str | None = None,
) -> http.client.HTTPConnection:
    """An unopened HTTP(S) connection to ``address:port`` from ``source``; over TLS the
    certificate is not validated (as Route 53 and ELB health checks do) and ``sni`` (or
    nothing) is the name sent in the handshake."""
    bind = (source, 0) if source else None
    if not tls:
        return http.client.HTTPConnection(address, port, timeout=timeout, source_address=bind)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return _SniHTTPSConnection(
        address, port, timeout=timeout, context=context, sni=sni, source_address=bind
    )


class _SniHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to an IP address that sends ``sni`` (or no SNI) in its hello."""

    def __init__(self, *args: Any, sni: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sni = sni

    def connect(self) -> None:
        sock = socket.create_connection(
            (self.host, self.port),
            self.timeout,
            source_address=getattr(self, "source_address", None),
        )
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni)  # type: ignore[attr-defined]


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
    user_agent: str,
    tls: bool = False,
    source: str | None = None,
) -> HttpResult:
    """GET ``path`` from ``address:port``: the status and the start of the body."""
    conn = connection(address, port, timeout=timeout, source=source, tls=tls)
    try:
        conn.request("GET", path or "/", headers={"User-Agent": user_agent})
        response = conn.getresponse()
        return HttpResult(response.status, response.reason, response.read(BODY_LIMIT))
    except TimeoutError:
        return HttpResult(None, "Request timed out", timed_out=True)
    except (OSError, http.client.HTTPException) as exc:
        return HttpResult(None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


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
