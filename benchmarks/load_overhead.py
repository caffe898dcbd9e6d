"""What does gameday's load instrumentation cost? Bare Locust vs gameday load, same target.

Runs, against the same loopback orders service and for the same duration, with the same
users and no think time (so the client is as busy as it can be):

* bare: a plain FastHttpUser doing the orders mix (POST /orders, GET /orders/{id}) straight
  to the region's address;
* gameday: the stock locustfile through :class:`gameday.load.runner.LoadRun`: the name is
  resolved through a DNS server with a 1 s TTL (re-resolved every second), every request is
  recorded in the JSONL ledger.

Prints both request rates (Locust's own), their ratio (target >= 0.9), the Locust process's
CPU per request for each, the service's CPU share (to tell whether the client or the service
was the bottleneck) and the ledger's completeness. Rounds alternate bare/gameday.

The service is the lab's region server (gameday.lab.region.server.Region and the lab's asyncio
HTTP server, with a SQLite store) in its own process; a tiny built-in asyncio server is used
if the lab is not importable. Everything binds to loopback; every process is stopped.

    .venv/bin/python benchmarks/load_overhead.py [--duration 10] [--users 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ADDRESS = "127.0.31.1"
NAME = "api.bench.internal"

BARE_LOCUSTFILE = textwrap.dedent(
    """
    import random, uuid
    from locust import constant, task
    from locust.contrib.fasthttp import FastHttpUser

    ACKED = []

    class BareOrdersUser(FastHttpUser):
        wait_time = constant(0)
        connection_timeout = 2.0
        network_timeout = 5.0
        max_retries = 0

        @task
        def step(self):
            if not ACKED or random.random() < 0.5:
                order_id = str(uuid.uuid4())
                body = {"id": order_id, "item": "widget", "quantity": random.randint(1, 9)}
                response = self.client.post("/orders", json=body, name="write")
                if response.status_code in (200, 201):
                    ACKED.append(order_id)
            else:
                self.client.get(f"/orders/{random.choice(ACKED)}", name="read")
    """
)


# ----------------------------------------------------------------------------- service
def serve(address: str, port: int, db: str) -> None:
    """Child process: the orders service on address:port until SIGTERM."""
    try:
        from gameday.lab.region.httpserver import serve as lab_serve
        from gameday.lab.region.server import Region
        from gameday.lab.region.store import OrderStore

        region = Region("bench-region", OrderStore(db, "bench-region"), "writer", port)
        handler, kind = region.handle, "lab region server"
    except ImportError:
        lab_serve, handler, kind = None, None, "built-in asyncio server"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if lab_serve is not None:
            server = await lab_serve(handler, address, port, headers={"X-Region": "bench-region"})
        else:
            server = await loop.create_server(_BuiltinProtocol, address, port)
        print(f"serving ({kind})", flush=True)
        await stop.wait()
        server.close()

    asyncio.run(main())


class _BuiltinProtocol(asyncio.Protocol):
    """Minimal keep-alive HTTP/1.1 orders API (fallback when gameday.lab is absent)."""

    store: dict[str, bytes] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            match = re.search(r"(?im)^content-length:\s*(\d+)", head)
            length = int(match.group(1)) if match else 0
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            method, path = head.split(" ", 2)[:2]
            self.transport.write(self._answer(method, path, body))  # type: ignore[attr-defined]

    def _answer(self, method: str, path: str, body: bytes) -> bytes:
        if method == "POST" and path == "/orders":
            order_id = json.loads(body)["id"]
            created = order_id not in self.store
            if created:
                self.store[order_id] = json.dumps(
                    {"id": order_id, "region": "bench-region", "acked_at": time.time()}
                ).encode()
            status, payload = (201 if created else 200), self.store[order_id]
        elif method == "GET" and path.startswith("/orders/"):
            payload = self.store.get(path[len("/orders/") :], b'{"error": "no such order"}')
            status = 200 if path[len("/orders/") :] in self.store else 404
        else:
            status, payload = 404, b'{"error": "not found"}'
        return (
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nX-Region: bench-region\r\n\r\n"
        ).encode() + payload


# --------------------------------------------------------------------------------- DNS
def start_dns(address: str, ttl: int = 1):
    from dnslib import QTYPE, RCODE, RR, A
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    class Answer(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            if str(request.q.qname).rstrip(".") != NAME:
                reply.header.rcode = RCODE.NXDOMAIN
            elif request.q.qtype == QTYPE.A:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=ttl))
            return reply

    quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    server = DNSServer(Answer(), address="127.0.0.1", port=0, logger=quiet)
    thread = threading.Thread(
        target=server.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    return server, f"127.0.0.1:{server.server.server_address[1]}"


# ------------------------------------------------------------------------------ helpers
def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def locust_summary(log_text: str) -> tuple[int, float]:
    """(request count, req/s) from the Aggregated row of Locust's summary table."""
    for line in log_text.splitlines():
        if re.match(r"^\s*Aggregated\s+\d+\s", line) and "|" in line:
            count = int(line.split()[1])
            rate = float(line.split("|")[-1].split()[0])
            return count, rate
    raise RuntimeError("no Locust summary found in its output")


