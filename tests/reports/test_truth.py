"""What the report claims is true: t0, RTO, RPO, roles, phases, findings' premises, the
clock and the verdict, on synthetic run directories whose answers are known by
construction (issue 16)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from gameday.drill.runner import EXIT_INTERRUPTED, EXIT_MISSED, outcome_of
from gameday.reports import build_report
from gameday.reports.audit import AckedWrite, audit_writes, write_audit
from gameday.reports.build import measure_run, read_run
from gameday.reports.charts import request_series
from gameday.reports.findings import RULES
from gameday.reports.model import Measurement
from tests.reports.synth import BASE, PRIMARY, SECONDARY, journal, requests, write_run
from tests.reports.test_rpo import StoreLookup, surviving

RATE = 50.0
OBJ = {"fault_activity": "fail-over-database",
       "objectives": {"rto_seconds": 30, "rpo_seconds": 5},
       "recovery": {"window_seconds": 2, "success_threshold": 0.99, "min_requests": 20}}  # fmt: skip
RUN = {
    "regions": {"primary": PRIMARY, "secondary": SECONDARY},
    "configuration": {"service_name": "api.lab.internal"},
}


def measure(run_dir: Path) -> Measurement:
    m, _ = measure_run(read_run(run_dir))
    return m


def sample(t: float, probe: str, value: Any, subject: str = "s") -> dict[str, Any]:
    return {
        "time": BASE + t,
        "probe": probe,
        "subject": subject,
        "value": value,
        "ok": True,
        "error": None,
    }


def event(t: float, kind: str, **fields: Any) -> dict[str, Any]:
    return {"time": BASE + t, "kind": kind, **fields}


def audited(
    run_dir: Path,
    records: list,
    removed: set[str],
    writer: str = SECONDARY,
    old: dict | None = None,
) -> Path:
    acked = [AckedWrite(r.write_id, r.end, r.start, r.region) for r in records if r.acknowledged]
    result = audit_writes(acked, StoreLookup(surviving(records, removed)), writer_region=writer,
                          old_lookup=StoreLookup(old) if old is not None else None,
                          old_region=PRIMARY if old is not None else None)  # fmt: skip
    write_audit(run_dir, result)
    return run_dir


# ------------------------------------------------------------------------ t0 and RTO
def test_failures_only_while_the_fault_action_runs_count_toward_the_rto(tmp_path: Path) -> None:
    """A 4 s failover action (10 -> 14): users fail from 10 to 13.5, all inside it."""
    recs = requests(RATE, 40, failing=lambda t: 10.0 <= t < 13.5)
    m = measure(write_run(tmp_path / "r", journal(10.0, action_s=4.0, rollback_at=39, extension=OBJ), recs,
                          run_json=RUN))  # fmt: skip
    assert m.t0 == pytest.approx(BASE + 10.0)  # the action's start, not its end (14)
    assert m.recovery.outcome == "recovered"
    assert m.recovery.rto_s == pytest.approx(3.5, abs=1 / RATE)
    phases = {p.key: p for p in m.phases}
    assert phases["fault-in-place"].since_t0_s == pytest.approx(4.0)
    assert "no-outage" not in {f.code for f in m.findings}


def test_the_same_drill_at_two_speeds_gives_the_same_answer_in_aws_seconds(tmp_path: Path) -> None:
    """Speed 1 and the same run compressed 10x (lab_speed 10): RTO, RPO, phases agree."""
    answers = []
    for speed in (1.0, 10.0):

        def at(t: float, s: float = speed) -> float:
            return t / s

        recs = list(requests(RATE * speed, 400 / speed, failing=lambda t, s=speed: 100 / s <= t < 135 / s,
                             region=lambda t, s=speed: PRIMARY if t < 100 / s else SECONDARY,
                             op=lambda i: "write" if i % 2 else "read"))  # fmt: skip
        run = {**RUN, "floors": {"lab_speed": speed}, "objectives": {"rto_seconds": 60, "rpo_seconds": 30,
               "window_seconds": 20, "success_threshold": 0.99, "min_requests": 20}}  # fmt: skip
        lost = {r.write_id for r in recs if r.acknowledged and at(80) <= r.start - BASE < at(100)}
        run_dir = write_run(tmp_path / f"s{speed:g}", journal(at(100), action_s=at(10), rollback_at=at(390), extension={}),
                            recs, run_json=run, lab_events_jsonl=[event(at(110), "writer", region=SECONDARY, previous=PRIMARY)])  # fmt: skip
        m = measure(audited(run_dir, recs, lost))
        answers.append((m.recovery.rto_s, m.rpo.rpo_s, {p.key: p.since_t0_s for p in m.phases}))
        assert m.verdict == "met", m.verdict_text
    (rto1, rpo1, ph1), (rto10, rpo10, ph10) = answers
    assert rto10 == pytest.approx(rto1, rel=0.05) and rto1 == pytest.approx(35.0, abs=1)
    assert rpo10 == pytest.approx(rpo1, rel=0.05) and rpo1 == pytest.approx(20.0, abs=0.1)
    assert ph10["promotion"] == pytest.approx(ph1["promotion"]) == pytest.approx(10.0)


# ------------------------------------------------------------------------------ RPO
def test_a_promotion_inside_the_fault_action_gives_the_exact_rpo(tmp_path: Path) -> None:
    """Promotion at 12 (lab log), inside the 10 -> 14 action; lost writes acked 9.0-11.5."""
    recs = list(requests(RATE, 40, failing=lambda t: 11.5 <= t < 13.0,
                         region=lambda t: PRIMARY if t < 11.5 else SECONDARY, op=lambda i: "write"))  # fmt: skip
    lost = {r.write_id for r in recs if r.acknowledged and 9.0 <= r.start - BASE < 11.5}
    events = [event(12.0, "writer", region=SECONDARY, previous=PRIMARY)]
    run_dir = write_run(tmp_path / "r", journal(10.0, action_s=4.0, rollback_at=39, extension=OBJ), recs,
                        run_json=RUN, lab_events_jsonl=events,
                        samples_jsonl=[sample(13.5, "writer_region", SECONDARY)])  # fmt: skip
    m = measure(audited(run_dir, recs, lost))
    promotion = next(p for p in m.phases if p.key == "promotion")
    assert promotion.source == "lab log (writer)" and promotion.since_t0_s == pytest.approx(2.0)
    newest = max(r.end for r in recs if r.write_id in lost)
    oldest = min(r.end for r in recs if r.write_id in lost)
    assert m.rpo.rpo_s == pytest.approx(newest - oldest)  # later of t0 (10) and 11.5x, minus 9.0x
    assert m.rpo.lost == len(lost)


# ----------------------------------------------------------------------------- roles
def failback_run(tmp_path: Path) -> Measurement:
    """Setup moved users and the writer to us-west-2 (4-7); the fault (10) moves them back."""

    def region(t: float) -> str:
        return PRIMARY if t < 6 or t >= 12 else SECONDARY

    recs = list(requests(RATE, 40, failing=lambda t: 10.0 <= t < 12.0, region=region,
                         op=lambda i: "write" if i % 2 else "read"))  # fmt: skip
    events = [event(4.5, "writer", region=SECONDARY, previous=PRIMARY),
              event(10.8, "writer", region=PRIMARY, previous=SECONDARY),
              event(11.0, "health", region=SECONDARY, healthy=False, previous=True),
              event(11.2, "dns", name="api-alias.lab.internal", answer=["127.0.1.1"], previous=["127.0.2.1"]),
              event(11.4, "dns", name="api.lab.internal", answer=["127.0.1.1"], previous=["127.0.2.1"])]  # fmt: skip
    ext = {**OBJ, "fault_activity": "switch-database-back-to-primary"}
    data = journal(10.0, action_s=1.0, rollback_at=39, extension=ext, fault_name="switch-database-back-to-primary",
                   before=[("switch-database-over-to-secondary", 4.0, 5.0), ("invert-primary-health-check", 5.0, 8.0)])  # fmt: skip
    return measure(write_run(tmp_path / "r", data, recs, run_json=RUN, lab_events_jsonl=events))


def test_failback_reads_the_roles_from_the_drill(tmp_path: Path) -> None:
    m = failback_run(tmp_path)
    r = m.roles
    assert (r.users_from, r.users_to, r.writer_before, r.writer_after) == (
        SECONDARY,
        PRIMARY,
        SECONDARY,
        PRIMARY,
    )
    at = {p.key: p for p in m.phases}
    assert at["dns-shift"].label == f"first request served by {PRIMARY}"
    assert at["dns-shift"].since_t0_s == pytest.approx(2.0, abs=1 / RATE)
    assert at["promotion"].since_t0_s == pytest.approx(
        0.8
    )  # the writer the fault made, not the setup's
    assert at["detection"].since_t0_s == pytest.approx(1.0) and at["detection"].label.startswith(
        "Route 53 status"
    )
    # the service record's change, not the alias record's earlier one
    assert at["dns-change"].since_t0_s == pytest.approx(1.4)
    codes = {f.code for f in m.findings}
    assert "writes-refused-after-dns" not in codes  # refusals came from the demoted us-west-2


# ------------------------------------------------------------------------- the charts
def test_a_silent_gap_is_drawn_as_zero_in_both_requests_charts(tmp_path: Path) -> None:
    recs = [*requests(RATE, 10), *requests(RATE, 30, start=15, prefix="b")]
    m = measure(
        write_run(tmp_path / "r", journal(20.0, rollback_at=29, extension=OBJ), recs, run_json=RUN)
    )
    rows = {int(r.t - BASE): r for r in m.facts.bins}
    assert all(rows[s].ok == 0 and rows[s].regions == {} for s in range(10, 15))  # the binning
    origin = m.t0 or 0.0
    for by, name in (("outcome", "ok"), ("region", PRIMARY)):
        xs, series = request_series(m.facts.bins, origin, by=by)
        silent = [y for x, y in zip(xs, series[name], strict=True) if -10 <= x < -5]
        assert silent == [0.0] * 5, (by, silent)
        assert series[name][xs.index(-11.0)] == RATE  # the second before the gap


# ------------------------------------------------------------------ findings' premises
def test_a_clean_run_fires_no_finding_but_no_outage(tmp_path: Path) -> None:
    recs = requests(RATE, 40)
    run = {**RUN, "floors": {"health_check_interval_s": 10, "failure_threshold": 2, "ttl_s": 10}}
    m = measure(
        write_run(tmp_path / "r", journal(10.0, rollback_at=39, extension=OBJ), recs, run_json=run)
    )
    assert [f.code for f in m.findings] == ["no-outage"]
    assert len(RULES) >= 20  # one function per finding


def test_lag_sampled_during_the_fault_action_is_not_lag_before_the_fault(tmp_path: Path) -> None:
    lags = [sample(8.0, "replication_lag", 0.034, "us-east-1->us-west-2"),
            sample(10.5, "replication_lag", 0.651, "us-east-1->us-west-2")]  # fmt: skip
    run = {**RUN, "floors": {"lab_speed": 10}}
    m = measure(write_run(tmp_path / "r", journal(10.0, action_s=4, rollback_at=39, extension=OBJ),
                          requests(RATE, 40), run_json=run, samples_jsonl=lags))  # fmt: skip
    assert m.floors.replication_lag_before_s == pytest.approx(0.34)
    assert "lag-exceeds-rpo" not in {f.code for f in m.findings}


def test_lag_toward_the_cut_off_region_after_the_promotion_is_not_a_finding(tmp_path: Path) -> None:
    recs = requests(
        RATE, 40, failing=lambda t: 10 <= t < 12, region=lambda t: PRIMARY if t < 10 else SECONDARY
    )
    lags = [sample(t, "replication_lag", 9.0, "us-west-2->us-east-1") for t in (13, 15, 17)]
    events = [event(11.0, "writer", region=SECONDARY, previous=PRIMARY)]
    m = measure(write_run(tmp_path / "r", journal(10.0, rollback_at=39, extension=OBJ), recs, run_json=RUN,
                          samples_jsonl=lags, lab_events_jsonl=events))  # fmt: skip
    assert "lag-crossed-rpo" not in {f.code for f in m.findings}


def test_no_failover_means_nothing_to_reconcile(tmp_path: Path) -> None:
    """Replication merely behind at audit time (no writer change): no failback finding."""
    recs = list(requests(RATE, 40, op=lambda i: "write"))
    old = {w: v for i, (w, v) in enumerate(surviving(recs, set()).items()) if i % 2}
    run_dir = write_run(
        tmp_path / "r", journal(10.0, rollback_at=39, extension=OBJ), recs, run_json=RUN
    )
    m = measure(audited(run_dir, recs, set(), writer=PRIMARY, old=old))
    assert m.rpo.recovery_only and "failback-reconcile" not in {f.code for f in m.findings}


def test_users_that_did_not_move_fire_no_move_finding(tmp_path: Path) -> None:
    recs = sorted([*requests(RATE, 40, failing=lambda t: 10 <= t < 11),
                   *requests(10, 40, cohort="sticky", prefix="s", failing=lambda t: 10 <= t < 11)],
                  key=lambda r: r.start)  # fmt: skip
    run = {**RUN, "floors": {"health_check_interval_s": 1, "failure_threshold": 2, "ttl_s": 1}}
    m = measure(
        write_run(tmp_path / "r", journal(10.0, rollback_at=39, extension=OBJ), recs, run_json=run)
    )
    assert m.roles.users_to is None
    codes = {f.code for f in m.findings}
    assert not codes & {
        "sticky-never-moved",
        "dns-shift-vs-floor",
        "writes-refused-after-dns",
        "split-brain",
    }


# --------------------------------------------------------------------------- bad input
def test_a_journal_without_an_impairment_says_so_and_measures_what_it_can(tmp_path: Path) -> None:
    run_dir = write_run(
        tmp_path / "r", journal(None, rollback_at=39), requests(RATE, 40), run_json=RUN
    )
    summary = build_report(run_dir).to_json()
    assert "an impairment action in the journal (t0)" in summary["missing"]
    assert summary["rto_seconds"] is None and summary["requests"]["total"] == 2000
    assert summary["verdict"] == "incomplete"
    assert "not in this run directory" in (run_dir / "report.html").read_text().lower()


def test_roles_that_cannot_be_told_are_named_not_guessed(tmp_path: Path) -> None:
    recs = requests(RATE, 40, failing=lambda t: t < 12, status_fail=0)  # no answer before t0
    m = measure(
        write_run(tmp_path / "r", journal(10.0, rollback_at=39, extension=OBJ), recs, run_json=RUN)
    )
    assert m.roles.users_from is None
    assert any("the region users left" in x for x in m.missing)
    assert m.recovery.rto_s is not None  # what can be measured still is


# ----------------------------------------------------------------------------- verdict
def test_the_verdict_needs_all_five_checks_and_the_exit_code_follows(tmp_path: Path) -> None:
    data = journal(10.0, rollback_at=39, extension=OBJ)
    data["steady_states"]["after"]["steady_state_met"] = False
    run_dir = write_run(tmp_path / "r", data, requests(RATE, 40), run_json=RUN)
    summary = build_report(run_dir)
    assert summary.verdict == "missed"  # RTO and RPO fine, the steady state after is not
    junit = ET.fromstring((run_dir / "junit.xml").read_text())
    assert junit.get("failures") == "1"
    journal_ext = {
        "extensions": [{"name": "gameday", "verdict": summary.verdict, "run_dir": str(run_dir)}]
    }
    assert outcome_of(journal_ext).exit_code == EXIT_MISSED


def test_an_interrupted_drill_is_reported_as_interrupted_everywhere(tmp_path: Path) -> None:
    data = journal(10.0, rollback_at=39, extension=OBJ)
    data["status"] = "interrupted"
    run_dir = write_run(
        tmp_path / "exp" / "20261130T100000Z", data, requests(RATE, 40), run_json=RUN
    )
    summary = build_report(run_dir)
    assert summary.verdict == "interrupted" and summary.to_json()["interrupted"]
    junit = ET.fromstring((run_dir / "junit.xml").read_text())
    assert junit.get("errors") == "1"
    assert junit.find("testcase/error").get("type") == "interrupted"
    history = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert history[-1]["verdict"] == "interrupted"
    ext = {"extensions": [{"name": "gameday", "verdict": "interrupted", "run_dir": str(run_dir),
                           "summary": summary.to_json()}]}  # fmt: skip
    outcome = outcome_of(ext)
    assert outcome.exit_code == EXIT_INTERRUPTED and "interrupted" in outcome.message
    assert "Interrupted" in (run_dir / "report.html").read_text()


# ------------------------------------------------------------ one owner for each rule
def test_the_control_stops_on_the_reports_own_recovery_rule(tmp_path: Path) -> None:
    """The drill control's stop rule is the report's scanner: same records, same t_r."""
    from gameday.reports.objectives import parse_objectives
    from gameday.reports.recovery import recovered_in

    recs = list(requests(RATE, 40, failing=lambda t: 10.0 <= t < 13.5))
    m = measure(
        write_run(tmp_path / "r", journal(10.0, rollback_at=39, extension=OBJ), recs, run_json=RUN)
    )
    seen = recovered_in(recs, BASE + 10.0, parse_objectives(OBJ))
    assert seen.recovered_at == m.recovery.recovered_at is not None
    # judged on what had reached the ledger by the time the window closed: the same answer
    early = [
        r for r in recs if r.end <= m.recovery.recovered_at + 2.1
    ]  # the window and one more request
    assert (
        recovered_in(early, BASE + 10.0, parse_objectives(OBJ)).recovered_at
        == m.recovery.recovered_at
    )


def test_declared_pauses_run_at_one_over_speed() -> None:
    from gameday.drill.phases import scale_pauses
    from gameday.reports.clock import Timescale

    experiment = {"method": [{"type": "action", "pauses": {"before": 2, "after": "${x}"}}],
                  "rollbacks": [{"type": "action", "pauses": {"after": 10}}]}  # fmt: skip
    scale_pauses(experiment, Timescale(10.0))
    assert experiment["method"][0]["pauses"] == {"before": 0.2, "after": "${x}"}
    assert experiment["rollbacks"][0]["pauses"] == {"after": 1.0}
    scale_pauses(experiment, Timescale(1.0))  # against AWS nothing changes
    assert experiment["rollbacks"][0]["pauses"] == {"after": 1.0}
    assert (
        "Chaos Toolkit pauses" in Timescale(10.0).sentence()
        and "1/10" in Timescale(10.0).sentence()
    )


def test_on_the_lab_its_log_is_the_ground_truth_not_the_samples(tmp_path: Path) -> None:
    """A sampled metric or writer read that the lab's log contradicts is not a phase."""
    recs = list(requests(RATE, 40, failing=lambda t: 10 <= t < 11))
    samples = [sample(9.0, "writer_region", PRIMARY), sample(11.0, "writer_region", SECONDARY),
               sample(10.5, "health_check", {"healthy": True, "route53_status": 0}, PRIMARY)]  # fmt: skip
    events = [event(5.0, "lab-ready")]  # a lab run whose log saw no flip and no writer change
    m = measure(write_run(tmp_path / "r", journal(10.0, rollback_at=39, extension=OBJ), recs, run_json=RUN,
                          samples_jsonl=samples, lab_events_jsonl=events))  # fmt: skip
    keys = {p.key for p in m.phases}
    assert "detection" not in keys and "promotion" not in keys
    # without a lab log (AWS), the control-plane samples are the best source
    m = measure(write_run(tmp_path / "aws", journal(10.0, rollback_at=39, extension=OBJ), recs, run_json=RUN,
                          samples_jsonl=samples))  # fmt: skip
    at = {p.key: p for p in m.phases}
    assert at["detection"].source == "probe samples (CloudWatch HealthCheckStatus)"
    assert at["promotion"].source == "probe samples (writer_region)"
