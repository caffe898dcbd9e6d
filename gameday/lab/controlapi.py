"""The supervisor's control API on 127.0.0.1: a routing table, one small function a route.

What :class:`gameday.lab.launcher.Lab` calls (and, through :mod:`gameday.lab.api`, the
drill and ``gameday lab``):

* ``POST /regions/<name>/restart``: start a killed region again (404 unknown region, 409
  still running);
* ``POST /replication/lag`` with ``{"seconds": n}``: the lab-only replication delay
  (400 for anything but a number >= 0).

A new route is one :class:`Route` in :data:`ROUTES`; :func:`dispatch` is pure (no HTTP),
so a test can call it with a fake supervisor. :class:`Route53View` is the supervisor's
other face: what its data plane publishes to the control plane's Route 53 APIs.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

__all__ = ["ROUTES", "ApiError", "ControlServer", "Operations", "Route", "Route53View", "dispatch"]


class Operations(Protocol):
    """What the API asks of the supervisor."""

    def restart_region(self, name: str) -> dict[str, Any]: ...

    def set_lag(self, seconds: float) -> dict[str, Any]: ...


class ApiError(Exception):
    """A refusal: the HTTP status and the one-line message the caller shows."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


#: A route's handler: the supervisor, the path's named groups, the body (read on demand).
Handler = Callable[[Operations, dict[str, str], Callable[[], Any]], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _restart_region(ops: Operations, params: dict[str, str], _body: Callable[[], Any]) -> Any:
    try:
        return ops.restart_region(params["region"])
    except LookupError as exc:
        raise ApiError(404, str(exc)) from exc
    except RuntimeError as exc:
        raise ApiError(409, str(exc)) from exc


def _set_lag(ops: Operations, _params: dict[str, str], body: Callable[[], Any]) -> Any:
    try:
        seconds = float(body()["seconds"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, 'send {"seconds": <number >= 0>}') from None
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise ApiError(400, f"lag must be >= 0 seconds, got {seconds}")
    return ops.set_lag(seconds)


ROUTES: tuple[Route, ...] = (
    Route("POST", re.compile(r"/regions/(?P<region>[^/]+)/restart"), _restart_region),
    Route("POST", re.compile(r"/replication/lag"), _set_lag),
)


def dispatch(
    ops: Operations, method: str, path: str, body: Callable[[], Any]
) -> tuple[int, dict[str, Any]]:
    """``(status, JSON body)`` for one request, by :data:`ROUTES`."""
    normalised = "/" + path.strip("/")
    for route in ROUTES:
        match = route.pattern.fullmatch(normalised)
        if route.method == method and match:
            try:
                return 200, route.handler(ops, match.groupdict(), body)
            except ApiError as exc:
                return exc.status, {"error": str(exc)}
    return 404, {"error": f"no route {method} {path}"}


class ControlServer:
    """The HTTP server of the API (one thread per request, loopback only)."""

    def __init__(self, ops: Operations, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._reply(*dispatch(ops, "POST", self.path, self._body))

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:  # the event log is the lab's record
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="control", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class DataPlane(Protocol):
    """The supervisor's data plane, as the control plane reads it (parts may not run yet)."""

    checker: Any  # gameday.lab.network.healthchecker.HealthChecker | None
    dns: Any  # gameday.lab.network.dns.LabDNS | None


class Route53View:
    """What the data plane publishes for the Route 53 APIs (read-only, see controlplane.route53)."""

    def __init__(self, supervisor: DataPlane) -> None:
        self._supervisor = supervisor

    def observations(self, health_check_id: str) -> list[dict[str, Any]]:
        checker = self._supervisor.checker
        return checker.observations(health_check_id) if checker else []

    def last_failures(self, health_check_id: str) -> list[dict[str, Any]]:
        checker = self._supervisor.checker
        return checker.last_failures(health_check_id) if checker else []

    def dns_answer(self, name: str, rtype: str) -> tuple[str, list[str]]:
        dns = self._supervisor.dns
        if dns is None:
            raise RuntimeError("the lab's DNS server is not running yet")
        answer: tuple[str, list[str]] = dns.answer(name, rtype)
        return answer