def run_bare(workdir: Path, port: int, users: int, duration: int) -> dict[str, float]:
    locustfile = workdir / "bare_locustfile.py"
    locustfile.write_text(BARE_LOCUSTFILE)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "--host", f"http://{ADDRESS}:{port}", "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{duration}s", "--only-summary", "--exit-code-on-error", "0",
    ]  # fmt: skip
    before = children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    cpu = children_cpu() - before
    count, rate = locust_summary(proc.stdout + proc.stderr)
    return {"requests": count, "rate": rate, "cpu": cpu}


def run_gameday(
    workdir: Path, port: int, nameserver: str, users: int, duration: int, index: int
) -> dict[str, float]:
    from gameday.load.runner import LoadRun, LoadSettings

    settings = LoadSettings(
        target=NAME,
        port=port,
        nameserver=nameserver,
        lab=True,
        users=users,
        run_time=duration,
        think_min=0.0,
        think_max=0.0,
        connect_timeout=2.0,
        network_timeout=5.0,
        ledger=workdir / f"gameday{index}" / "ledger.jsonl",
    )
    before = children_cpu()
    run = LoadRun(settings).start()
    result = run.wait(timeout=duration + 60)
    cpu = children_cpu() - before
    count, rate = locust_summary(result.log.read_text())
    return {
        "requests": count,
        "rate": rate,
        "cpu": cpu,
        "records": result.records,
        "locust_requests": result.locust_requests or 0,
        "complete": result.complete,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/gameday pairs")
    parser.add_argument(
        "--serve", nargs=3, metavar=("ADDRESS", "PORT", "DB"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2])
        return 0

    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port(ADDRESS)
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", ADDRESS, str(port), str(workdir / "orders.db")],
            stdout=subprocess.PIPE,
            text=True,
        )
        dns, nameserver = start_dns(ADDRESS)
        try:
            assert server.stdout is not None
            banner = server.stdout.readline().strip()
            print(f"service: {banner} on {ADDRESS}:{port}; DNS {nameserver} (TTL 1 s)")
            print(f"{args.users} users, no think time, {args.duration} s per run\n")
            rows: dict[str, list[dict[str, float]]] = {"bare": [], "gameday": []}
            for index in range(args.rounds):
                for kind in ("bare", "gameday"):
                    server_cpu = cpu_seconds(server.pid)
                    if kind == "bare":
                        row = run_bare(workdir, port, args.users, args.duration)
                    else:
                        row = run_gameday(
                            workdir, port, nameserver, args.users, args.duration, index
                        )
                    row["server_cpu"] = cpu_seconds(server.pid) - server_cpu
                    rows[kind].append(row)
                    extra = (
                        f"  ledger {row['records']}/{row['locust_requests']}"
                        if kind == "gameday"
                        else ""
                    )
                    print(
                        f"round {index + 1} {kind:8s} {row['rate']:8.1f} req/s  "
                        f"client {1e6 * row['cpu'] / max(row['requests'], 1):6.1f} us CPU/req  "
                        f"service CPU {row['server_cpu'] / args.duration:4.0%}{extra}"
                    )
        finally:
            dns.server.shutdown()
            dns.server.server_close()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    ratios = [g["rate"] / b["rate"] for b, g in zip(rows["bare"], rows["gameday"], strict=True)]
    median_ratio = statistics.median(ratios)
    bare_rate = sum(r["rate"] for r in rows["bare"]) / len(rows["bare"])
    gameday_rate = sum(r["rate"] for r in rows["gameday"]) / len(rows["gameday"])
    bare_cpu = sum(r["cpu"] for r in rows["bare"]) / sum(r["requests"] for r in rows["bare"])
    gd_cpu = sum(r["cpu"] for r in rows["gameday"]) / sum(r["requests"] for r in rows["gameday"])
    records = sum(int(r["records"]) for r in rows["gameday"])
    counted = sum(int(r["locust_requests"]) for r in rows["gameday"])
    complete = all(r["complete"] for r in rows["gameday"])
    print(
        f"\nbare Locust FastHttpUser : {bare_rate:8.1f} req/s  ({1e6 * bare_cpu:.1f} us CPU/req)\n"
        f"gameday load             : {gameday_rate:8.1f} req/s  ({1e6 * gd_cpu:.1f} us CPU/req)\n"
        f"ratio gameday/bare       : {gameday_rate / bare_rate:.3f} of the mean rates, "
        f"{median_ratio:.3f} median of {len(ratios)} paired rounds "
        f"(target >= 0.9: {'met' if median_ratio >= 0.9 else 'NOT met'})\n"
        f"client CPU per request   : gameday/bare = {gd_cpu / bare_cpu:.2f}\n"
        f"ledger completeness      : {records} records / {counted} Locust requests "
        f"({'complete' if complete else 'INCOMPLETE'})\n"
        f"load average at the end  : {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs (other work on the machine makes the rates noisy)"
    )
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
