"""Tiny loopback stand-ins for the lab, implementing its orders-API and DNS contract.

* :class:`OrdersRegion`: ``POST /orders``, ``GET /orders/{id}``, ``GET /health``, every
  answer with ``X-Region``; a non-writer answers writes with 503; ``blackhole`` makes it
  accept connections and never answer.
* :class:`FailoverDNS`: a dnslib server (UDP and TCP on 127.0.0.1) answering one name with
  one A record and a TTL; :meth:`FailoverDNS.point_to` switches the answer.

Both run in threads of the test process (no gevent) and are stopped by fixtures.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately: no 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Region", self.server.region.name)
        self.end_headers()
        self.wfile.write(data)

    def _hold_if_blackholed(self) -> bool:
        region = self.server.region
        if not region.blackhole.is_set():
            return False
        region.released.wait(timeout=30)  # never answer; give up when the fixture stops
        self.close_connection = True
        return True

    def do_GET(self) -> None:
        if self._hold_if_blackholed():
            return
        region = self.server.region
        region.count(self.path)
        if self.path == "/health":
            self._reply(200, {"region": region.name, "healthy": True})
        elif self.path.startswith("/orders/"):
            order = region.store.get(self.path.removeprefix("/orders/"))
            if order is None:
                self._reply(404, {"error": "no such order"})
            else:
                self._reply(200, order)
        elif self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/redirect?to="))
            self.send_header("Content-Length", "0")
            self.send_header("X-Region", region.name)
            self.end_headers()
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self._hold_if_blackholed():
            return
        region = self.server.region
        region.count(self.path)
        if self.path != "/orders":
            self._reply(404, {"error": "not found"})
            return
        if not region.writer:
            self._reply(503, {"error": f"{region.name} is not the writer"})
            return
        try:
            body = json.loads(raw)
            order_id = str(body["id"])
        except (ValueError, KeyError, TypeError):
            self._reply(400, {"error": "body must be JSON with an id"})
            return
        with region.lock:
            existing = region.store.get(order_id)
            if existing is None:
                order = {"id": order_id, "region": region.name, "acked_at": time.time()}
                region.store[order_id] = order
        if existing is None:
            self._reply(201, order)
        else:
            self._reply(200, existing)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    region: OrdersRegion

    def handle_error(self, request: Any, client_address: Any) -> None:
        # clients dropping pooled connections (or being stopped) is normal here
        if not isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            super().handle_error(request, client_address)


class OrdersRegion:
    """One region's orders API on ``address:port`` (port 0: pick one)."""

    def __init__(
        self, name: str, address: str, port: int = 0, *, writer: bool = True, store=None
    ) -> None:
        self.name = name
        self.writer = writer
        self.store: dict[str, dict[str, Any]] = {} if store is None else store
        self.lock = threading.Lock()
        self.blackhole = threading.Event()
        self.released = threading.Event()
        self.requests = 0
        self._server = _Server((address, port), _Handler)
        self._server.region = self
        self.address, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def count(self, _path: str) -> None:
        self.requests += 1

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def region_pair(
    primary: str = "127.0.11.1", secondary: str = "127.0.12.1", *, shared_store: bool = True
) -> tuple[OrdersRegion, OrdersRegion]:
    """Primary and secondary on two loopback addresses and the same port."""
    store: dict[str, dict[str, Any]] | None = {} if shared_store else None
    for _ in range(20):
        first = OrdersRegion("primary", primary, 0, store=store)
        try:
            second = OrdersRegion("secondary", secondary, first.port, store=store)
        except OSError:
            first.stop()
            continue
        return first, second
    raise RuntimeError("could not bind both regions on one port")


class _Answer(BaseResolver):
    def __init__(self, name: str, address: str, ttl: int) -> None:
        self.name = name.rstrip(".").lower()
        self.address = address
        self.ttl = ttl
        self.queries = 0
        self.changed_at: float | None = None
        #: While set, each query waits (up to ``hold_for`` s) for ``release`` before it is
        #: answered: a slow nameserver, so tests can see who asks while a lookup is in flight.
        self.hold_for = 0.0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        with self._lock:
            self.queries += 1
        if self.hold_for:
            self.release.wait(self.hold_for)
        if qname != self.name:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(self.address), ttl=self.ttl))
        return reply


class FailoverDNS:
    """DNS for one name on 127.0.0.1 (UDP and TCP, same port)."""

    def __init__(self, name: str, address: str, ttl: int = 1) -> None:
        self.answer = _Answer(name, address, ttl)
        quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        for _ in range(20):
            udp = DNSServer(self.answer, address="127.0.0.1", port=0, logger=quiet)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self.answer, address="127.0.0.1", port=port, tcp=True, logger=quiet)
            except OSError:
                udp.server.server_close()
                continue
            break
        else:
            raise RuntimeError("could not bind DNS on one port for UDP and TCP")
        self.port = port
        self.nameserver = f"127.0.0.1:{port}"
        self._servers = (udp, tcp)
        self._threads = [
            threading.Thread(
                target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            for server in self._servers
        ]
        for thread in self._threads:
            thread.start()

    def point_to(self, address: str) -> float:
        """Switch the answer; returns the wall-clock time of the switch."""
        self.answer.address = address
        self.answer.changed_at = time.time()
        return self.answer.changed_at

    @property
    def queries(self) -> int:
        return self.answer.queries

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


def wait_for_port(address: str, port: int, timeout: float = 5.0) -> None:
    """Until a TCP connect to address:port succeeds (or raise TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{address}:{port} not accepting connections") from None
            time.sleep(0.05)
