"""HTTP probes: is a regional endpoint answering, and how fast."""

import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.activity import fail, require

__all__ = ["endpoint_available"]

#: No proxies: a drill measures the path to the endpoint, not to a proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _check_url(url: str) -> str:
    require(url, "url", "the endpoint, e.g. https://api.eu-west-1.example.com/health")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"Bad `url` {url!r}: give an absolute http:// or https:// URL.")
    return url


def _request(
    url: str, method: str = "GET", body: bytes | None = None, timeout: float = 5.0, **headers: str
) -> dict[str, Any]:
    """One HTTP exchange: ``status`` (None if no answer), ``latency_ms``, ``region``, ``body``,
    ``error``. Never raises for network errors (they are observations)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    started = time.perf_counter()
    status: int | None = None
    region: str | None = None
    payload = b""
    error: str | None = None
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status = resp.status
            region = resp.headers.get("X-Region")
            payload = resp.read()
    except urllib.error.HTTPError as exc:
        status = exc.code
        region = exc.headers.get("X-Region") if exc.headers else None
        payload = exc.read() or b""
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        error = "timeout" if isinstance(reason, TimeoutError) else str(reason)
    return {
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000.0, 3),
        "region": region,
        "body": payload,
        "error": error,
    }


@registry.probe()
def endpoint_available(
    url: str,
    timeout: float = 5.0,
    method: str = "GET",
    expected_status: int | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Send one HTTP request to a (regional) endpoint and report status and latency.

    ``available`` is true when an answer came within ``timeout`` seconds with
    ``expected_status``, or, when none is given, any status below 500. A black-holed
    endpoint (connections dropped) gives ``status`` null and ``error`` ``"timeout"``.

    Returns ``url``, ``available``, ``status``, ``latency_ms``, ``region`` (the
    ``X-Region`` header, if any) and ``error``.
    """
    _check_url(url)
    if float(timeout) <= 0:
        raise fail("Bad `timeout`: give a number of seconds above 0.")
    answer = _request(url, method=str(method).upper(), timeout=float(timeout))
    status = answer["status"]
    if expected_status is not None:
        available = status == int(expected_status)
    else:
        available = status is not None and status < 500
    return {
        "url": url,
        "available": available,
        "status": status,
        "latency_ms": answer["latency_ms"],
        "region": answer["region"],
        "error": answer["error"],
    }
