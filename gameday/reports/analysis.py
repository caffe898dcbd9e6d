"""From the run's records to the measurement: phases, RTO per cohort, RPO, floors, then the
findings and the verdict. Pure functions: records in, frozen results out.

Every phase says what was seen and where: the target's own log first (on the lab, its
event log; against AWS the control-plane samples), then the probes, then the ledger (what
users saw). All durations leave here in AWS seconds (:mod:`gameday.reports.clock`).

Clock skew: the ledger is written on the load's clock, everything else on the control's
(the same host as the journal, or the lab). :func:`clock_correction` takes the audit's
measured offset (server ack time against the client's request interval, see
:mod:`gameday.reports.audit`) and, when it exceeds :data:`SKEW_TOLERANCE_S`, the ledger is
read shifted by it, which a finding reports. Without an audit, a ledger that starts before
the run did or ends long after it is reported as suspected skew and not corrected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gameday.reports import timeline as tl
from gameday.reports.audit import AuditResult
from gameday.reports.clock import Timescale
from gameday.reports.findings import FindingInput, findings
from gameday.reports.measure import STEADY_SECONDS, LedgerFacts, WriteMark, steady_state
from gameday.reports.model import (
    CohortSummary,
    Event,
    Measurement,
    Phase,
    Roles,
    Rpo,
    SkewClock,
)
from gameday.reports.objectives import Objectives
from gameday.reports.runfiles import FaultEntry, Journal, RunInfo, Sample
from gameday.reports.verdict import judge, verdict

SKEW_TOLERANCE_S = 0.1


def clock_correction(audit: AuditResult | None) -> SkewClock:
    """The offset to add to ledger times (see the module docstring)."""
    if audit is None or audit.clock_offset is None:
        return SkewClock(0.0, "none")
    off = audit.clock_offset
    applied = off.median_s if abs(off.median_s) > SKEW_TOLERANCE_S else 0.0
    return SkewClock(applied, "audit", off.median_s, off.samples)


def suspected_skew(run: RunInfo, first_start: float | None, last_end: float | None) -> str | None:
    """A note when the ledger lies outside the run's bounds by more than 1 s (no audit)."""
    if run.started is not None and first_start is not None and first_start < run.started - 1.0:
        return f"the ledger starts {run.started - first_start:.2f} s before the run did (run.json started)"
    if run.ended is not None and last_end is not None and last_end > run.ended + 1.0:
        return f"the ledger ends {last_end - run.ended:.2f} s after the run ended (run.json ended)"
    return None


@dataclass(frozen=True)
class Writers:
    """The writer before the fault and the promotion the fault caused (timeline rules)."""

    before: Event | None
    promotion: Event | None

    @property
    def promoted_at(self) -> float | None:
        return self.promotion.time if self.promotion else None


def writers(journal: Journal, samples: list[Sample], lab_events: list[dict[str, Any]]) -> Writers:
    before = tl.writer_before(journal, samples, lab_events)
    region = str(before.detail["region"]) if before else None
    return Writers(before, tl.promotion(journal, samples, lab_events, region))


# ---------------------------------------------------------------------------- phases
class _Phases:
    """Collects phases, converting each to AWS seconds since t0 (lab seconds beside)."""

    def __init__(self, t0: float | None, ts: Timescale) -> None:
        self.t0, self.ts, self.out = t0, ts, list[Phase]()

    def add(self, key: str, label: str, time: float | None, source: str) -> None:
        lab = None if time is None or self.t0 is None else time - self.t0
        self.out.append(Phase(key, label, time, source, self.ts.aws(lab), self.ts.beside(lab)))

    def event(self, key: str, label: str, event: Event | None) -> None:
        if event is not None:
            self.add(key, label, event.time, event.source)


