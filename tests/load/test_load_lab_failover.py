"""Must show, against the lab: after the primary's health check is inverted, TTL-honouring
clients are served by the secondary within TTL + one health-check interval of the DNS
change; sticky clients markedly later or never."""

from __future__ import annotations

import time

import boto3
import pytest

from gameday.load.ledger import LedgerRecord, read_ledger
from gameday.load.runner import LoadRun
from gameday.load.settings import LoadSettings

pytestmark = [pytest.mark.lab, pytest.mark.slow]

# The lab's defaults (LabConfig): TTL 1 s, health checks every 1 s, threshold 2.
TTL = 1.0
INTERVAL = 1.0
THRESHOLD = 2
STICKY_WATCH = 4.0  # seconds past the ttl-mode bound during which sticky must not move


def first_start(records: list[LedgerRecord], region: str, after: float) -> float | None:
    starts = [r.start for r in records if r.region == region and r.start >= after]
    return min(starts) if starts else None


def test_failover_reaches_ttl_clients_within_ttl_plus_one_interval_and_not_sticky_ones(
    lab, lab_env, tmp_path
) -> None:
    info = lab.info
    primary, secondary = info.primary, info.secondary

    def settings(mode: str) -> LoadSettings:
        return LoadSettings(
            target=info.record_name,
            port=info.service_port,
            nameserver=f"{info.dns_host}:{info.dns_port}",
            lab=True,
            users=2,
            run_time=60,
            resolver_mode=mode,
            think_min=0.02,
            think_max=0.05,
            connect_timeout=1.0,
            network_timeout=1.0,
            ledger=tmp_path / mode / "ledger.jsonl",
        )

    runs = [LoadRun(settings("ttl")), LoadRun(settings("sticky"))]
    route53 = boto3.client("route53")
    hc = primary.health_check_id
    try:
        for run in runs:
            run.start()
        for run in runs:
            run.wait_until_producing(min_records=20, timeout=30)
        ttl_run, sticky_run = runs

        inverted_at = time.time()
        route53.update_health_check(HealthCheckId=hc, Inverted=True)
        change = lab.wait_for_event(
            lambda e: (
                e["kind"] == "dns"
                and e["name"] == info.record_name
                and e["answer"] == [secondary.address]
            ),
            timeout=INTERVAL * THRESHOLD + INTERVAL + 5,
            since=inverted_at,
        )
        changed_at = change["time"]
        bound = changed_at + TTL + INTERVAL
        while time.time() < bound + 1.0:
            if first_start(list(read_ledger(ttl_run.ledger)), secondary.name, changed_at):
                break
            time.sleep(0.05)
        watch_until = bound + STICKY_WATCH
        while time.time() < watch_until:
            time.sleep(0.1)
        results = [run.stop() for run in runs]
    finally:
        route53.update_health_check(HealthCheckId=hc, Inverted=False)
        for run in runs:
            if run.process is not None:
                run.stop(timeout=10)

    assert all(result.complete for result in results), results
    ttl_records = list(read_ledger(ttl_run.ledger))
    moved = first_start(ttl_records, secondary.name, changed_at)
    assert moved is not None, "ttl clients were never served by the secondary"
    delay = moved - changed_at
    print(
        f"\nlab failover: DNS changed {changed_at - inverted_at:.2f}s after the inversion; "
        f"ttl clients first served by {secondary.name} {delay:.3f}s after the DNS change "
        f"(bound TTL {TTL:g}s + interval {INTERVAL:g}s)"
    )
    assert delay <= TTL + INTERVAL
    assert {r.address for r in ttl_records if r.region == secondary.name} == {secondary.address}

    sticky_records = list(read_ledger(sticky_run.ledger))
    assert sticky_records[-1].end > watch_until - 1.0  # still running at the end of the watch
    reached = [r for r in sticky_records if r.region == secondary.name]
    print(
        f"lab failover: sticky clients, {len(reached)} of {len(sticky_records)} requests served "
        f"by {secondary.name} up to {watch_until - changed_at:.1f}s after the DNS change"
    )
    assert reached == []
    assert all(r.address == primary.address for r in sticky_records)
