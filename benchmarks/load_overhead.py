"""What does gameday's load instrumentation cost? Bare Locust vs gameday load, same target.

Runs, against the same loopback orders service and for the same duration, with the same
users and no think time (so the client is as busy as it can be):

* bare: a plain FastHttpUser doing the orders mix (POST /orders, GET /orders/{id}) straight
  to the region's address, with the same Locust reports (``--html``, ``--csv``) gameday's
  runner asks for, so the comparison isolates what gameday adds;
* gameday: the stock locustfile through :class:`gameday.load.runner.LoadRun`: the name is
  resolved through a DNS server with a 1 s TTL (re-resolved every second), every request is
  recorded in the JSONL ledger.

CPU per request is given two ways: over the whole run (start-up and shutdown included, as
the process really spends it; a short run inflates it) and in the steady state only (from
2 s after the first request to the last second, read off Locust's per-second stats history
and a CPU sampler), which is what each request costs.

Each round is a pair (bare, gameday; the order alternates from round to round, so a drift in
the machine's load does not favour one side). Per pair it prints both request rates
(Locust's own), the Locust process's CPU per request, the service's CPU share (to tell
whether the client or the service was the bottleneck) and the pair's two ratios; at the end
the median of the paired ratios with their min-max spread, against the targets: rate
ratio gameday/bare >= 0.95 and CPU per request gameday/bare <= 1.05. The machine may be
shared: the spread says how much to trust the median.

The service is the lab's region server (gameday.lab.region.server.Region and the lab's asyncio
HTTP server, with a SQLite store) in its own process; a tiny built-in asyncio server is used
if the lab is not importable. Everything binds to loopback; every process is stopped.

    .venv/bin/python benchmarks/load_overhead.py [--duration 10] [--users 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
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
from dataclasses import dataclass
from pathlib import Path

ADDRESS = "127.0.31.1"
NAME = "api.bench.internal"
#: The targets of issue 10: gameday's load costs at most 5% more client CPU per request than
#: bare Locust, and keeps at least 95% of its request rate.
RATE_TARGET = 0.95
CPU_TARGET = 1.05


@dataclass(frozen=True)
class Spread:
    """The median of paired ratios and their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def __str__(self) -> str:
        return f"{self.median:.3f} (min-max {self.low:.3f}-{self.high:.3f})"


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


def per_request(row: dict[str, float]) -> float:
    """Client CPU seconds per request of one run (start-up and shutdown included)."""
    return row["cpu"] / max(row["requests"], 1)


def locust_summary(log_text: str) -> tuple[int, float]:
    """(request count, req/s) from the Aggregated row of Locust's summary table."""
    for line in log_text.splitlines():
        if re.match(r"^\s*Aggregated\s+\d+\s", line) and "|" in line:
            count = int(line.split()[1])
            rate = float(line.split("|")[-1].split()[0])
            return count, rate
    raise RuntimeError("no Locust summary found in its output")


