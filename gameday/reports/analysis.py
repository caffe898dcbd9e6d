"""From the run's records to the measurement: phases, RTO per cohort, RPO and floors (the
findings and the verdict are in :mod:`gameday.reports.findings`). Pure functions: records
in, frozen results out.

Sources, in the order they are trusted for a phase: the control's probe samples (what the
harness observed, the same clock as the journal), then the target's own events (the lab's
ground truth), then the ledger (what users saw). Every phase says which source it came from.

Clock skew: the ledger is written on the load's clock, everything else on the control's
(the same host as the journal, or the lab). :func:`clock_correction` takes the audit's
measured offset (server ack time against the client's request interval, see
:mod:`gameday.reports.audit`) and, when it exceeds :data:`SKEW_TOLERANCE_S`, the ledger is
read shifted by it, which a finding reports. Without an audit, a ledger that starts before
the run did or ends long after it is reported as suspected skew and not corrected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gameday.reports.audit import AuditResult
from gameday.reports.findings import Finding, ObjectiveResult, findings, judge, verdict
from gameday.reports.measure import (
    STEADY_SECONDS,
    LedgerFacts,
    Recovery,
    SteadyState,
    WriteMark,
    steady_state,
)
from gameday.reports.objectives import Objectives
from gameday.reports.runfiles import FaultEntry, Journal, RunInfo, Sample

SKEW_TOLERANCE_S = 0.1
#: Phases that happen on the provider's side (scaled by the lab's speed factor); the
#: others are client-side behaviour (TTL caches, think time, retries) and are not scaled.
AWS_SIDE = frozenset(
    {"detection", "detection-lab", "dns-change", "dns-change-lab", "promotion", "promotion-lab"}
)


@dataclass(frozen=True)
class Clock:
    """How the ledger was put on the journal's clock."""

    offset_s: float  # added to every ledger time
    source: str  # "audit" | "none"
    measured_s: float | None = None
    samples: int = 0
    suspected: str | None = None  # a skew suspected from run bounds but not corrected


def clock_correction(audit: AuditResult | None) -> Clock:
    """The offset to add to ledger times (see the module docstring)."""
    if audit is None or audit.clock_offset is None:
        return Clock(0.0, "none")
    off = audit.clock_offset
    applied = off.median_s if abs(off.median_s) > SKEW_TOLERANCE_S else 0.0
    return Clock(applied, "audit", off.median_s, off.samples)


def suspected_skew(run: RunInfo, first_start: float | None, last_end: float | None) -> str | None:
    """A note when the ledger lies outside the run's bounds by more than 1 s (no audit)."""
    if run.started is not None and first_start is not None and first_start < run.started - 1.0:
        return f"the ledger starts {run.started - first_start:.2f} s before the run did (run.json started)"
    if run.ended is not None and last_end is not None and last_end > run.ended + 1.0:
        return f"the ledger ends {last_end - run.ended:.2f} s after the run ended (run.json ended)"
    return None


# ----------------------------------------------------------------------- event lookups
def _first_sample(samples: Iterable[Sample], probe: str, after: float, test: Any) -> Sample | None:
    return next(
        (s for s in samples if s.probe == probe and s.time >= after and test(s.value)), None
    )


def _last_sample(samples: Iterable[Sample], probe: str, before: float) -> Sample | None:
    found = None
    for s in samples:
        if s.probe == probe and s.time < before:
            found = s
    return found


def _unhealthy(value: Any) -> bool:
    return isinstance(value, dict) and value.get("healthy") is False


def _first_event(
    events: Iterable[dict[str, Any]], after: float, test: Any
) -> dict[str, Any] | None:
    return next((e for e in events if float(e.get("time", 0)) >= after and test(e)), None)


