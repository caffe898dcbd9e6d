"""Benchmark the report: measurement + render at 10k, 100k and 1M requests, and the audit
of 100k acknowledged writes against the lab.

    .venv/bin/python benchmarks/report_scale.py [--sizes 10000,100000,1000000] [--runs 3]
                                                [--audit 100000] [--no-audit]

Each size gets a synthetic run directory (journal + ledger at 1,000 requests/s, half of
them writes, two client cohorts, an outage with a failover, and an audit.json with 500
lost writes); each measurement runs ``build_report`` in a fresh process, ``--runs`` times,
and prints the median and the spread (min-max) of the wall time, the process's peak RSS
(``ru_maxrss``, which includes the interpreter, matplotlib and jinja2) and the size of
report.html, plus the CPU time of the process (on a shared machine the wall time also
counts the other processes' turn on the CPUs; the CPU time is what the report costs). Targets: 1M requests in under 10 s, memory flat in the number of requests
(the ledger is streamed; what grows is the audit's lost writes), HTML under 2 MB.

The audit part starts a lab, seeds its primary with N orders through the region's control
API (the seeding is not what is measured), and times ``audit_writes`` of N acknowledged
ids (plus N/100 that were never written) through ``POST /orders/lookup`` in batches of
500. Target: 100k under 10 s. Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATE = 1000  # requests per second of the synthetic load
BASE = 1_790_000_000.0


def make_run(run_dir: Path, n: int) -> None:
    """A run directory with ``n`` requests: outage from 40 % to 45 % of the run, then the
    secondary serves; 5 % of the clients sticky (they fail until the end)."""
    sys.path.insert(0, str(ROOT))
    run_dir.mkdir(parents=True, exist_ok=True)
    span = n / RATE
    t0 = BASE + span * 0.4
    healed = BASE + span * 0.45
    from tests.reports.synth import iso

    journal = {
        "status": "completed",
        "start": iso(BASE),
        "end": iso(BASE + span),
        "experiment": {
            "title": "Scale",
            "extensions": [
                {
                    "name": "gameday",
                    "objectives": {"rto_seconds": 60, "rpo_seconds": 5},
                    "recovery": {
                        "window_seconds": 10,
                        "success_threshold": 0.9,
                        "min_requests": 20,
                    },
                }
            ],
        },
        "run": [
            {
                "activity": {
                    "type": "action",
                    "name": "block",
                    "provider": {
                        "type": "python",
                        "module": "gameday.actions.ec2",
                        "func": "block_endpoint",
                    },
                },
                "status": "succeeded",
                "start": iso(t0 - 0.1),
                "end": iso(t0),
            }
        ],
        "rollbacks": [],
    }
    (run_dir / "journal.json").write_text(json.dumps(journal))
    lost = []
    with (run_dir / "requests.jsonl").open("w") as out:
        for i in range(n):
            start = BASE + i / RATE
            sticky = i % 20 == 0
            write = i % 2 == 0
            down = start >= t0 and (sticky or start < healed)
            region = None if down else ("us-east-1" if start < t0 or sticky else "us-west-2")
            status = 0 if down else (201 if write else 200)
            wid = f"{i:032x}" if write else None
            if write and not down and t0 - 1.0 <= start < t0 and len(lost) < 500:
                lost.append({"id": wid, "acked_at": start + 0.004, "region": region})
            out.write(
                json.dumps(
                    {
                        "start": start,
                        "end": start + 0.004,
                        "op": "write" if write else "read",
                        "method": "POST" if write else "GET",
                        "status": status,
                        "ok": not down,
                        "latency_ms": 4.0 + (i % 97) / 10,
                        "region": region,
                        "address": None,
                        "write_id": wid,
                        "error": "ConnectTimeout" if down else None,
                        "cohort": "sticky" if sticky else "ttl",
                    },
                    separators=(",", ":"),
                )
                + "\n"
            )
    audit = {
        "schema": 1,
        "writer_region": "us-west-2",
        "lookup": "synthetic",
        "checked": n // 2,
        "found": n // 2 - len(lost),
        "lost": lost,
    }
    (run_dir / "audit.json").write_text(json.dumps(audit))


def one(run_dir: Path) -> dict[str, float]:
    """Measure + render once in this process; what the parent prints."""
    from gameday.reports import build_report

    began, cpu = time.perf_counter(), time.process_time()
    build_report(run_dir, history=False)
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "html_bytes": (run_dir / "report.html").stat().st_size,
    }


def spread(values: list[float], fmt: str) -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def bench_sizes(
    sizes: list[int], runs: int, root: Path
) -> list[tuple[int, dict[str, list[float]]]]:
    results = []
    for n in sizes:
        run_dir = root / f"scale-{n}" / "run"
        make_run(run_dir, n)
        got: dict[str, list[float]] = {
            "seconds": [],
            "cpu_seconds": [],
            "peak_rss_mb": [],
            "html_bytes": [],
        }
        for _ in range(runs):
            proc = subprocess.run(
                [sys.executable, __file__, "--one", str(run_dir)],
                capture_output=True,
                text=True,
                check=True,
            )
            for key, value in json.loads(proc.stdout.splitlines()[-1]).items():
                got[key].append(value)
        results.append((n, got))
        print(
            f"{n:>9,} requests  wall {spread(got['seconds'], '{:.2f}')} s  "
            f"CPU {spread(got['cpu_seconds'], '{:.2f}')} s  "
            f"peak RSS {spread(got['peak_rss_mb'], '{:.0f}')} MB  "
            f"HTML {spread([b / 1024 for b in got['html_bytes']], '{:.0f}')} KiB",
            flush=True,
        )
    return results


def bench_audit(n: int, runs: int, root: Path) -> list[float]:
    from gameday.lab import Lab, LabConfig
    from gameday.lab.region.client import RegionClient
    from gameday.reports.audit import AckedWrite, HttpBatchLookup, audit_writes

    lab = Lab.start(LabConfig(lab_dir=str(root / "lab")))
    try:
        info = lab.info
        control = RegionClient(info.primary.control_port, timeout=60)
        ids = [f"bench-{i:08d}" for i in range(n)]
        now = time.time()
        for start in range(0, n, 2000):
            control.apply(
                [
                    {
                        "id": i,
                        "body": {"id": i, "qty": 1},
                        "acked_at": now,
                        "origin": info.primary.name,
                    }
                    for i in ids[start : start + 2000]
                ]
            )
        acked = [AckedWrite(i, now) for i in ids] + [
            AckedWrite(f"never-{i}", now) for i in range(n // 100)
        ]
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            result = audit_writes(
                acked, HttpBatchLookup(f"http://{info.primary.address}:{info.service_port}")
            )
            times.append(time.perf_counter() - began)
            assert result.found == n and len(result.lost) == n // 100, result
        print(
            f"audit of {len(acked):,} acknowledged writes ({n // 100:,} lost) via POST /orders/lookup: "
            f"{spread(times, '{:.2f}')} s",
            flush=True,
        )
        return times
    finally:
        lab.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--audit", type=int, default=100_000)
    parser.add_argument("--no-audit", action="store_true")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    print(f"report scale benchmark: {args.runs} runs each, median (min-max); {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="gameday-report-bench-") as tmp:
        results = bench_sizes([int(s) for s in args.sizes.split(",")], args.runs, Path(tmp))
        if not args.no_audit:
            bench_audit(args.audit, args.runs, Path(tmp))
    big = [got for n, got in results if n >= 1_000_000]
    if big:
        ok = (
            statistics.median(big[0]["seconds"]) < 10
            and max(big[0]["html_bytes"]) < 2 * 1024 * 1024
        )
        cpu_ok = statistics.median(big[0]["cpu_seconds"]) < 10
        print(
            f"1M requests: {'within' if ok else 'OUTSIDE'} the targets (< 10 s wall, HTML < 2 MB); "
            f"CPU time {'within' if cpu_ok else 'OUTSIDE'} 10 s (wall time counts other processes "
            f"sharing the CPUs: see the load average, {os.getloadavg()[0]:.1f} now)"
        )


if __name__ == "__main__":
    main()
