"""Benchmark the lab: start-up time, and one region's orders API against a bare server.

    .venv/bin/python benchmarks/lab.py [--starts 3] [--seconds 5] [--connections 32]

Prints the lab's time to ready (target: under 3 s) and the requests per second one region
sustains under concurrent POST/GET load (target: at least 2,000/s on one core) next to a
bare asyncio HTTP server that answers a constant body on the same machine, as a ratio.
The server under test is pinned to CPU 0 and the load generator to CPU 1 (when the
machine has two), so "one core" is literal. Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from gameday.lab import Lab, LabConfig
from gameday.lab.ports import free_port, listening

BARE_SERVER = """
import asyncio, sys
BODY = b'{"status": "ok"}'
RESPONSE = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: "
            + str(len(BODY)).encode() + b"\\r\\n\\r\\n" + BODY)
class P(asyncio.Protocol):
    def connection_made(self, t): self.t, self.buf = t, b""
    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\\r\\n\\r\\n")
            if end < 0: return
            length = 0
            for line in self.buf[:end].split(b"\\r\\n")[1:]:
                if line.lower().startswith(b"content-length:"): length = int(line.split(b":")[1])
            if len(self.buf) < end + 4 + length: return
            self.buf = self.buf[end + 4 + length:]
            self.t.write(RESPONSE)
async def main():
    server = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    await asyncio.sleep(float(sys.argv[2]))
asyncio.run(main())
"""


class _Client(asyncio.Protocol):
    """One keep-alive connection alternating POST /orders and GET /orders/{id}."""

    def __init__(
        self, host: str, deadline: float, max_requests: int, done: asyncio.Future[int]
    ) -> None:
        self.host, self.deadline, self.max_requests, self.done = host, deadline, max_requests, done
        self.count = 0
        self.buf = b""
        self.order_id = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.t = transport
        self._send()

    def _send(self) -> None:
        if time.monotonic() >= self.deadline or self.count >= self.max_requests:
            self.t.close()
            if not self.done.done():
                self.done.set_result(self.count)
            return
        if self.count % 2 == 0:
            self.order_id = uuid.uuid4().hex
            body = json.dumps({"id": self.order_id, "qty": 1}).encode()
            head = f"POST /orders HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            self.t.write(head.encode() + body)
        else:
            self.t.write(
                f"GET /orders/{self.order_id} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()
            )

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        length = 0
        for line in self.buf[:end].split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if len(self.buf) < end + 4 + length:
            return
        status = int(self.buf[9:12])
        if status >= 400:
            raise RuntimeError(
                f"benchmark request failed with {status}: {self.buf[: end + 4 + length]!r}"
            )
        self.buf = self.buf[end + 4 + length :]
        self.count += 1
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.count)


async def _drive(host: str, port: int, seconds: float, connections: int, max_requests: int) -> int:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + seconds
    futures = []
    for _ in range(connections):
        done: asyncio.Future[int] = loop.create_future()
        await loop.create_connection(
            lambda d=done: _Client(host, deadline, max_requests, d), host, port
        )
        futures.append(done)
    counts = await asyncio.wait_for(asyncio.gather(*futures), timeout=seconds + 10)
    return sum(counts)


def _load_worker(host: str, port: int, seconds: float, connections: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {1})
    started = time.monotonic()
    total = asyncio.run(_drive(host, port, seconds, connections, max_requests=1_000_000))
    queue.put((total, time.monotonic() - started))


def measure(host: str, port: int, seconds: float, connections: int) -> float:
    """Requests per second the server at host:port answers (load from another process)."""
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    worker = mp.Process(target=_load_worker, args=(host, port, seconds, connections, queue))
    worker.start()
    total, elapsed = queue.get(timeout=seconds + 30)
    worker.join(timeout=10)
    return total / elapsed


def pin(pid: int) -> None:
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(pid, {0})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--starts", type=int, default=3, help="how many lab start-ups to time")
    parser.add_argument("--seconds", type=float, default=5.0, help="load duration per server")
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent keep-alive connections"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp:
        startups = []
        for i in range(args.starts):
            started = time.monotonic()
            lab = Lab.start(LabConfig(lab_dir=str(Path(tmp) / f"lab{i}")))
            startups.append(time.monotonic() - started)
            if i < args.starts - 1:
                lab.stop()
        try:
            info = lab.info
            assert info.primary.pid is not None
            pin(info.primary.pid)
            region_rps = measure(
                info.primary.address, info.service_port, args.seconds, args.connections
            )
        finally:
            lab.stop()

    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port), str(args.seconds + 30)])
    try:
        pin(bare.pid)
        deadline = time.monotonic() + 10
        while not listening("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise SystemExit("the bare server did not start")
            time.sleep(0.02)
        bare_rps = measure("127.0.0.1", port, args.seconds, args.connections)
    finally:
        bare.terminate()
        bare.wait(timeout=10)

    print(
        f"lab start-up to ready   median {statistics.median(startups):.2f} s  "
        f"(runs: {', '.join(f'{s:.2f}' for s in startups)}; target < 3 s)"
    )
    print(
        f"region orders API       {region_rps:8.0f} req/s  (POST+GET alternating, SQLite store; target >= 2000)"
    )
    print(f"bare asyncio server     {bare_rps:8.0f} req/s  (constant body, no store)")
    print(f"ratio region / bare     {region_rps / bare_rps:8.2f}")


if __name__ == "__main__":
    main()
