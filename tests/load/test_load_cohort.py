"""One load run with both client cohorts: ``--sticky-share`` makes a share of the users cache
their first DNS answer, and every ledger record names its cohort."""

from __future__ import annotations

import time

from gameday.load.ledger import LedgerRecord, cohort_of, read_ledger
from gameday.load.runner import LoadRun


def test_cohort_of_spreads_the_share_evenly_and_exactly() -> None:
    cohorts = [cohort_of(n, 0.25) for n in range(8)]
    assert cohorts.count("sticky") == 2
    assert cohorts[:4].count("sticky") == 1  # spread, not bunched at the end
    assert [cohort_of(n, 0.5) for n in range(4)].count("sticky") == 2
    assert cohort_of(0, 0.0, "sticky") == "sticky"  # --resolver-mode sticky: everyone
    assert [cohort_of(n, 0.0) for n in range(3)] == ["ttl"] * 3
    assert [cohort_of(n, 1.0) for n in range(3)] == ["sticky"] * 3


def test_old_ledger_lines_read_as_the_ttl_cohort() -> None:
    old = {"start": 1.0, "end": 1.1, "op": "read", "ok": True, "status": 200}
    assert LedgerRecord.from_json(old).cohort == "ttl"
    assert (
        '"cohort":"sticky"'
        in LedgerRecord(1, 2, "read", "GET", 200, True, 1.0, cohort="sticky").to_json()
    )


def test_sticky_share_runs_both_cohorts_and_only_the_ttl_cohort_follows_dns(
    make_settings, regions, dns, runs
) -> None:
    primary, secondary = regions
    run = LoadRun(make_settings(users=4, run_time=30, extra_args=("--sticky-share", "0.5")))
    runs.append(run)
    run.start()
    run.wait_until_producing(min_records=40, timeout=30)
    moved_at = dns.point_to(secondary.address)
    deadline = moved_at + 10
    while time.time() < deadline:
        recent = [r for r in read_ledger(run.ledger) if r.start > moved_at + 1.5]
        if (
            any(r.cohort == "ttl" and r.address == secondary.address for r in recent)
            and sum(r.cohort == "sticky" for r in recent) >= 20
        ):
            break
        time.sleep(0.1)
    result = run.stop()
    assert result.complete
    records = list(read_ledger(run.ledger))
    assert {r.cohort for r in records} == {"ttl", "sticky"}
    late = [r for r in records if r.start > moved_at + 1.5]
    assert {r.address for r in late if r.cohort == "sticky"} == {primary.address}
    assert secondary.address in {r.address for r in late if r.cohort == "ttl"}


def test_a_sticky_share_outside_0_to_1_is_refused_before_any_load(make_settings, runs) -> None:
    run = LoadRun(make_settings(extra_args=("--sticky-share", "1.5")))
    runs.append(run)
    run.start()
    try:
        run.wait_until_producing(timeout=20)
    except Exception as exc:
        assert "not between 0 and 1" in str(exc) or "sticky-share" in run.log.read_text()
    else:
        raise AssertionError("a sticky share of 1.5 produced load")
    assert "not between 0 and 1" in run.log.read_text()
