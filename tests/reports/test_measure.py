"""RTO, phases and cohorts on synthetic ledgers and journals whose answers are known by
construction (times are offsets from synth.BASE)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from gameday.reports import build_report
from gameday.reports.build import measure_run, read_run
from tests.reports.synth import BASE, PRIMARY, SECONDARY, journal, requests, write_run

RATE = 200.0
INTERVAL = 1 / RATE
OBJECTIVES = {"objectives": {"rto_seconds": 60, "rpo_seconds": 5}}


def measure(run_dir: Path):
    return measure_run(read_run(run_dir))[0]


def test_every_request_failing_from_10_to_13_5_gives_rto_3_5(tmp_path: Path) -> None:
    recs = requests(RATE, 40, failing=lambda t: 10.0 <= t < 13.5)
    m = measure(write_run(tmp_path / "r", journal(10.0, extension=OBJECTIVES), recs))
    assert m.recovery.outcome == "recovered"
    assert m.recovery.rto_s == pytest.approx(3.5, abs=INTERVAL)
    assert m.recovery.failed_after_t0 == 700  # 3.5 s x 200 req/s, all counted
    assert m.verdict == "incomplete"  # RPO objective set, no audit: not invented
    assert any("audit.json" in x for x in m.missing)


def test_no_outage_is_a_result_not_a_crash(tmp_path: Path) -> None:
    m = measure(write_run(tmp_path / "r", journal(10.0), requests(RATE, 30)))
    assert m.recovery.outcome == "no-outage"
    assert m.recovery.rto_s == 0.0
    assert any(f.code == "no-outage" for f in m.findings)


def test_never_recovered_within_the_observation_window_misses_the_rto(tmp_path: Path) -> None:
    recs = requests(RATE, 30, failing=lambda t: t >= 10.0)
    summary = build_report(
        write_run(
            tmp_path / "e" / "r", journal(10.0, extension={"objectives": {"rto_seconds": 60}}), recs
        )
    )
    assert summary.verdict == "missed"
    assert summary.rto_seconds is None
    data = summary.to_json()
    assert data["recovery"]["outcome"] == "not-recovered"
    assert "not recovered within the observation window" in data["verdict_text"]


def test_a_recovery_window_must_fit_in_the_observed_ledger(tmp_path: Path) -> None:
    # recovers at 13.5 but the ledger ends at 20: no complete 10 s window, not recovered
    recs = requests(RATE, 20, failing=lambda t: 10.0 <= t < 13.5)
    m = measure(write_run(tmp_path / "r", journal(10.0), recs))
    assert m.recovery.outcome == "not-recovered"


def test_flapping_recovers_only_after_the_last_failing_second(tmp_path: Path) -> None:
    recs = requests(RATE, 40, failing=lambda t: 10.0 <= t < 19.0 and int(t) % 2 == 0)
    m = measure(write_run(tmp_path / "r", journal(10.0), recs))
    assert m.recovery.rto_s == pytest.approx(9.0, abs=INTERVAL)


def test_a_silent_window_proves_nothing(tmp_path: Path) -> None:
    # fails 10-12, then 10 good requests at 12.00-12.05, silence until 20, good from 20 on
    recs = [
        *requests(RATE, 12, failing=lambda t: t >= 10.0),
        *requests(RATE, 12.05, start=12.0),
        *requests(RATE, 40, start=20.0),
    ]
    m = measure(write_run(tmp_path / "r", journal(10.0), recs))
    assert m.recovery.rto_s == pytest.approx(10.0, abs=INTERVAL)


def test_records_out_of_order_measure_the_same(tmp_path: Path) -> None:
    recs = list(requests(RATE, 40, failing=lambda t: 10.0 <= t < 13.5))
    shuffled = []
    rng = random.Random(7)
    for i in range(0, len(recs), 400):  # shuffle within 2 s chunks, as batches land
        chunk = recs[i : i + 400]
        rng.shuffle(chunk)
        shuffled += chunk
    ordered = measure(write_run(tmp_path / "a", journal(10.0), recs))
    mixed = measure(write_run(tmp_path / "b", journal(10.0), shuffled))
    assert mixed.recovery == ordered.recovery
    assert mixed.facts.bins == ordered.facts.bins


def test_per_cohort_rto_and_sticky_clients_that_never_moved(tmp_path: Path) -> None:
    ttl = requests(RATE / 2, 40, failing=lambda t: 10.0 <= t < 12.0,
                   region=lambda t: PRIMARY if t < 10 else SECONDARY, status_fail=0)  # fmt: skip
    sticky = requests(RATE / 2, 40, failing=lambda t: t >= 10.0, cohort="sticky", status_fail=0)
    recs = sorted([*ttl, *sticky], key=lambda r: r.start)
    run = {"regions": {"primary": PRIMARY, "secondary": SECONDARY}}
    m = measure(write_run(tmp_path / "r", journal(10.0), recs, run_json=run))
    by = {c.cohort: c for c in m.cohorts}
    assert by["ttl"].recovery.rto_s == pytest.approx(2.0, abs=2 / RATE)
    assert by["ttl"].reached_recovery_region_s == pytest.approx(2.0, abs=2 / RATE)
    assert by["sticky"].recovery.outcome == "not-recovered"
    assert by["sticky"].reached_recovery_region_s is None
    assert by["sticky"].recovery.error_share == 1.0
    codes = {f.code for f in m.findings}
    assert {"sticky-never-moved", "sticky-slower"} <= codes


def test_a_404_on_an_acknowledged_id_is_data_loss_not_unavailability(tmp_path: Path) -> None:
    recs = list(requests(RATE, 40, failing=lambda t: 10.0 <= t < 13.5))
    lost_reads = [
        r._replace(status=404, ok=False, write_id=f"gone{i}", start=BASE + 20 + i / 10, end=BASE + 20.005 + i / 10)
        for i, r in enumerate(recs[:5])
    ]  # fmt: skip
    merged = sorted([*recs, *lost_reads], key=lambda r: r.start)
    m = measure(write_run(tmp_path / "r", journal(10.0), merged))
    assert m.recovery.rto_s == pytest.approx(3.5, abs=INTERVAL)
    assert m.rpo.lost_reads == 5
    assert m.facts.outcomes["lost-read"] == 5


def test_phases_come_from_samples_lab_events_and_the_ledger(tmp_path: Path) -> None:
    recs = requests(RATE, 40, failing=lambda t: 10.0 <= t < 13.5,
                    region=lambda t: PRIMARY if t < 12.2 else SECONDARY,
                    op=lambda i: "write" if i % 4 == 0 else "read")  # fmt: skip
    samples = [
        {"time": BASE + 5, "probe": "writer_region", "subject": "db", "value": PRIMARY, "ok": True, "error": None},
        {"time": BASE + 11.0, "probe": "health_check", "subject": PRIMARY, "value": {"healthy": False}, "ok": True, "error": None},
        {"time": BASE + 11.9, "probe": "dns_answer", "subject": "api", "value": {"addresses": ["127.0.2.1"], "region": SECONDARY}, "ok": True, "error": None},
        {"time": BASE + 13.0, "probe": "writer_region", "subject": "db", "value": SECONDARY, "ok": True, "error": None},
        {"time": BASE + 8.0, "probe": "replication_lag", "subject": "db", "value": 7.5, "ok": True, "error": None},
    ]  # fmt: skip
    run = {"regions": {"primary": PRIMARY, "secondary": SECONDARY}, "objectives": {"rto_seconds": 2, "rpo_seconds": 5},
           "floors": {"health_check_interval_s": 1.0, "failure_threshold": 2, "ttl_s": 3.0, "lab_speed": 10}}  # fmt: skip
    m = measure(
        write_run(
            tmp_path / "r", journal(10.0, rollback_at=30), recs, run_json=run, samples_jsonl=samples
        )
    )
    # lab_speed 10: every duration is in AWS seconds (lab seconds x 10), lab seconds beside
    at = {p.key: p.since_t0_s for p in m.phases}
    lab = {p.key: p.lab_since_t0_s for p in m.phases}
    assert "detection" not in at  # no Route 53 status seen: the checkers' failure is its own phase
    assert at["checkers"] == pytest.approx(10.0) and lab["checkers"] == pytest.approx(1.0)
    assert "dns-change" not in at  # no lab log: the service record's change is not claimed
    assert at["dns-probe"] == pytest.approx(19.0)
    assert at["dns-shift"] == pytest.approx(22.0, abs=10 * INTERVAL)
    assert at["promotion"] == pytest.approx(30.0)
    assert at["first-write"] == pytest.approx(35.0, abs=10 * (4 * INTERVAL + 0.01))
    assert at["rollback"] == pytest.approx(200.0)
    assert m.roles.users_from == PRIMARY and m.roles.users_to == SECONDARY
    assert m.roles.writer_before == PRIMARY and m.roles.writer_after == SECONDARY
    codes = {f.code: f for f in m.findings}
    assert codes["ttl-exceeds-rto"].numbers == {"ttl_s": 3.0, "rto_objective_s": 2}
    assert codes["dns-floor-exceeds-rto"].numbers["dns_floor_s"] == 5.0
    assert codes["lag-exceeds-rpo"].numbers["replication_lag_s"] == pytest.approx(75.0)
    assert "lag-crossed-rpo" not in codes  # no lag sample after the fault
    refused = codes["writes-refused-after-dns"].numbers
    # refused by the region users moved to, from the DNS shift until its promotion
    assert refused["seconds"] == pytest.approx(10 * (13.0 - 12.2), abs=10 * 4 * INTERVAL + 1e-6)


def test_the_journal_names_the_fault_activity_explicitly(tmp_path: Path) -> None:
    data = journal(10.0, extension={"fault_activity": "fail-over-database"})
    data["run"].insert(0, {"activity": {"type": "action", "name": "warm-up", "provider": {"type": "python", "module": "x", "func": "y"}},
                           "status": "succeeded", "start": data["run"][0]["start"], "end": data["start"]})  # fmt: skip
    m = measure(write_run(tmp_path / "r", data, requests(RATE, 30)))
    assert m.fault_activity == "fail-over-database"
    assert m.t0 == pytest.approx(BASE + 10.0)


def test_a_journal_without_an_impairment_is_a_partial_report(tmp_path: Path) -> None:
    summary = build_report(write_run(tmp_path / "e" / "r", journal(None), requests(RATE, 30)))
    data = summary.to_json()
    assert summary.verdict == "incomplete" and summary.rto_seconds is None
    assert data["recovery"]["outcome"] == "no-fault"
    assert any("impairment" in x for x in data["missing"])
    html = (tmp_path / "e" / "r" / "report.html").read_text()
    assert "an impairment action in the journal" in html
    assert json.loads((tmp_path / "e" / "r" / "summary.json").read_text())["rto_seconds"] is None
    # a directory not named like a UTC stamp (measured by hand) keeps its history beside it
    assert (tmp_path / "e" / "history.jsonl").exists() and not (tmp_path / "history.jsonl").exists()


def test_the_ledger_pass_counts_outcomes_exactly_as_classify_defines_them() -> None:
    from gameday.load.ledger import LedgerRecord
    from gameday.reports.measure import OUTCOMES, classify, measure_ledger
    from gameday.reports.objectives import Objectives

    cases = [  # (op, status, ok, write_id) -> outcome
        ("read", 200, True, "a", "ok"), ("write", 201, True, "b", "ok"),
        ("read", 404, False, "c", "lost-read"), ("read", 404, False, None, "client-error"),
        ("write", 503, False, "d", "failed"), ("read", 0, False, "e", "failed"),
        ("write", 409, False, "f", "client-error"), ("read", 500, False, None, "failed"),
        ("read", 200, False, None, "failed"),  # a 200 the client rejected
    ]  # fmt: skip
    records = [
        LedgerRecord(BASE + i, BASE + i + 0.01, op, "GET", status, ok, 10.0, None, None, wid)
        for i, (op, status, ok, wid, _) in enumerate(cases)
    ]
    assert [classify(r) for r in records] == [c[-1] for c in cases]
    facts = measure_ledger(records, None, Objectives())
    assert facts.outcomes == {o: sum(c[-1] == o for c in cases) for o in OUTCOMES}


def test_lag_that_crosses_the_rpo_objective_after_the_fault_is_a_finding(tmp_path: Path) -> None:
    """The replication-lag drill's decision: failing over now would exceed the RPO, by how much."""
    lag = [(5.0, 0.3), (9.0, 0.4), (11.0, 2.0), (12.5, 5.5), (14.0, 8.0), (16.0, 0.5)]
    samples = [
        {"time": BASE + t, "probe": "replication_lag", "subject": "db", "value": v, "ok": True, "error": None}
        for t, v in lag
    ]  # fmt: skip
    run = {"regions": {"primary": PRIMARY, "secondary": SECONDARY},
           "objectives": {"rto_seconds": 30, "rpo_seconds": 5}}  # fmt: skip
    m = measure(
        write_run(
            tmp_path / "r", journal(10.0), requests(RATE, 30), run_json=run, samples_jsonl=samples
        )
    )
    codes = {f.code: f for f in m.findings}
    assert "lag-exceeds-rpo" not in codes  # 0.4 s before the fault
    crossed = codes["lag-crossed-rpo"].numbers
    assert crossed["crossed_after_t0_s"] == pytest.approx(2.5)
    assert crossed["lag_at_crossing_s"] == 5.5
    assert crossed["peak_lag_s"] == 8.0
    assert crossed["excess_s"] == pytest.approx(3.0)
    assert m.floors.replication_lag_after[0] == (pytest.approx(1.0), 2.0)