def promotion_time(
    t0: float | None, samples: list[Sample], lab_events: list[dict[str, Any]], secondary: str | None
) -> tuple[float | None, str | None]:
    """When the recovery region became the writer, and the source that says so."""
    if t0 is None:
        return None, None
    before = _last_sample(samples, "writer_region", t0)
    old = before.value if before else None
    sample = _first_sample(
        samples, "writer_region", t0,
        lambda v: isinstance(v, str) and (v == secondary if secondary else old is not None and v != old),
    )  # fmt: skip
    if sample is not None:
        return sample.time, "probe samples (writer_region)"
    event = _first_event(
        lab_events, t0,
        lambda e: e.get("kind") == "writer" and (secondary is None or e.get("region") == secondary),
    )  # fmt: skip
    if event is not None:
        return float(event["time"]), "lab events (writer)"
    return None, None


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Phase:
    key: str
    label: str
    time: float | None
    source: str
    since_t0_s: float | None = None
    aws_time_s: float | None = None  # since_t0 x lab_speed, AWS-side phases in a lab run


@dataclass(frozen=True)
class CohortSummary:
    cohort: str
    requests: int
    recovery: Recovery
    reached_recovery_region_s: float | None  # first request served there, since t0


@dataclass(frozen=True)
class Rpo:
    measured: bool
    rpo_s: float | None
    basis: str
    audited: int = 0
    lost: int = 0
    oldest_lost: WriteMark | None = None
    newest_lost: WriteMark | None = None
    lost_sample: tuple[WriteMark, ...] = ()
    non_suffix: int = (
        0  # acked after the oldest lost write (same region, before promotion) yet kept
    )
    split_brain: int = 0
    split_brain_sample: tuple[WriteMark, ...] = ()
    duplicates: int = 0
    duplicate_sample: tuple[tuple[str, str], ...] = ()
    recovery_only: int | None = None  # None: the old region was not audited
    lost_reads: int = 0


@dataclass(frozen=True)
class Floors:
    interval_s: float | None
    threshold: int | None
    ttl_s: float | None
    dns_floor_s: float | None  # interval x threshold + ttl
    lab_speed: float | None
    replication_lag_before_s: float | None  # last sample before t0
    replication_lag_max_before_s: float | None  # max in the steady window before t0
    #: (seconds since t0, lag) for every lag sample taken after the fault, in time order:
    #: what failing over at that moment would have lost.
    replication_lag_after: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Measurement:
    t0: float | None
    fault_activity: str | None
    primary: str | None
    secondary: str | None
    clock: Clock
    recovery: Recovery
    cohorts: tuple[CohortSummary, ...]
    phases: tuple[Phase, ...]
    rpo: Rpo
    floors: Floors
    before: SteadyState | None
    after: SteadyState | None
    findings: tuple[Finding, ...]
    results: tuple[ObjectiveResult, ...]
    verdict: str
    verdict_text: str
    missing: tuple[str, ...]
    facts: LedgerFacts


def infer_regions(
    run: RunInfo, facts: LedgerFacts, samples: list[Sample], t0: float | None
) -> tuple[str | None, str | None]:
    """(primary, recovery region): run.json's, else the majority serving region before t0
    and the first other region users reached after it."""
    primary, secondary = run.primary, run.secondary
    if primary is None:
        writer = _last_sample(samples, "writer_region", t0) if t0 is not None else None
        if writer is not None and isinstance(writer.value, str):
            primary = writer.value
        elif facts.regions_before_t0:
            primary = max(facts.regions_before_t0.items(), key=lambda kv: kv[1])[0]
    if secondary is None:
        others = sorted((t, r) for r, t in facts.first_after_t0.items() if r != primary)
        secondary = others[0][1] if others else None
    return primary, secondary


def _phase(
    key: str, label: str, time: float | None, source: str, t0: float | None, speed: float | None
) -> Phase:
    since = None if time is None or t0 is None else time - t0
    scaled = since * speed if (speed and since is not None and key in AWS_SIDE) else None
    return Phase(key, label, time, source, since, scaled)


