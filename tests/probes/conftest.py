"""Fixtures for probe tests: a tiny two-region orders API on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Regions:
    """Two HTTP servers sharing a store; writes become readable in the reader after ``lag``."""

    def __init__(self, lag: float) -> None:
        self.lag = lag
        self.writes: dict[str, float] = {}
        self.servers: list[ThreadingHTTPServer] = []

    def url(self, index: int) -> str:
        host, port = self.servers[index].server_address[:2]
        return f"http://{host}:{port}"


def _handler(regions: Regions, name: str, writer: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("X-Region", name)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                return self._answer(200, {"ok": True})
            order = self.path.rsplit("/", 1)[-1]
            written = regions.writes.get(order)
            visible = written is not None and (writer or time.monotonic() - written >= regions.lag)
            return self._answer(200 if visible else 404, {"id": order})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not writer:
                return self._answer(503, {"error": "read-only"})
            regions.writes[body["id"]] = time.monotonic()
            return self._answer(201, body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def regions() -> Iterator[Regions]:
    holder = Regions(lag=0.3)
    threads = []
    for index, (name, writer) in enumerate((("us-east-1", True), ("us-west-2", False))):
        server = ThreadingHTTPServer((f"127.0.0.{index + 1}", 0), _handler(holder, name, writer))
        holder.servers.append(server)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    yield holder
    for server in holder.servers:
        server.shutdown()
        server.server_close()
