"""A small asyncio HTTP/1.1 server for the lab's regional services.

Why not ``http.server``: a region must sustain thousands of requests per second on one
core, keep connections alive, and be able to *black-hole* traffic the way a network ACL
deny does: connections are accepted but nothing is ever answered, so clients time out
instead of being refused. That needs control over the transport, which this gives.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
MAX_BODY = 1 << 20
MAX_HEAD = 16 << 10


@dataclass
class Request:
    """A parsed request: method, path (without query), query string, headers, body."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Response:
    """A response; ``body`` is serialised as JSON unless it is bytes."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self, extra_headers: bytes, keep_alive: bool) -> bytes:
        payload = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        head = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Status')}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
        ]
        head.extend(f"{k}: {v}" for k, v in self.headers.items())
        if not keep_alive:
            head.append("Connection: close")
        return "\r\n".join(head).encode() + b"\r\n" + extra_headers + b"\r\n" + payload


Handler = Callable[[Request], Response]


class Gate:
    """Decides whether a connection's traffic is black-holed right now.

    Two sources: ``blackholed`` (everything, as an FIS disrupt-connectivity does) and a
    rule function (a network ACL evaluated per client address and port).
    """

    def __init__(self) -> None:
        self.blackholed = False
        self.rule: Callable[[str, int], bool] | None = None  # True = allowed
        self.version = 0

    def update(self, *, blackholed: bool, rule: Callable[[str, int], bool] | None) -> None:
        self.blackholed = blackholed
        self.rule = rule
        self.version += 1

    def blocks(self, peer: tuple[str, int] | None) -> bool:
        if self.blackholed:
            return True
        if self.rule is None or peer is None:
            return False
        return not self.rule(peer[0], peer[1])


class HttpProtocol(asyncio.Protocol):
    """One connection: parses pipelined HTTP/1.1 requests and answers them in order."""

    def __init__(self, handler: Handler, gate: Gate | None, extra_headers: bytes) -> None:
        self._handler = handler
        self._gate = gate
        self._extra = extra_headers
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._peer: tuple[str, int] | None = None
        self._decided = (-1, False)  # (gate version, blocked) cached per connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._peer = transport.get_extra_info("peername")

    def _blocked(self) -> bool:
        gate = self._gate
        if gate is None:
            return False
        if self._decided[0] != gate.version:
            self._decided = (gate.version, gate.blocks(self._peer))
        return self._decided[1]

    def data_received(self, data: bytes) -> None:
        if self._blocked():
            # A black hole: the bytes are dropped, nothing is answered, the connection
            # stays open. The client sees a timeout, as behind a NACL deny.
            self._buf.clear()
            return
        self._buf += data
        while self._transport is not None and not self._transport.is_closing():
            if not self._answer_one():
                break

    def _answer_one(self) -> bool:
        """Answer one complete request from the buffer; False if more bytes are needed."""
        transport = self._transport
        assert transport is not None
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEAD:
                self._fail(413)
            return False
        head = bytes(self._buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            self._fail(400)
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._fail(400)
            return False
        if length > MAX_BODY or length < 0:
            self._fail(413)
            return False
        total = end + 4 + length
        if len(self._buf) < total:
            return False
        body = bytes(self._buf[end + 4 : total])
        del self._buf[:total]
        path, _, query = target.partition("?")
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        try:
            response = self._handler(Request(method, path, query, headers, body))
        except Exception as exc:  # a handler bug must not kill the connection loop
            response = Response(500, {"error": f"{type(exc).__name__}: {exc}"})
        transport.write(response.encode(self._extra, keep_alive))
        if not keep_alive:
            transport.close()
            return False
        return True

    def _fail(self, status: int) -> None:
        assert self._transport is not None
        self._transport.write(
            Response(status, {"error": "malformed request"}).encode(self._extra, False)
        )
        self._transport.close()


async def serve(
    handler: Handler,
    host: str,
    port: int,
    *,
    gate: Gate | None = None,
    headers: dict[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> asyncio.Server:
    """Start serving ``handler`` on ``host:port`` (over TLS with ``tls``); every response
    carries ``headers``."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()).encode()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: HttpProtocol(handler, gate, extra),
        host,
        port,
        reuse_address=True,
        backlog=1024,
        ssl=tls,
    )