def build_phases(
    journal: Journal, facts: LedgerFacts, samples: list[Sample], lab_events: list[dict[str, Any]],
    steps: list[dict[str, Any]], primary: str | None, secondary: str | None,
    promotion: tuple[float | None, str | None], speed: float | None,
) -> tuple[Phase, ...]:  # fmt: skip
    t0 = journal.t0
    out: list[Phase] = []

    def add(key: str, label: str, time: float | None, source: str) -> None:
        out.append(_phase(key, label, time, source, t0, speed))

    fault = journal.fault
    add(
        "fault",
        f"fault injected ({fault.name})" if fault else "fault injected",
        t0,
        "journal",
    )
    if t0 is None:
        return tuple(out)

    def seen(key: str, label: str, sample: Sample | None) -> None:
        if sample is not None:
            add(key, label, sample.time, f"probe samples ({sample.subject})")

    def logged(key: str, label: str, event: dict[str, Any] | None) -> None:
        if event is not None:
            add(key, label, float(event["time"]), "lab events")

    def health_down(e: dict[str, Any]) -> bool:
        return (
            e.get("kind") == "health"
            and e.get("healthy") is False
            and primary in (None, e.get("region"))
        )

    def dns_moved(e: dict[str, Any]) -> bool:
        return (
            e.get("kind") == "dns"
            and e.get("previous") is not None
            and e.get("answer") != e.get("previous")
        )

    seen(
        "detection",
        "health check reported unhealthy",
        _first_sample(samples, "health_check", t0, _unhealthy),
    )
    logged(
        "detection-lab",
        "health check unhealthy (lab log)",
        _first_event(lab_events, t0, health_down),
    )
    if secondary is not None:
        answered = _first_sample(
            samples,
            "dns_answer",
            t0,
            lambda v: isinstance(v, dict) and v.get("region") == secondary,
        )
        seen("dns-change", "DNS answered the recovery region (probe)", answered)
        logged(
            "dns-change-lab",
            "DNS answer changed (lab log)",
            _first_event(lab_events, t0, dns_moved),
        )
        add(
            "dns-shift",
            f"first request served by {secondary}",
            facts.first_after_t0.get(secondary),
            "ledger",
        )
    when, source = promotion
    if when is not None:
        add(
            "promotion",
            f"{secondary or 'recovery region'} promoted to writer",
            when,
            source or "?",
        )
    w = facts.first_write_after_t0
    add(
        "first-write",
        "first successful write after the fault" + (f" ({w.region})" if w and w.region else ""),
        w.time if w else None,
        "ledger",
    )
    for step in steps:
        if float(step.get("time", 0)) >= t0:
            add(
                "step",
                f"operator step {step.get('step')}: {step.get('event')}",
                float(step["time"]),
                "steps.jsonl",
            )
    r = facts.recovery
    add("recovery", "sustained recovery (window start)", r.recovered_at, "ledger")
    for a in journal.rollbacks:
        add("rollback", f"rollback {a.name}", a.end, "journal")
    out.sort(key=lambda p: (p.time is None, p.time or 0.0))
    return tuple(out)


def build_rpo(
    audit: AuditResult | None, facts: LedgerFacts, promotion: float | None, t0: float | None,
    primary: str | None, secondary: str | None,
) -> Rpo:  # fmt: skip
    def old(region: str) -> bool:  # acknowledged by the old writer (split brain after promotion)
        return region == primary if primary else region not in (secondary, "?")

    split = sum(n for r, (n, _) in facts.acked_after_promotion.items() if old(r))
    split_sample = tuple(
        m for r, (_, ms) in facts.acked_after_promotion.items() if old(r) for m in ms
    )
    if audit is None:
        return Rpo(False, None, "not audited (no audit.json): lost writes unknown", lost_reads=facts.lost_reads,
                   split_brain=split, split_brain_sample=split_sample)  # fmt: skip
    basis_time, basis = (
        (promotion, "promotion time")
        if promotion is not None
        else (t0, "fault time t0 (promotion time unknown)")
    )
    lost = audit.lost
    oldest = WriteMark(lost[0].id, lost[0].acked_at, lost[0].region) if lost else None
    newest = WriteMark(lost[-1].id, lost[-1].acked_at, lost[-1].region) if lost else None
    if not lost:
        rpo = 0.0
    elif basis_time is None:
        return Rpo(
            False,
            None,
            "lost writes found but neither promotion time nor t0 is known",
            audit.checked,
            len(lost),
            oldest,
            newest,
        )
    else:
        rpo = max(0.0, basis_time - lost[0].acked_at)
    return Rpo(
        True, rpo, basis, audit.checked, len(lost), oldest, newest,
        tuple(WriteMark(w.id, w.acked_at, w.region) for w in lost[:20]),
        facts.found_after_oldest_lost, split, split_sample,
        len(audit.duplicates), tuple((d.id, d.reason) for d in audit.duplicates[:20]),
        len(audit.recovery_only) if audit.old_lookup else None, facts.lost_reads,
    )  # fmt: skip


