"""The corrupted-data drill's measurements, on facts whose answer is known by construction."""

from __future__ import annotations

import pytest

from gameday.lab.api import served_data
from gameday.reports.model import ObjectiveResult
from gameday.reports.objectives import parse_objectives
from gameday.reports.restore import (
    Discarded,
    RestoreFacts,
    judge_restore,
    measure_restore,
    restore_from_journal,
)

FACTS = RestoreFacts(
    corruption_at=100.0,
    probes=((100.5, 20), (120.0, 0)),
    restore_point=99.999,
    requested_at=101.0,
    available_at=107.0,
    cut_over_at=107.5,
    cut_over_end=107.7,
)
GONE = [Discarded("b", 103.0), Discarded("a", 100.2)]


def test_every_number_in_lab_and_aws_seconds() -> None:
    r = measure_restore(FACTS, GONE, speed=10.0)
    assert r.time_to_detect_s == 0.5 and r.time_to_detect_aws_s == 5.0
    assert r.restore_duration_s == 6.0 and r.restore_duration_aws_s == 60.0
    assert r.restore_point_before_corruption_s == pytest.approx(0.001)
    assert [w.id for w in r.discarded] == ["a", "b"]  # in ack order
    assert r.restore_rpo_s == pytest.approx(3.001) and r.restore_rpo_aws_s == pytest.approx(30.01)
    assert r.corrupted_seen == 20 and r.corrupted_remaining == 0


def test_nothing_discarded_is_an_rpo_of_zero_and_no_probe_after_is_unknown() -> None:
    facts = RestoreFacts(100.0, ((100.5, 20),), 99.0, 101.0, 107.0, 107.5, 107.7)
    r = measure_restore(facts, [], speed=None)
    assert r.restore_rpo_s == 0.0 and r.discarded_write_count == 0
    assert r.corrupted_remaining is None


def test_remaining_corruption_misses_the_drill_and_the_rpo_is_the_restores() -> None:
    facts = RestoreFacts(100.0, ((100.5, 20), (120.0, 3)), 99.0, 101.0, 107.0, 107.5, 107.7)
    r = measure_restore(facts, GONE, speed=10.0)
    objectives = parse_objectives({"objectives": {"rto_seconds": 30, "rpo_seconds": 60}})
    base = (
        ObjectiveResult("RTO", "met", 30.0, 0.0, "no outage"),
        ObjectiveResult("RPO", "met", 60.0, 0.0, "generic"),
    )
    results, verdict, text = judge_restore(base, r, objectives)
    by_name = {x.name: x for x in results}
    assert by_name["RPO"].measured == pytest.approx(40.0) and by_name["RPO"].status == "met"
    assert by_name["corrupted records remaining"].status == "missed"
    assert verdict == "missed" and "corrupted records remaining" in text


def test_a_journal_without_a_restore_has_no_restore_facts() -> None:
    assert restore_from_journal({"run": []}) is None


def test_lab_status_says_which_data_each_region_serves() -> None:
    events = [
        {"kind": "cut-over", "region": "a", "cluster": "restored"},
        {"kind": "cut-over", "region": "b", "cluster": "restored"},
        {"kind": "cut-over", "region": "b", "cluster": "home"},
    ]
    assert served_data(events, ["a", "b"], "orders-global") == {
        "a": "restored", "b": "orders-global"
    }  # fmt: skip