def build_phases(
    journal: Journal, facts: LedgerFacts, samples: list[Sample], lab_events: list[dict[str, Any]],
    steps: list[dict[str, Any]], roles: Roles, promoted: Event | None, ts: Timescale,
    service: str | None,
) -> tuple[Phase, ...]:  # fmt: skip
    """Every phase of the drill, each labelled by what was seen and where."""
    t0 = tl.fault_start(journal)
    p = _Phases(t0, ts)
    fault = journal.fault
    p.add(
        "fault",
        f"impairment started ({fault.name})" if fault else "impairment started",
        t0,
        "journal",
    )
    if t0 is None or fault is None:
        return tuple(p.out)
    _, closes = tl.fault_window(journal)
    p.add("fault-in-place", "impairment in place (action returned)", fault.end, "journal")
    left, reached = roles.users_from, roles.users_to
    where = f" ({left})" if left else ""
    p.event(
        "checkers", f"first checker failure{where}", tl.first_checker_failure(t0, left, samples)
    )
    flip, label = tl.route53_unhealthy(t0, closes, left, samples, lab_events)
    p.event("detection", label + where, flip)
    p.event("dns-change", f"service record's DNS answer changed ({service})",
            tl.service_dns_change(t0, closes, service, lab_events))  # fmt: skip
    if reached is not None:
        p.event("dns-probe", f"DNS probe answered {reached}", tl.dns_answered(t0, reached, samples))
        ttl = next((c for c in facts.cohorts if c.cohort == "ttl"), None)
        first = (ttl.first_after_t0 if ttl else facts.first_after_t0).get(reached)
        p.add("dns-shift", f"first request served by {reached}", first, "ledger")
    if promoted is not None:
        p.event("promotion", f"writer changed to {promoted.detail.get('region')}", promoted)
    w = facts.first_write_after_t0
    p.add("first-write", "first successful write after the fault" + (f" ({w.region})" if w and w.region else ""),
          w.time if w else None, "ledger")  # fmt: skip
    for step in steps:
        if float(step.get("time", 0)) >= t0:
            p.add(
                "step",
                f"operator step {step.get('step')}: {step.get('event')}",
                float(step["time"]),
                "steps.jsonl",
            )
    p.add("recovery", "sustained recovery (window start)", facts.recovery.recovered_at, "ledger")
    for a in journal.rollbacks:
        p.add("rollback", f"rollback {a.name}", a.end, "journal")
    return tuple(sorted(p.out, key=lambda q: (q.time is None, q.time or 0.0)))


# -------------------------------------------------------------------------------- RPO
def _old_writer(region: str, roles: Roles) -> bool:
    """Acknowledged by the old writer (split brain when after the promotion)."""
    if roles.writer_before:
        return region == roles.writer_before
    return region not in (roles.writer_after, "?")


def build_rpo(
    audit: AuditResult | None, facts: LedgerFacts, promotion: float | None, t0: float | None,
    roles: Roles, ts: Timescale,
) -> Rpo:  # fmt: skip
    """RPO = the later of t0 and the newest lost write acknowledged before the promotion,
    minus the oldest lost write's ack (0 when nothing was lost), in AWS seconds."""
    split = sum(n for r, (n, _) in facts.acked_after_promotion.items() if _old_writer(r, roles))
    split_sample = tuple(
        m for r, (_, ms) in facts.acked_after_promotion.items() if _old_writer(r, roles) for m in ms
    )
    if audit is None:
        return Rpo(False, None, "not audited (no audit.json): lost writes unknown", lost_reads=facts.lost_reads,
                   split_brain=split, split_brain_sample=split_sample)  # fmt: skip
    lost = audit.lost
    oldest = WriteMark(lost[0].id, lost[0].acked_at, lost[0].region) if lost else None
    newest = WriteMark(lost[-1].id, lost[-1].acked_at, lost[-1].region) if lost else None
    if not lost:
        rpo_lab, basis = 0.0, "nothing acknowledged was lost"
    else:
        kept = [w.acked_at for w in lost if promotion is None or w.acked_at <= promotion]
        point = max(kept) if kept else lost[0].acked_at
        if t0 is not None:
            point, basis = (
                max(point, t0),
                "the later of t0 and the newest lost write acknowledged before the promotion",
            )
        else:
            basis = "t0 unknown: the newest lost write's ack"
        if promotion is None:
            basis += " (promotion time unknown: every lost write counted)"
        rpo_lab = max(0.0, point - lost[0].acked_at)
    return Rpo(
        True, ts.aws(rpo_lab), basis + ", minus the oldest lost write's ack", audit.checked, len(lost), oldest, newest,
        tuple(WriteMark(w.id, w.acked_at, w.region) for w in lost[:20]),
        facts.found_after_oldest_lost, split, split_sample,
        len(audit.duplicates), tuple((d.id, d.reason) for d in audit.duplicates[:20]),
        len(audit.recovery_only) if audit.old_lookup else None, facts.lost_reads, ts.beside(rpo_lab),
    )  # fmt: skip


