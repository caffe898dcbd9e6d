"""Findings and the verdict: what the measurement means against the objectives.

Every finding is derived from the measured numbers and carries them (``numbers``); nothing
here is fixed text pretending to be a measurement. :func:`judge` gives one result per
objective (RTO, RPO, steady state before and after, every fault reverted: the JUnit test
cases) and :func:`verdict` the sentence stakeholders read first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gameday.reports.measure import LedgerFacts, Recovery, SteadyState
from gameday.reports.objectives import Objectives
from gameday.reports.runfiles import FaultEntry, Journal

if TYPE_CHECKING:
    from gameday.reports.analysis import Clock, CohortSummary, Floors, Phase, Rpo


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # "high" | "medium" | "info"
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectiveResult:
    """One judged objective (also one JUnit test case)."""

    name: str
    status: str  # "met" | "missed" | "unknown"
    objective: Any
    measured: Any
    detail: str


# --------------------------------------------------------------------------- findings
def _fmt(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


def findings(
    objectives: Objectives, floors: Floors, facts: LedgerFacts, cohorts: tuple[CohortSummary, ...],
    rpo: Rpo, clock: Clock, phases: tuple[Phase, ...], secondary: str | None,
    faults: list[FaultEntry] | None, late_records: int,
) -> tuple[Finding, ...]:  # fmt: skip
    """Findings derived from the measurements, each carrying the numbers behind it."""
    out: list[Finding] = []

    def add(code: str, severity: str, text: str, numbers: dict[str, Any]) -> None:
        out.append(Finding(code, severity, text, numbers))

    rto_obj, rpo_obj = objectives.rto_seconds, objectives.rpo_seconds
    r = facts.recovery
    by_key = {p.key: p for p in phases}
    if floors.ttl_s is not None and rto_obj is not None and floors.ttl_s > rto_obj:
        add(
            "ttl-exceeds-rto",
            "high",
            f"The DNS TTL alone ({floors.ttl_s:g} s) exceeds the RTO objective ({rto_obj:g} s): no DNS failover can meet it.",
            {"ttl_s": floors.ttl_s, "rto_objective_s": rto_obj},
        )
    if floors.dns_floor_s is not None and rto_obj is not None and floors.dns_floor_s > rto_obj:
        add(
            "dns-floor-exceeds-rto",
            "high",
            f"The DNS failover floor (interval {floors.interval_s:g} s x threshold {floors.threshold} + TTL {floors.ttl_s:g} s = {floors.dns_floor_s:g} s) exceeds the RTO objective ({rto_obj:g} s).",
            {"dns_floor_s": floors.dns_floor_s, "rto_objective_s": rto_obj},
        )
    shift = by_key.get("dns-shift")
    if floors.dns_floor_s is not None and shift is not None and shift.since_t0_s is not None:
        add(
            "dns-shift-vs-floor",
            "info",
            f"Users reached the recovery region {shift.since_t0_s:.2f} s after the fault; the predicted floor was {floors.dns_floor_s:g} s.",
            {"dns_shift_s": shift.since_t0_s, "dns_floor_s": floors.dns_floor_s},
        )
    lag = floors.replication_lag_max_before_s
    if lag is not None and rpo_obj is not None and lag > rpo_obj:
        add(
            "lag-exceeds-rpo",
            "high",
            f"Replication lag before the fault already reached {lag:.2f} s, above the RPO objective ({rpo_obj:g} s).",
            {"replication_lag_s": lag, "rpo_objective_s": rpo_obj},
        )
    if r.outcome == "not-recovered":
        add(
            "not-recovered",
            "high",
            f"No {objectives.window_seconds:g} s window after the fault reached {objectives.success_threshold:.1%} success with {objectives.min_requests} requests before the ledger ended ({facts.recovery.failed_after_t0} failed of {r.requests_after_t0} requests after the fault).",
            {"failed": r.failed_after_t0, "requests": r.requests_after_t0},
        )
    elif r.outcome == "no-outage":
        add(
            "no-outage",
            "info",
            f"No user-visible outage: none of the {r.requests_after_t0} requests after the fault failed before the recovery window.",
            {"requests": r.requests_after_t0},
        )
    by_cohort = {c.cohort: c for c in cohorts}
    sticky, ttl = by_cohort.get("sticky"), by_cohort.get("ttl")
    if (
        sticky is not None
        and secondary
        and sticky.recovery.requests_after_t0
        and sticky.reached_recovery_region_s is None
    ):
        add(
            "sticky-never-moved",
            "high",
            f"Clients that cache their first DNS answer never reached {secondary}: {sticky.recovery.failed_after_t0} of their {sticky.recovery.requests_after_t0} requests after the fault failed ({(sticky.recovery.error_share or 0):.1%}).",
            {
                "sticky_requests": sticky.recovery.requests_after_t0,
                "sticky_failed": sticky.recovery.failed_after_t0,
            },
        )
    ttl_rto = ttl.recovery.rto_s if ttl is not None else None
    if (
        sticky is not None
        and ttl_rto is not None
        and (sticky.recovery.rto_s is None or sticky.recovery.rto_s > ttl_rto + 1.0)
    ):
        srto = (
            "never recovered"
            if sticky.recovery.rto_s is None
            else f"recovered in {sticky.recovery.rto_s:.2f} s"
        )
        add(
            "sticky-slower",
            "medium",
            f"TTL-honouring clients recovered in {ttl_rto:.2f} s; sticky clients {srto}.",
            {"ttl_rto_s": ttl_rto, "sticky_rto_s": sticky.recovery.rto_s},
        )
    if secondary and secondary in facts.refused_writes:
        n, first, last = facts.refused_writes[secondary]
        promo = by_key.get("promotion")
        start = shift.time if shift is not None and shift.time is not None else first
        add(
            "writes-refused-after-dns",
            "medium",
            f"{n} writes were refused by {secondary} for {max(0.0, last - start):.2f} s after DNS moved, because the database was not yet promoted"
            + (
                f" (promotion {promo.since_t0_s:.2f} s after the fault)."
                if promo and promo.since_t0_s is not None
                else "."
            ),
            {"refused": n, "seconds": max(0.0, last - start)},
        )
    if rpo.split_brain:
        add(
            "split-brain",
            "high",
            f"The old region acknowledged {rpo.split_brain} writes after the recovery region was promoted (split brain).",
            {"writes": rpo.split_brain},
        )
    if rpo.lost:
        assert rpo.oldest_lost and rpo.newest_lost
        add(
            "lost-writes",
            "high",
            f"{rpo.lost} acknowledged writes were lost, acknowledged between {_fmt(rpo.oldest_lost.time - (facts.recovery.t0 or 0))} and {_fmt(rpo.newest_lost.time - (facts.recovery.t0 or 0))} relative to the fault; RPO {_fmt(rpo.rpo_s)}.",
            {"lost": rpo.lost, "rpo_s": rpo.rpo_s},
        )
    if rpo.non_suffix:
        add(
            "loss-not-suffix",
            "medium",
            f"Loss is not a suffix of the ack order: {rpo.non_suffix} writes acknowledged after the oldest lost write survived.",
            {"survived_after_oldest_lost": rpo.non_suffix},
        )
    if rpo.duplicates:
        add(
            "duplicates",
            "medium",
            f"{rpo.duplicates} write ids are stored more than once or with differing payloads.",
            {"duplicates": rpo.duplicates},
        )
    if rpo.recovery_only:
        add(
            "failback-reconcile",
            "medium",
            f"{rpo.recovery_only} writes taken by the recovery region are missing in the old region: failback must reconcile them.",
            {"writes": rpo.recovery_only},
        )
    if rpo.lost_reads:
        add(
            "lost-reads",
            "medium",
            f"{rpo.lost_reads} reads of acknowledged ids answered 404 (a symptom of data loss, not counted as unavailability).",
            {"lost_reads": rpo.lost_reads},
        )
    if facts.outcomes.get("client-error"):
        add(
            "client-errors",
            "info",
            f"{facts.outcomes['client-error']} requests got a 4xx client error (reported apart, not counted as unavailability).",
            {"client_errors": facts.outcomes["client-error"]},
        )
    if clock.offset_s:
        add(
            "clock-skew",
            "medium",
            f"The load's clock was {-clock.offset_s:+.2f} s off the servers' (median over {clock.samples} acknowledged writes); the ledger was shifted by {clock.offset_s:+.2f} s before measuring.",
            {"offset_s": clock.offset_s, "samples": clock.samples},
        )
    elif clock.suspected:
        add(
            "clock-skew-suspected",
            "medium",
            f"Possible clock skew, not corrected (no audit to measure it): {clock.suspected}.",
            {},
        )
    if late_records:
        add(
            "ledger-out-of-order",
            "info",
            f"{late_records} ledger records arrived more than the reorder horizon out of order and were measured in arrival order.",
            {"records": late_records},
        )
    open_faults = [f for f in faults or [] if f.state in ("pending", "applied")]
    if open_faults:
        add(
            "faults-open",
            "high",
            f"{len(open_faults)} faults of this run were not reverted: {', '.join(f.activity for f in open_faults)} (run gameday recover).",
            {"open": len(open_faults)},
        )
    return tuple(out)


# ---------------------------------------------------------------------------- verdict
def judge(
    objectives: Objectives, recovery: Recovery, rpo: Rpo, journal: Journal,
    before: SteadyState | None, after: SteadyState | None, faults: list[FaultEntry] | None,
) -> tuple[ObjectiveResult, ...]:  # fmt: skip
    """One result per objective (the JUnit test cases)."""
    out = []
    obj = objectives.rto_seconds
    if recovery.rto_s is not None:
        status = "met" if obj is None or recovery.rto_s <= obj else "missed"
        by = (
            ""
            if obj is None
            else f" ({abs(obj - recovery.rto_s):.2f} s {'under' if status == 'met' else 'over'} the {obj:g} s objective)"
        )
        detail = (
            "no user-visible outage"
            if recovery.outcome == "no-outage"
            else f"recovered {recovery.rto_s:.2f} s after the fault"
        ) + by
        out.append(
            ObjectiveResult(
                "RTO",
                status if obj is not None else "unknown",
                obj,
                recovery.rto_s,
                detail if obj is not None else detail + "; no RTO objective set",
            )
        )
    elif recovery.outcome == "not-recovered":
        out.append(
            ObjectiveResult(
                "RTO", "missed", obj, None, "not recovered within the observation window"
            )
        )
    else:
        out.append(
            ObjectiveResult(
                "RTO",
                "unknown",
                obj,
                None,
                {
                    "no-fault": "no impairment action in the journal: t0 unknown",
                    "no-requests": "no request after the fault",
                }.get(recovery.outcome, recovery.outcome),
            )
        )
    obj = objectives.rpo_seconds
    if rpo.measured and rpo.rpo_s is not None:
        status = "met" if obj is None or rpo.rpo_s <= obj else "missed"
        detail = f"{rpo.lost} of {rpo.audited} acknowledged writes lost; RPO {rpo.rpo_s:.2f} s ({rpo.basis})"
        if obj is not None:
            detail += f", {abs(obj - rpo.rpo_s):.2f} s {'under' if status == 'met' else 'over'} the {obj:g} s objective"
        out.append(
            ObjectiveResult(
                "RPO",
                status if obj is not None else "unknown",
                obj,
                rpo.rpo_s,
                detail if obj is not None else detail + "; no RPO objective set",
            )
        )
    else:
        out.append(ObjectiveResult("RPO", "unknown", obj, None, rpo.basis))
    for name, met, steady in (
        ("steady state before", journal.steady_before, before),
        ("steady state after", journal.steady_after, after),
    ):
        if met is not None:
            out.append(
                ObjectiveResult(
                    name,
                    "met" if met else "missed",
                    True,
                    met,
                    "the journal's steady-state hypothesis " + ("held" if met else "did not hold"),
                )
            )
        elif steady is not None and steady.success_ratio is not None:
            ok = steady.success_ratio >= objectives.success_threshold
            out.append(
                ObjectiveResult(
                    name,
                    "met" if ok else "missed",
                    objectives.success_threshold,
                    steady.success_ratio,
                    f"{steady.success_ratio:.2%} of {steady.requests} requests succeeded (measured, no hypothesis in the journal)",
                )
            )
        else:
            out.append(
                ObjectiveResult(
                    name,
                    "unknown",
                    None,
                    None,
                    "no hypothesis in the journal and no requests in the window",
                )
            )
    if faults is not None:
        open_ = [f.activity for f in faults if f.state in ("pending", "applied")]
        out.append(
            ObjectiveResult(
                "every fault reverted",
                "missed" if open_ else "met",
                0,
                len(open_),
                f"still open: {', '.join(open_)}"
                if open_
                else f"{len(faults)} fault-ledger entries, none open",
            )
        )
    elif journal.rollbacks:
        bad = [a.name for a in journal.rollbacks if a.status != "succeeded"]
        out.append(
            ObjectiveResult(
                "every fault reverted",
                "missed" if bad else "met",
                0,
                len(bad),
                f"rollbacks not succeeded: {', '.join(bad)}"
                if bad
                else f"all {len(journal.rollbacks)} rollbacks succeeded (no fault ledger slice)",
            )
        )
    else:
        out.append(
            ObjectiveResult(
                "every fault reverted",
                "unknown",
                0,
                None,
                "no fault ledger slice and no rollbacks in the journal",
            )
        )
    return tuple(out)


def verdict(results: tuple[ObjectiveResult, ...], objectives: Objectives) -> tuple[str, str]:
    """("met" | "missed" | "incomplete", the sentence a stakeholder reads)."""
    judged = [r for r in results if r.name in ("RTO", "RPO") and r.objective is not None]
    missed = [r for r in judged if r.status == "missed"]
    unknown = [r for r in judged if r.status == "unknown"]
    parts = [f"{r.name}: {r.detail}" for r in judged]
    if missed:
        return "missed", "Objectives missed. " + "; ".join(parts) + "."
    if unknown or not judged:
        why = "; ".join(parts) if judged else "no RTO or RPO objective is set"
        return "incomplete", "Incomplete: the objectives could not all be judged. " + why + "."
    return "met", "Objectives met. " + "; ".join(parts) + "."
