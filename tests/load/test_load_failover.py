"""DNS failover as clients see it: TTL-honouring clients follow the answer, sticky ones don't.

Stand-in for the lab: the in-test DNS switches its answer the way the lab's DNS does when
the primary's health check goes unhealthy (no health checker here, so the bound is the
TTL plus one second of slack where the lab test adds one health-check interval).
"""

from __future__ import annotations

import time

from gameday.load.ledger import LedgerRecord, read_ledger
from gameday.load.runner import LoadRun

TTL = 1.0
SLACK = 1.0


def first_start(records: list[LedgerRecord], region: str, after: float) -> float | None:
    starts = [r.start for r in records if r.region == region and r.start >= after]
    return min(starts) if starts else None


def test_ttl_clients_follow_the_dns_change_and_sticky_clients_do_not(
    make_settings, regions, dns, runs
) -> None:
    primary, secondary = regions
    ttl_run = LoadRun(make_settings(resolver_mode="ttl"))
    sticky_run = LoadRun(make_settings(resolver_mode="sticky"))
    runs += [ttl_run, sticky_run]
    for run in (ttl_run, sticky_run):
        run.start()
    for run in (ttl_run, sticky_run):
        run.wait_until_producing(min_records=20, timeout=20)

    switched_at = dns.point_to(secondary.address)
    # ttl: await the first request served by the secondary, bounded; then observe both
    # runs until the bound has passed, so sticky had every chance to move too.
    bound = switched_at + TTL + SLACK
    observe_until = bound + 2.0
    while time.time() < observe_until:
        if time.time() > bound and first_start(list(read_ledger(ttl_run.ledger)), "secondary", 0):
            break
        time.sleep(0.1)
    time.sleep(max(0.0, observe_until - time.time()))  # sticky must stay put this long
    ttl_result, sticky_result = ttl_run.stop(), sticky_run.stop()
    assert ttl_result.complete and sticky_result.complete

    ttl_records = list(read_ledger(ttl_run.ledger))
    moved = first_start(ttl_records, "secondary", switched_at)
    assert moved is not None, "ttl clients never reached the secondary"
    delay = moved - switched_at
    print(f"ttl mode: first request served by the secondary {delay:.3f}s after the DNS change")
    assert delay <= TTL + SLACK
    # pooled connections were dropped with the old answer: nothing more went to the primary
    late_primary = [r for r in ttl_records if r.region == "primary" and r.start > moved]
    assert late_primary == []
    assert {r.address for r in ttl_records if r.region == "secondary"} == {secondary.address}

    sticky_records = list(read_ledger(sticky_run.ledger))
    assert sticky_records[-1].end > observe_until - 0.5  # it really was still running
    assert [r for r in sticky_records if r.region == "secondary"] == []
    assert all(r.address == primary.address for r in sticky_records)
    print(f"sticky mode: 0 of {len(sticky_records)} requests reached the secondary")
