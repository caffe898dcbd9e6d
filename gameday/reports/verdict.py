"""The five checks and the verdict stakeholders read first.

:func:`judge` gives one result per check (RTO, RPO, steady state before, steady state after,
every fault reverted: the JUnit test cases). :func:`verdict` is **met** only when every
check passed (an objective the drill does not set is "not-set" and does not block it),
**missed** when any check failed, **incomplete** when one could not be judged, and
**interrupted** when the drill was stopped before it ran to its end, whatever the checks
say: a stopped game day is not a failed one.
"""

from __future__ import annotations

from gameday.reports.measure import SteadyState
from gameday.reports.model import ObjectiveResult, Rpo
from gameday.reports.objectives import Objectives
from gameday.reports.recovery import Recovery
from gameday.reports.runfiles import FaultEntry, Journal

CHECKS = ("RTO", "RPO", "steady state before", "steady state after", "every fault reverted")


def _by(obj: float, measured: float, met: bool) -> str:
    return f", {abs(obj - measured):.2f} s {'under' if met else 'over'} the {obj:g} s objective"


def _rto(objectives: Objectives, recovery: Recovery) -> ObjectiveResult:
    obj = objectives.rto_seconds
    if recovery.rto_s is not None:
        detail = (
            "no user-visible outage"
            if recovery.outcome == "no-outage"
            else f"recovered {recovery.rto_s:.2f} s after the fault started"
        )
        if recovery.lab_rto_s is not None:
            detail += f" ({recovery.lab_rto_s:.2f} lab s)"
        if obj is None:
            return ObjectiveResult(
                "RTO", "not-set", None, recovery.rto_s, detail + "; no RTO objective set"
            )
        met = recovery.rto_s <= obj
        return ObjectiveResult("RTO", "met" if met else "missed", obj, recovery.rto_s,
                               detail + _by(obj, recovery.rto_s, met))  # fmt: skip
    if recovery.outcome == "not-recovered":
        return ObjectiveResult(
            "RTO", "missed", obj, None, "not recovered within the observation window"
        )
    why = {
        "no-fault": "no impairment action in the journal: t0 unknown",
        "no-requests": "no request after the fault",
    }.get(recovery.outcome, recovery.outcome)
    return ObjectiveResult("RTO", "unknown" if obj is not None else "not-set", obj, None, why)


def _rpo(objectives: Objectives, rpo: Rpo) -> ObjectiveResult:
    obj = objectives.rpo_seconds
    if not (rpo.measured and rpo.rpo_s is not None):
        return ObjectiveResult(
            "RPO", "unknown" if obj is not None else "not-set", obj, None, rpo.basis
        )
    lab = f" ({rpo.lab_rpo_s:.2f} lab s)" if rpo.lab_rpo_s is not None else ""
    detail = f"{rpo.lost} of {rpo.audited} acknowledged writes lost; RPO {rpo.rpo_s:.2f} s{lab} ({rpo.basis})"
    if obj is None:
        return ObjectiveResult("RPO", "not-set", None, rpo.rpo_s, detail + "; no RPO objective set")
    met = rpo.rpo_s <= obj
    return ObjectiveResult(
        "RPO", "met" if met else "missed", obj, rpo.rpo_s, detail + _by(obj, rpo.rpo_s, met)
    )


def _steady(
    name: str, hypothesis: bool | None, steady: SteadyState | None, threshold: float
) -> ObjectiveResult:
    if hypothesis is not None:
        said = "held" if hypothesis else "did not hold"
        return ObjectiveResult(name, "met" if hypothesis else "missed", True, hypothesis,
                               f"the journal's steady-state hypothesis {said}")  # fmt: skip
    if steady is not None and steady.success_ratio is not None:
        ok = steady.success_ratio >= threshold
        return ObjectiveResult(name, "met" if ok else "missed", threshold, steady.success_ratio,
                               f"{steady.success_ratio:.2%} of {steady.requests} requests succeeded (measured, no hypothesis in the journal)")  # fmt: skip
    return ObjectiveResult(
        name, "unknown", None, None, "no hypothesis in the journal and no requests in the window"
    )


def _reverted(journal: Journal, faults: list[FaultEntry] | None) -> ObjectiveResult:
    name = "every fault reverted"
    if faults is not None:
        still = [f.activity for f in faults if f.state in ("pending", "applied")]
        detail = (
            f"still open: {', '.join(still)}"
            if still
            else f"{len(faults)} fault-ledger entries, none open"
        )
        return ObjectiveResult(name, "missed" if still else "met", 0, len(still), detail)
    if journal.rollbacks:
        bad = [a.name for a in journal.rollbacks if a.status != "succeeded"]
        detail = (f"rollbacks not succeeded: {', '.join(bad)}" if bad
                  else f"all {len(journal.rollbacks)} rollbacks succeeded (no fault ledger slice)")  # fmt: skip
        return ObjectiveResult(name, "missed" if bad else "met", 0, len(bad), detail)
    return ObjectiveResult(
        name, "unknown", 0, None, "no fault ledger slice and no rollbacks in the journal"
    )


def judge(
    objectives: Objectives, recovery: Recovery, rpo: Rpo, journal: Journal,
    before: SteadyState | None, after: SteadyState | None, faults: list[FaultEntry] | None,
) -> tuple[ObjectiveResult, ...]:  # fmt: skip
    """One result per check (the JUnit test cases), in :data:`CHECKS` order."""
    t = objectives.success_threshold
    return (
        _rto(objectives, recovery),
        _rpo(objectives, rpo),
        _steady("steady state before", journal.steady_before, before, t),
        _steady("steady state after", journal.steady_after, after, t),
        _reverted(journal, faults),
    )


def verdict(
    results: tuple[ObjectiveResult, ...], interrupted: str | None = None
) -> tuple[str, str]:
    """("met" | "missed" | "incomplete" | "interrupted", the sentence a stakeholder reads)."""
    said = "; ".join(f"{r.name}: {r.status} ({r.detail})" for r in results)
    if interrupted:
        return (
            "interrupted",
            f"Interrupted: {interrupted}; the drill did not run to its end, so it is not judged. {said}.",
        )
    missed = [r for r in results if r.status == "missed"]
    if missed:
        return "missed", f"Objectives missed: {', '.join(r.name for r in missed)}. {said}."
    unknown = [r for r in results if r.status == "unknown"]
    objectives = [r for r in results if r.name in ("RTO", "RPO") and r.status != "not-set"]
    if unknown or not objectives:
        why = ", ".join(r.name for r in unknown) if unknown else "no RTO or RPO objective is set"
        return "incomplete", f"Incomplete: could not judge {why}. {said}."
    return "met", f"Objectives met: all five checks passed. {said}."
