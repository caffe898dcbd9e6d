"""RPO from the audit of acknowledged writes, split brain, duplicates, clock skew, and the
outputs (summary.json against its schema, junit.xml, manifest, history), on synthetic runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from gameday.cli import main
from gameday.load.ledger import LedgerRecord
from gameday.reports import build_report
from gameday.reports.audit import AckedWrite, audit_writes, write_audit
from gameday.reports.build import measure_run, read_run
from gameday.reports.evidence import verify_manifest
from gameday.reports.summary import schema
from tests.reports.synth import BASE, PRIMARY, SECONDARY, journal, requests, write_run

RATE = 100.0
OBJ = {"objectives": {"rto_seconds": 30, "rpo_seconds": 5}}
RUN = {"regions": {"primary": PRIMARY, "secondary": SECONDARY}}


class StoreLookup:
    """A region's store as a dict (id -> order with the server's ack time): the lookup
    protocol's simplest implementation; the code under test is the audit around it."""

    def __init__(self, orders: dict[str, list[dict[str, Any]]], name: str = "store") -> None:
        self.orders, self.name, self.calls = orders, name, 0

    def describe(self) -> str:
        return self.name

    def lookup(self, ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
        self.calls += 1
        found = {i: self.orders[i] for i in ids if i in self.orders}
        return found, [i for i in ids if i not in found]


def writes_run(skew: float = 0.0) -> list[LedgerRecord]:
    """Every request a write; primary until 10, failing 10-12, secondary from 12 (true clock)."""
    return list(
        requests(RATE, 40, failing=lambda t: 10.0 <= t < 12.0, status_fail=0,
                 region=lambda t: PRIMARY if t < 10 else SECONDARY, op=lambda i: "write", skew=skew)
    )  # fmt: skip


def surviving(
    records: list[LedgerRecord], removed: set[str], skew: float = 0.0
) -> dict[str, list[dict[str, Any]]]:
    return {
        r.write_id: [{"id": r.write_id, "body": {"n": 1}, "acked_at": r.end - 0.002 - skew}]
        for r in records if r.acknowledged and r.write_id not in removed
    }  # fmt: skip


def audited_run(tmp_path: Path, records: list[LedgerRecord], removed: set[str], *, skew: float = 0.0,
                samples: list[dict[str, Any]] | None = None, old: dict[str, Any] | None = None) -> Path:  # fmt: skip
    run = write_run(tmp_path / "exp" / "20261130T100000Z", journal(10.0, rollback_at=39, extension=OBJ), records, run_json=RUN,
                    samples_jsonl=[writer_sample(5.0, PRIMARY), *(samples or [promotion_sample(11.5)])])  # fmt: skip
    acked = [AckedWrite(r.write_id, r.end, r.start, r.region) for r in records if r.acknowledged]  # type: ignore[arg-type]
    result = audit_writes(acked, StoreLookup(surviving(records, removed, skew)), batch_size=500,
                          writer_region=SECONDARY, old_lookup=StoreLookup(old) if old is not None else None,
                          old_region=PRIMARY if old is not None else None)  # fmt: skip
    write_audit(run, result)
    return run


def writer_sample(at: float, region: str) -> dict[str, Any]:
    return {
        "time": BASE + at,
        "probe": "writer_region",
        "subject": "db",
        "value": region,
        "ok": True,
        "error": None,
    }


def promotion_sample(at: float) -> dict[str, Any]:
    return writer_sample(at, SECONDARY)


def test_n_writes_removed_from_the_surviving_store_are_exactly_the_lost_ones(
    tmp_path: Path,
) -> None:
    records = writes_run()
    tail = [
        r for r in records if r.acknowledged and 8.5 <= r.start - BASE < 10.0
    ]  # the unshipped tail
    removed = {r.write_id for r in tail}
    summary = build_report(audited_run(tmp_path, records, removed))  # type: ignore[arg-type]
    data = summary.to_json()
    assert summary.lost_write_count == len(removed) == 150
    audit = json.loads((tmp_path / "exp" / "20261130T100000Z" / "audit.json").read_text())
    assert {w["id"] for w in audit["lost"]} == removed
    window = data["rpo"]["loss_window"]
    assert window["oldest_ack"] == pytest.approx(tail[0].end)
    assert window["newest_ack"] == pytest.approx(tail[-1].end)
    # the later of t0 and the newest lost ack before the promotion, minus the oldest lost ack:
    # the failover's own 1.5 s (10 -> 11.5, nothing acknowledged) is not in it
    assert summary.rpo_seconds == pytest.approx(BASE + 10.0 - tail[0].end)
    assert data["rpo"]["basis"].startswith("the later of t0 and the newest lost write")
    assert data["rpo"]["non_suffix"] == 0
    assert (
        summary.verdict == "met"
    )  # all five checks: RTO 2 s <= 30, RPO 1.5 s <= 5, steady, reverted


def test_nothing_lost_is_rpo_zero_and_no_writes_at_all_is_zero_too(tmp_path: Path) -> None:
    summary = build_report(audited_run(tmp_path, writes_run(), set()))
    assert (summary.rpo_seconds, summary.lost_write_count) == (0.0, 0)
    reads = list(requests(RATE, 40, failing=lambda t: 10.0 <= t < 12.0))
    summary = build_report(audited_run(tmp_path / "reads", reads, set()))
    assert (summary.rpo_seconds, summary.lost_write_count) == (0.0, 0)
    assert summary.to_json()["rpo"]["audited"] == 0
    assert next(p for p in summary.to_json()["phases"] if p["key"] == "first-write")["time"] is None


def test_loss_that_is_not_a_suffix_and_an_rpo_over_the_objective(tmp_path: Path) -> None:
    records = writes_run()
    acked = [r for r in records if r.acknowledged and r.region == PRIMARY]
    removed = {r.write_id for r in acked[100:110]}  # lost at 1.0-1.1 s, kept after: not a suffix
    summary = build_report(audited_run(tmp_path, records, removed))  # type: ignore[arg-type]
    data = summary.to_json()
    kept_after = sum(1 for r in acked[110:])
    assert data["rpo"]["non_suffix"] == kept_after
    assert summary.rpo_seconds == pytest.approx(10.0 - 1.0 - 0.005, abs=1e-6)
    assert summary.verdict == "missed"
    assert "over the 5 s objective" in data["verdict_text"]
    assert {"loss-not-suffix", "lost-writes"} <= {f["code"] for f in data["findings"]}


def test_the_old_region_acknowledging_after_promotion_is_split_brain(tmp_path: Path) -> None:
    records = list(
        requests(RATE, 40, region=lambda t: PRIMARY if t < 15 else SECONDARY, op=lambda i: "write")
    )
    summary = build_report(audited_run(tmp_path, records, set(), samples=[promotion_sample(12.0)]))
    rpo = summary.to_json()["rpo"]
    assert rpo["split_brain"] == 300  # 12.0 <= ack < 15.0 by the old writer at 100 writes/s
    assert "split-brain" in {f["code"] for f in summary.to_json()["findings"]}


def test_duplicates_and_writes_the_old_region_lacks(tmp_path: Path) -> None:
    records = writes_run()
    old = surviving([r for r in records if r.region == PRIMARY], set())
    recs = {r.write_id: r for r in records if r.acknowledged}
    some_primary = next(i for i, r in recs.items() if r.region == PRIMARY)
    old[some_primary] = [{"id": some_primary, "body": {"n": 2}}]  # differing payload
    run = audited_run(tmp_path, records, set(), old=old)
    audit = json.loads((run / "audit.json").read_text())
    recovery_ids = {i for i, r in recs.items() if r.region == SECONDARY}
    assert {w["id"] for w in audit["recovery_only"]} == recovery_ids
    assert audit["duplicates"] == [
        {"id": some_primary, "reason": "payload differs between regions"}
    ]
    data = build_report(run).to_json()
    assert data["rpo"]["recovery_only"] == len(recovery_ids) and data["rpo"]["duplicates"] == 1


def test_a_client_clock_skewed_by_2_s_is_measured_and_corrected(tmp_path: Path) -> None:
    records = writes_run(
        skew=2.0
    )  # the load's clock runs 2 s ahead of the servers' and the journal's
    summary = build_report(audited_run(tmp_path, records, set(), skew=2.0))
    data = summary.to_json()
    assert data["clock"]["source"] == "audit"
    assert data["clock"]["offset_s"] == pytest.approx(-2.0, abs=0.01)
    assert summary.rto_seconds == pytest.approx(2.0, abs=2 / RATE)  # not 4.0
    assert "clock-skew" in {f["code"] for f in data["findings"]}
    uncorrected = measure_run(read_run(write_run(tmp_path / "plain", journal(10.0), records)))[0]
    assert uncorrected.recovery.rto_s == pytest.approx(4.0, abs=2 / RATE)


def test_summary_matches_its_schema_and_junit_has_one_case_per_objective(tmp_path: Path) -> None:
    records = writes_run()
    removed = {r.write_id for r in records if r.acknowledged and 9.0 <= r.start - BASE < 10.0}
    run = audited_run(tmp_path, records, removed)  # type: ignore[arg-type]
    (run / "faults.jsonl").write_text(
        json.dumps({"id": "f1", "time": "2026-01-01T00:00:00+00:00", "activity": "failover", "target": "db",
                    "arguments": {}, "undo": {"module": "gameday.actions.rds", "func": "x", "kwargs": {}},
                    "configuration": {}, "state": "applied"}) + "\n"
    )  # fmt: skip
    build_report(run)
    data = json.loads((run / "summary.json").read_text())
    jsonschema.validate(data, schema())
    bad = {**data, "verdict": "fine"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())
    suite = ET.parse(run / "junit.xml").getroot()
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == [
        "RTO",
        "RPO",
        "steady state before",
        "steady state after",
        "every fault reverted",
    ]
    failed = {
        case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None
    }
    assert failed == {"every fault reverted"}  # the fault left applied
    assert suite.get("failures") == "1"


def test_the_manifest_catches_a_later_edit_and_history_keeps_one_line_per_run(
    tmp_path: Path,
) -> None:
    first = audited_run(tmp_path / "a", writes_run(), set())
    build_report(first)
    assert verify_manifest(first) == []
    summary = (first / "summary.json").read_text()
    (first / "summary.json").write_text(summary.replace('"met"', '"missed"', 1))
    assert verify_manifest(first) == ["summary.json: changed since the manifest was written"]
    result = CliRunner().invoke(main, ["report", "--verify", str(first)])
    assert result.exit_code == 1 and "changed since the manifest" in result.output

    second = write_run(tmp_path / "a" / "exp" / "20261201T100000Z", journal(10.0, extension=OBJ),
                       requests(RATE, 40, failing=lambda t: 10.0 <= t < 16.0), run_json=RUN)  # fmt: skip
    build_report(second)
    build_report(second)  # re-rendering replaces the run's line
    history = (tmp_path / "a" / "history.jsonl").read_text().splitlines()
    assert len(history) == 2
    result = CliRunner().invoke(main, ["report", "--history", str(tmp_path / "a")])
    assert result.exit_code == 0
    assert "20261130T100000Z" in result.output and "20261201T100000Z" in result.output
    assert "6.00 s" in result.output
    html = (second / "report.html").read_text()
    assert 'aria-label="Trend of past runs of this experiment"' in html
    result = CliRunner().invoke(main, ["report", "--compare", str(first), str(second)])
    assert result.exit_code == 0
    assert "RTO                  2.00 s" in result.output and "6.00 s" in result.output