class CpuSampler:
    """Samples a process's CPU seconds (utime + stime) with wall-clock times, 4 times a second,
    so the CPU spent between two instants of the run can be read off afterwards."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), cpu_seconds(self.pid)))
            except (OSError, IndexError):
                return  # the process is gone
            self._stop.wait(0.25)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, when: float) -> float:
        """CPU seconds used by ``when`` (linear between the two samples around it)."""
        before = max((s for s in self.samples if s[0] <= when), default=self.samples[0])
        after = min((s for s in self.samples if s[0] >= when), default=self.samples[-1])
        if after[0] == before[0]:
            return before[1]
        share = (when - before[0]) / (after[0] - before[0])
        return before[1] + share * (after[1] - before[1])


def steady_cpu_per_request(sampler: CpuSampler, csv_prefix: Path) -> float:
    """Client CPU per request in the steady state: from 2 s after the first request to 1 s
    before the last stats row, so start-up (imports) and shutdown (reports) are left out.

    Request counts come from Locust's own per-second stats history (``--csv``), CPU from
    the sampler at the same instants."""
    rows = []
    with open(f"{csv_prefix}_stats_history.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                rows.append((float(row["Timestamp"]), int(row["Total Request Count"])))
    started = [r for r in rows if r[1] > 0]
    if len(started) < 5:
        return math.nan
    first, last = started[2], started[-2]
    requests = last[1] - first[1]
    return (sampler.at(last[0]) - sampler.at(first[0])) / requests if requests else math.nan


def run_bare(workdir: Path, port: int, users: int, duration: int, index: int) -> dict[str, float]:
    locustfile = workdir / "bare_locustfile.py"
    locustfile.write_text(BARE_LOCUSTFILE)
    prefix = workdir / f"bare{index}" / "bare.locust"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "--host",
        f"http://{ADDRESS}:{port}",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{duration}s",
        "--only-summary",
        "--exit-code-on-error",
        "0",
        # the same reports gameday's runner asks Locust for: compare like with like
        "--html",
        f"{prefix}.html",
        "--csv",
        str(prefix),
    ]
    before = children_cpu()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = CpuSampler(proc.pid)
    output, _ = proc.communicate(timeout=duration + 60)
    sampler.stop()
    cpu = children_cpu() - before
    count, rate = locust_summary(output)
    steady = steady_cpu_per_request(sampler, prefix)
    return {"requests": count, "rate": rate, "cpu": cpu, "steady": steady}


def run_gameday(
    workdir: Path, port: int, nameserver: str, users: int, duration: int, index: int
) -> dict[str, float]:
    from gameday.load.runner import LoadRun
    from gameday.load.settings import LoadSettings

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
    assert run.process is not None
    sampler = CpuSampler(run.process.pid)
    result = run.wait(timeout=duration + 60)
    sampler.stop()
    cpu = children_cpu() - before
    count, rate = locust_summary(result.log.read_text())
    return {
        "requests": count,
        "rate": rate,
        "cpu": cpu,
        "steady": steady_cpu_per_request(sampler, run.csv_prefix),
        "records": result.records,
        "locust_requests": result.locust_requests or 0,
        "complete": result.complete,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="paired bare/gameday rounds")
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
                order = ("bare", "gameday") if index % 2 == 0 else ("gameday", "bare")
                for kind in order:
                    server_cpu = cpu_seconds(server.pid)
                    if kind == "bare":
                        row = run_bare(workdir, port, args.users, args.duration, index)
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
                        f"client {1e6 * per_request(row):6.1f} us CPU/req "
                        f"({1e6 * row['steady']:5.1f} steady)  "
                        f"service CPU {row['server_cpu'] / args.duration:4.0%}{extra}"
                    )
                bare, game = rows["bare"][-1], rows["gameday"][-1]
                print(
                    f"round {index + 1} gameday/bare: rate {game['rate'] / bare['rate']:.3f}, "
                    f"CPU/req {per_request(game) / per_request(bare):.3f}, "
                    f"steady CPU/req {game['steady'] / bare['steady']:.3f}",
                    flush=True,
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

    pairs = list(zip(rows["bare"], rows["gameday"], strict=True))
    rate = Spread.of([g["rate"] / b["rate"] for b, g in pairs])
    cpu = Spread.of([per_request(g) / per_request(b) for b, g in pairs])
    steady = Spread.of([g["steady"] / b["steady"] for b, g in pairs])
    bare_rate = statistics.median(r["rate"] for r in rows["bare"])
    gameday_rate = statistics.median(r["rate"] for r in rows["gameday"])
    bare_cpu = statistics.median(per_request(r) for r in rows["bare"])
    gd_cpu = statistics.median(per_request(r) for r in rows["gameday"])
    records = sum(int(r["records"]) for r in rows["gameday"])
    counted = sum(int(r["locust_requests"]) for r in rows["gameday"])
    complete = all(r["complete"] for r in rows["gameday"])
    print(
        f"\nbare Locust FastHttpUser : {bare_rate:8.1f} req/s  ({1e6 * bare_cpu:.1f} us CPU/req), "
        f"medians of {len(pairs)} runs\n"
        f"gameday load             : {gameday_rate:8.1f} req/s  ({1e6 * gd_cpu:.1f} us CPU/req)\n"
        f"rate ratio gameday/bare  : {rate}, median of {len(pairs)} paired rounds "
        f"(target >= {RATE_TARGET}: {'met' if rate.median >= RATE_TARGET else 'NOT met'})\n"
        f"CPU/request gameday/bare : {cpu} "
        f"(target <= {CPU_TARGET}: {'met' if cpu.median <= CPU_TARGET else 'NOT met'})\n"
        f"  steady state only      : {steady} (start-up and shutdown left out)\n"
        f"ledger completeness      : {records} records / {counted} Locust requests "
        f"({'complete' if complete else 'INCOMPLETE'})\n"
        f"load average at the end  : {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs (other work on the machine makes the rates noisy)"
    )
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