def build_floors(run: RunInfo, samples: list[Sample], t0: float | None) -> Floors:
    f = run.floors
    interval, threshold, ttl = (
        f.get("health_check_interval_s"),
        f.get("failure_threshold"),
        f.get("ttl_s"),
    )
    floor = interval * threshold + ttl if None not in (interval, threshold, ttl) else None
    last = maximum = None
    after: tuple[tuple[float, float], ...] = ()
    if t0 is not None:
        lags = sorted(
            (s for s in samples if s.probe == "replication_lag" and _is_number(s.value)),
            key=lambda s: s.time,
        )
        before = [s for s in lags if s.time < t0]
        if before:
            last = float(before[-1].value)
            maximum = max(
                (float(s.value) for s in before if s.time >= t0 - STEADY_SECONDS), default=None
            )
        after = tuple((s.time - t0, float(s.value)) for s in lags if s.time >= t0)
    return Floors(interval, threshold, ttl, floor, f.get("lab_speed"), last, maximum, after)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def analyze(
    *, journal: Journal, run: RunInfo, objectives: Objectives, facts: LedgerFacts, clock: Clock,
    samples: list[Sample], lab_events: list[dict[str, Any]], faults: list[FaultEntry] | None,
    audit: AuditResult | None, steps: list[dict[str, Any]], promotion: tuple[float | None, str | None],
    late_records: int = 0, missing: tuple[str, ...] = (),
) -> Measurement:  # fmt: skip
    """All of the measurement, from records already read."""
    t0 = journal.t0
    primary, secondary = infer_regions(run, facts, samples, t0)
    if promotion[0] is None:
        promotion = promotion_time(t0, samples, lab_events, secondary)
    speed = run.floors.get("lab_speed")
    phases = build_phases(
        journal, facts, samples, lab_events, steps, primary, secondary, promotion, speed
    )
    cohorts = tuple(
        CohortSummary(c.cohort, c.requests, c.recovery,
                      None if t0 is None or secondary not in c.first_after_t0 else c.first_after_t0[secondary] - t0)
        for c in facts.cohorts
    )  # fmt: skip
    rpo = build_rpo(audit, facts, promotion[0], t0, primary, secondary)
    floors = build_floors(run, samples, t0)
    before = after = None
    if facts.first_start is not None and facts.last_end is not None:
        if t0 is not None:
            before = steady_state(
                facts.bins, max(facts.first_start // 1, t0 - STEADY_SECONDS), t0 // 1
            )
        tail_start = facts.last_end - STEADY_SECONDS
        if facts.recovery.recovered_at is not None:
            tail_start = max(tail_start, facts.recovery.recovered_at)
        after = steady_state(facts.bins, tail_start // 1, facts.last_end // 1)
    if clock.source == "none":
        clock = Clock(0.0, "none", suspected=suspected_skew(run, facts.first_start, facts.last_end))
    found = findings(
        objectives, floors, facts, cohorts, rpo, clock, phases, secondary, faults, late_records
    )
    results = judge(objectives, facts.recovery, rpo, journal, before, after, faults)
    v, text = verdict(results, objectives)
    return Measurement(
        t0, journal.fault.name if journal.fault else None, primary, secondary, clock, facts.recovery,
        cohorts, phases, rpo, floors, before, after, found, results, v, text, missing, facts,
    )  # fmt: skip