# ---------------------------------------------------------------------------- analyze
def _steady(facts: LedgerFacts, t0: float | None, ts: Timescale) -> tuple[Any, Any]:
    before = after = None
    if facts.first_start is not None and facts.last_end is not None:
        span = STEADY_SECONDS / ts.speed
        if t0 is not None:
            before = steady_state(facts.bins, max(facts.first_start // 1, t0 - span), t0 // 1)
        tail_start = facts.last_end - span
        if facts.recovery.recovered_at is not None:
            tail_start = max(tail_start, facts.recovery.recovered_at)
        after = steady_state(facts.bins, tail_start // 1, facts.last_end // 1)
    return before, after


def analyze(
    *, journal: Journal, run: RunInfo, objectives: Objectives, facts: LedgerFacts, clock: SkewClock,
    samples: list[Sample], lab_events: list[dict[str, Any]], faults: list[FaultEntry] | None,
    audit: AuditResult | None, steps: list[dict[str, Any]], writers: Writers,
    late_records: int = 0, missing: tuple[str, ...] = (), interrupted: str | None = None,
) -> Measurement:  # fmt: skip
    """All of the measurement, from records already read (ledger times in lab seconds)."""
    t0 = tl.fault_start(journal)
    ts = Timescale.of(run.floors.get("lab_speed"))
    roles = tl.drill_roles(t0, facts.bins, facts.recovery.recovered_at, ts.lab(objectives.window_seconds),
                           writers.before, writers.promotion, samples)  # fmt: skip
    service = run.configuration.get("service_name") or next(
        (s.subject for s in samples if s.probe == "dns_answer"), None
    )
    phases = build_phases(
        journal, facts, samples, lab_events, steps, roles, writers.promotion, ts, service
    )
    cohorts = tuple(
        CohortSummary(c.cohort, c.requests, c.recovery.to_aws(ts.speed),
                      None if t0 is None or roles.users_to not in c.first_after_t0
                      else ts.aws(c.first_after_t0[roles.users_to] - t0))
        for c in facts.cohorts
    )  # fmt: skip
    rpo = build_rpo(audit, facts, writers.promoted_at, t0, roles, ts)
    floors = tl.build_floors(run, samples, t0, roles, ts.speed, writers.promoted_at)
    before, after = _steady(facts, t0, ts)
    if clock.source == "none":
        clock = SkewClock(
            0.0, "none", suspected=suspected_skew(run, facts.first_start, facts.last_end)
        )
    recovery = facts.recovery.to_aws(ts.speed)
    m = Measurement(
        t0, journal.fault.name if journal.fault else None, roles, clock, recovery, cohorts, phases, rpo,
        floors, before, after, (), (), "incomplete", "", (*missing, *roles.missing), facts, ts.speed,
        interrupted,
    )  # fmt: skip
    found = findings(FindingInput(m, objectives, faults, late_records))
    results = judge(objectives, recovery, rpo, journal, before, after, faults)
    v, text = verdict(results, interrupted)
    return replace(m, findings=found, results=results, verdict=v, verdict_text=text)
