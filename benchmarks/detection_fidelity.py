"""Health-check detection in the lab against a model of AWS's documented rules.

    .venv/bin/python benchmarks/detection_fidelity.py [--outages 50] [--speed 10] [--seed 7]

For each failure threshold (2 and 3) the script black-holes the lab's primary with a NACL
deny ``--outages`` times and measures, from the lab's ground truth, the AWS seconds from
the moment the deny took effect (``fault`` applied) to Route 53's status turning
unhealthy (``health``), then lifts the deny, waits for health to return and a random
part of an interval (so outages start at every phase of the checkers' cycle).

The model is Route 53's documented rules and nothing else ("How Amazon Route 53
determines whether a health check is healthy"; ``RequestInterval`` in the API reference):
8 checker regions that do not coordinate (each at its own uniform phase within the
interval), each waiting ``RequestInterval`` from a response (or a time-out) to its next
request; a probe of a black-holed HTTP endpoint fails when the connection is not made
within 4 s; a checker turns unhealthy after ``FailureThreshold`` consecutive failures; the
check is unhealthy once no more than 18% of the checkers say healthy (7 of 8). It is
simulated for many outages from its own seed; both distributions are printed with their
medians, and the difference is compared with one interval.

Everything runs on loopback and stops by itself; it takes about 12 minutes at speed 10.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time

import boto3

from gameday.lab import Lab, LabConfig

INTERVAL = 10.0  # the lab's RequestInterval (AWS seconds)
CONNECT_TIMEOUT = 4.0  # Route 53's HTTP connect limit (AWS seconds)
CHECKERS = 8
HEALTHY_FRACTION = 0.18
RULE = 17


def model_detection(threshold: int, rng: random.Random) -> float:
    """One outage under Route 53's documented rules: AWS seconds to unhealthy."""
    done = []
    for _ in range(CHECKERS):
        # steady state: a success answers at once, so probes start every INTERVAL at a
        # phase of their own; the first probe that meets the outage starts within one
        first = rng.uniform(0.0, INTERVAL)
        done.append(first + CONNECT_TIMEOUT + (threshold - 1) * (INTERVAL + CONNECT_TIMEOUT))
    done.sort()
    # unhealthy when the healthy share is no longer above 18%
    needed = next(
        k for k in range(1, CHECKERS + 1) if (CHECKERS - k) / CHECKERS <= HEALTHY_FRACTION
    )
    return done[needed - 1]


def measure(lab: Lab, threshold: int, outages: int, rng: random.Random) -> list[float]:
    """AWS seconds from each NACL deny taking effect to the check turning unhealthy."""
    info = lab.info
    primary = info.primary
    speed = info.speed
    r53 = boto3.client("route53")
    ec2 = boto3.client("ec2", region_name=primary.name)
    r53.update_health_check(HealthCheckId=primary.health_check_id, FailureThreshold=threshold)
    found = []
    for _ in range(outages):
        since = time.time()
        ec2.create_network_acl_entry(
            NetworkAclId=primary.network_acl_id,
            RuleNumber=RULE,
            Protocol="-1",
            RuleAction="deny",
            Egress=False,
            CidrBlock="0.0.0.0/0",
        )
        applied = lab.wait_for_event(
            lambda e: (
                e["kind"] == "fault"
                and e.get("state") == "applied"
                and e.get("fault") == "network-acl-deny"
            ),
            timeout=30,
            since=since,
        )
        unhealthy = lab.wait_for_event(
            lambda e: (
                e["kind"] == "health"
                and e.get("health_check_id") == primary.health_check_id
                and e.get("healthy") is False
            ),
            timeout=120,
            since=since,
        )
        found.append((float(unhealthy["time"]) - float(applied["time"])) * speed)
        lifted = time.time()
        ec2.delete_network_acl_entry(
            NetworkAclId=primary.network_acl_id, RuleNumber=RULE, Egress=False
        )
        lab.wait_for_event(
            lambda e: (
                e["kind"] == "health"
                and e.get("health_check_id") == primary.health_check_id
                and e.get("healthy") is True
            ),
            timeout=120,
            since=lifted,
        )
        time.sleep(rng.uniform(0.0, INTERVAL / speed))  # meet the checkers at any phase
    return found


def describe(values: list[float]) -> str:
    q = statistics.quantiles(values, n=10)
    return (
        f"n={len(values)} median {statistics.median(values):.1f} s, "
        f"p10 {q[0]:.1f}, p90 {q[-1]:.1f}, min {min(values):.1f}, max {max(values):.1f}"
    )


def histogram(values: list[float], low: float, high: float, width: float = 2.0) -> list[str]:
    lines = []
    edge = low
    while edge < high:
        count = sum(1 for v in values if edge <= v < edge + width)
        lines.append(f"    {edge:5.0f}-{edge + width:<4.0f} {'#' * count} {count}")
        edge += width
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outages", type=int, default=50)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model-samples", type=int, default=10000)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="detection-") as tmp:
        lab = Lab.start(LabConfig(lab_dir=tmp, speed=args.speed, seed=args.seed))
        try:
            os.environ.update(lab.env())
            mode = lab.state().get("network_mode")
            print(f"lab speed {args.speed:g}, seed {args.seed}, network mode {mode}")
            for threshold in (2, 3):
                lab_values = measure(lab, threshold, args.outages, rng)
                model_rng = random.Random(args.seed * 1000 + threshold)
                model = [model_detection(threshold, model_rng) for _ in range(args.model_samples)]
                gap = statistics.median(lab_values) - statistics.median(model)
                print(f"\nFailureThreshold {threshold} (RequestInterval {INTERVAL:g} s)")
                print(f"  lab   {describe(lab_values)}")
                print(f"  model {describe(model)}")
                verdict = "within" if abs(gap) <= INTERVAL else "NOT within"
                print(f"  median difference {gap:+.1f} s: {verdict} one interval")
                low = min(min(lab_values), min(model)) // 2 * 2
                high = max(max(lab_values), max(model)) + 2
                print("  lab:")
                print("\n".join(histogram(lab_values, low, high)))
                print("  model (share of 50):")
                scaled = [v for v in model[: len(lab_values)]]
                print("\n".join(histogram(scaled, low, high)))
        finally:
            lab.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
