"""One clock: the same drill at two lab speeds gives the same answer in AWS seconds.

    .venv/bin/python benchmarks/speed_invariance.py [--runs 3] [--speeds 2 10]
        [--drills region-evacuation database-failover] [--seed 1]

For each speed, starts a lab (``gameday lab up --speed S --seed N --detach`` in a temporary
directory, free ports: every duration it is given is in AWS seconds, the baseline
replication delay included, and the same seed makes the same draws from AWS's documented
ranges in the same order, so both labs are the same system; the unplanned failover and the
old primary's rebuild are fixed at 60 AWS s each, :data:`FIXED`, or a rebuild drawn from
AWS's 300-1800 s would take up to 15 minutes per run at speed 2), runs each drill ``--runs``
times with ``gameday run --lab``, reads
``summary.json`` and prints, per drill and speed, the median and the spread (min..max) of
the AWS-seconds RTO and RPO, then whether the two speeds' medians agree within 15 %
(``|a - b| <= 0.15 x max(a, b)``; two zeros agree). Exit 0 when every pair agrees, 1 when
one does not. Everything runs on loopback; each lab is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
TOLERANCE = 0.15
#: The lab settings fixed for this benchmark (AWS seconds): the question is whether two
#: speeds agree, not how long AWS takes, and drawn rebuilds would make it hours long.
FIXED = {"failover_seconds": 60.0, "resync_seconds": 60.0}


def _gameday(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> int:
    done = subprocess.run(
        [*GAMEDAY, *args], cwd=ROOT, env=env, timeout=timeout,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )  # fmt: skip
    if done.returncode not in (0, 1):
        print(f"  gameday {' '.join(args[:2])} exited {done.returncode}: {done.stdout[-600:]}")
    return done.returncode


def run_at(
    speed: float, drills: list[str], runs: int, work: Path, seed: int
) -> dict[str, list[dict]]:
    """Every run's summary, per drill, on one lab at ``speed``."""
    lab = work / f"lab-{speed:g}"
    config = work / "lab.json"
    config.write_text(json.dumps(FIXED))
    up = ["lab", "up", "--dir", str(lab), "--config", str(config), "--speed", str(speed), "--detach", "--seed", str(seed),
          "--service-port", "0", "--dns-port", "0", "--endpoint-port", "0"]  # fmt: skip
    for _attempt in range(3):  # a busy machine can miss the lab's 45 s start-up deadline
        if _gameday(*up, timeout=180) == 0:
            break
        _gameday("lab", "down", "--dir", str(lab), timeout=120)
    else:
        raise SystemExit(f"the lab at speed {speed:g} did not start (see {lab})")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEDAY_", "AWS_"))}
    env["GAMEDAY_FAULT_LEDGER"] = str(work / f"faults-{speed:g}.jsonl")
    found: dict[str, list[dict]] = {d: [] for d in drills}
    try:
        for i in range(runs):
            for drill in drills:
                out = work / f"out-{speed:g}-{i}"
                code = _gameday("run", f"experiments/{drill}.json", "--lab", "--lab-dir", str(lab),
                                "--out", str(out), "--unattended", env=env)  # fmt: skip
                summaries = sorted(out.glob(f"{drill}/*/summary.json"))
                if not summaries:
                    print(
                        f"  speed {speed:g} {drill} run {i}: no summary (exit {code})", flush=True
                    )
                    continue
                data = json.loads(summaries[-1].read_text())
                found[drill].append(data)
                print(f"  speed {speed:g} {drill} run {i}: {data['verdict']} RTO {data['rto_seconds']} "
                      f"RPO {data['rpo_seconds']} (exit {code})", flush=True)  # fmt: skip
    finally:
        _gameday("lab", "down", "--dir", str(lab), timeout=120)
    return found


def _stats(values: list[float | None]) -> tuple[float | None, str]:
    present = [v for v in values if v is not None]
    if not present:
        return None, "n/a"
    return statistics.median(present), f"{min(present):.2f}..{max(present):.2f} (n={len(present)})"


def agree(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speeds", type=float, nargs=2, default=[2.0, 10.0])
    parser.add_argument("--drills", nargs="+", default=["region-evacuation", "database-failover"])
    parser.add_argument("--seed", type=int, default=1, help="the labs' seed (the same at both)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="gameday-speed-") as tmp:
        for speed in args.speeds:
            results[speed] = run_at(speed, args.drills, args.runs, Path(tmp), args.seed)
    ok = True
    a, b = args.speeds
    print(f"\n{'drill':<20} {'figure':<4} {'speed':>6} {'median':>9}  spread")
    for drill in args.drills:
        for key, label in (("rto_seconds", "RTO"), ("rpo_seconds", "RPO")):
            medians = []
            for speed in (a, b):
                med, spread = _stats([s[key] for s in results[speed][drill]])
                medians.append(med)
                shown = "n/a" if med is None else f"{med:.2f}"
                print(f"{drill:<20} {label:<4} {speed:>6g} {shown:>9}  {spread}")
            same = agree(*medians)
            ok = ok and same
            print(f"{'':<20} {label:<4} {'agree' if same else 'DISAGREE'} within {TOLERANCE:.0%}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
