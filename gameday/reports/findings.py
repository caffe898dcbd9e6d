"""Findings: what the measurement means, one function per finding.

Every rule takes the measurement (:class:`FindingInput`) and returns a :class:`Finding`
carrying the numbers behind it, or None. A rule states a cause only when its data shows
the premise: a refusal is blamed on a missing promotion only if the region refusing was
not yet the writer, a lag is "before the fault" only if measured wholly before t0, a
reconcile is asked only after a writer change. Each rule has a test with a run where it
must not fire. Durations are AWS seconds (:mod:`gameday.reports.clock`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gameday.reports.model import Finding, Measurement, Phase
from gameday.reports.objectives import Objectives
from gameday.reports.runfiles import FaultEntry


@dataclass(frozen=True)
class FindingInput:
    m: Measurement
    objectives: Objectives
    faults: list[FaultEntry] | None
    late_records: int = 0

    def phase(self, key: str) -> Phase | None:
        return next((p for p in self.m.phases if p.key == key), None)

    def aws_since_t0(self, time: float) -> float:
        return (time - (self.m.t0 or 0.0)) * self.m.speed


Rule = Callable[[FindingInput], Finding | None]


def _fmt(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


# ------------------------------------------------------------------------------ floors
def ttl_exceeds_rto(x: FindingInput) -> Finding | None:
    ttl, rto = x.m.floors.ttl_s, x.objectives.rto_seconds
    if ttl is None or rto is None or ttl <= rto:
        return None
    return Finding("ttl-exceeds-rto", "high",
                   f"The DNS TTL alone ({ttl:g} s) exceeds the RTO objective ({rto:g} s): no DNS failover can meet it.",
                   {"ttl_s": ttl, "rto_objective_s": rto})  # fmt: skip


def dns_floor_exceeds_rto(x: FindingInput) -> Finding | None:
    f, rto = x.m.floors, x.objectives.rto_seconds
    if f.dns_floor_s is None or rto is None or f.dns_floor_s <= rto:
        return None
    return Finding("dns-floor-exceeds-rto", "high",
                   f"The DNS failover floor (interval {f.interval_s:g} s x threshold {f.threshold} + TTL {f.ttl_s:g} s = {f.dns_floor_s:g} s) exceeds the RTO objective ({rto:g} s).",
                   {"dns_floor_s": f.dns_floor_s, "rto_objective_s": rto})  # fmt: skip


def dns_shift_vs_floor(x: FindingInput) -> Finding | None:
    shift, floor = x.phase("dns-shift"), x.m.floors.dns_floor_s
    if floor is None or shift is None or shift.since_t0_s is None or not x.m.roles.moved:
        return None
    return Finding("dns-shift-vs-floor", "info",
                   f"Users reached {x.m.roles.users_to} {shift.since_t0_s:.2f} s after the fault started; the predicted floor was {floor:g} s.",
                   {"dns_shift_s": shift.since_t0_s, "dns_floor_s": floor})  # fmt: skip


# -------------------------------------------------------------------------- replication
def lag_exceeds_rpo(x: FindingInput) -> Finding | None:
    lag, rpo = x.m.floors.replication_lag_max_before_s, x.objectives.rpo_seconds
    if lag is None or rpo is None or lag <= rpo:
        return None
    return Finding("lag-exceeds-rpo", "high",
                   f"Replication lag measured before the fault started already reached {lag:.2f} s, above the RPO objective ({rpo:g} s).",
                   {"replication_lag_s": lag, "rpo_objective_s": rpo})  # fmt: skip


def lag_crossed_rpo(x: FindingInput) -> Finding | None:
    f, rpo = x.m.floors, x.objectives.rpo_seconds
    if rpo is None or not f.replication_lag_after:
        return None
    crossed = next(((at, lag) for at, lag in f.replication_lag_after if lag > rpo), None)
    if crossed is None:
        return None
    peak = max(lag for _, lag in f.replication_lag_after)
    return Finding("lag-crossed-rpo", "high",
                   f"Replication lag toward {x.m.roles.users_to} ({f.lag_subject}) crossed the RPO objective ({rpo:g} s) {crossed[0]:.2f} s after the fault started, before any promotion, and reached {peak:.2f} s: failing over to it then would have lost up to {peak:.2f} s of acknowledged writes, {peak - rpo:.2f} s more than the objective allows.",
                   {"crossed_after_t0_s": crossed[0], "lag_at_crossing_s": crossed[1], "peak_lag_s": peak,
                    "rpo_objective_s": rpo, "excess_s": peak - rpo})  # fmt: skip


# ----------------------------------------------------------------------------- recovery
def not_recovered(x: FindingInput) -> Finding | None:
    r, o = x.m.recovery, x.objectives
    if r.outcome != "not-recovered":
        return None
    return Finding("not-recovered", "high",
                   f"No {o.window_seconds:g} s window after the fault reached {o.success_threshold:.1%} success with {o.min_requests} requests before the ledger ended ({r.failed_after_t0} failed of {r.requests_after_t0} requests after the fault).",
                   {"failed": r.failed_after_t0, "requests": r.requests_after_t0})  # fmt: skip


def no_outage(x: FindingInput) -> Finding | None:
    r = x.m.recovery
    if r.outcome != "no-outage":
        return None
    return Finding("no-outage", "info",
                   f"No user-visible outage: none of the {r.requests_after_t0} requests after the fault started failed before the recovery window.",
                   {"requests": r.requests_after_t0})  # fmt: skip


def sticky_never_moved(x: FindingInput) -> Finding | None:
    sticky = next((c for c in x.m.cohorts if c.cohort == "sticky"), None)
    to = x.m.roles.users_to
    if (
        sticky is None
        or not to
        or not sticky.recovery.requests_after_t0
        or sticky.reached_recovery_region_s is not None
    ):
        return None
    r = sticky.recovery
    return Finding("sticky-never-moved", "high",
                   f"Clients that cache their first DNS answer never reached {to}: {r.failed_after_t0} of their {r.requests_after_t0} requests after the fault failed ({(r.error_share or 0):.1%}).",
                   {"sticky_requests": r.requests_after_t0, "sticky_failed": r.failed_after_t0})  # fmt: skip


def sticky_slower(x: FindingInput) -> Finding | None:
    by = {c.cohort: c for c in x.m.cohorts}
    sticky, ttl = by.get("sticky"), by.get("ttl")
    ttl_rto = ttl.recovery.rto_s if ttl is not None else None
    if sticky is None or ttl_rto is None:
        return None
    srto = sticky.recovery.rto_s
    if srto is not None and srto <= ttl_rto + x.m.speed:  # within one lab second
        return None
    said = "never recovered" if srto is None else f"recovered in {srto:.2f} s"
    return Finding("sticky-slower", "medium",
                   f"TTL-honouring clients recovered in {ttl_rto:.2f} s; sticky clients {said}.",
                   {"ttl_rto_s": ttl_rto, "sticky_rto_s": srto})  # fmt: skip


def writes_refused_after_dns(x: FindingInput) -> Finding | None:
    """Only when the region refusing was not yet the writer (its refusals came before the
    promotion): a demoted old writer's refusals are not a missing promotion."""
    roles, m = x.m.roles, x.m
    to = roles.users_to
    if not to or to not in m.facts.refused_writes or roles.writer_before == to:
        return None
    n, first, last = m.facts.refused_writes[to]
    promo = x.phase("promotion")
    if promo is not None and promo.time is not None:
        if first >= promo.time:
            return None
        last = min(last, promo.time)
    shift = x.phase("dns-shift")
    start = shift.time if shift is not None and shift.time is not None else first
    seconds = max(0.0, last - start) * m.speed
    when = (
        f" (promotion {promo.since_t0_s:.2f} s after the fault started)."
        if promo and promo.since_t0_s is not None
        else "."
    )
    return Finding("writes-refused-after-dns", "medium",
                   f"{n} writes were refused by {to} for {seconds:.2f} s after DNS moved, because it was not yet the writer{when}",
                   {"refused": n, "seconds": seconds})  # fmt: skip


# ---------------------------------------------------------------------------------- data
def split_brain(x: FindingInput) -> Finding | None:
    n = x.m.rpo.split_brain
    if not n:
        return None
    return Finding("split-brain", "high",
                   f"The old writer ({x.m.roles.writer_before or 'unknown'}) acknowledged {n} writes after {x.m.roles.writer_after} was promoted (split brain).",
                   {"writes": n})  # fmt: skip


def lost_writes(x: FindingInput) -> Finding | None:
    rpo = x.m.rpo
    if not rpo.lost or rpo.oldest_lost is None or rpo.newest_lost is None:
        return None
    a, b = x.aws_since_t0(rpo.oldest_lost.time), x.aws_since_t0(rpo.newest_lost.time)
    return Finding("lost-writes", "high",
                   f"{rpo.lost} acknowledged writes were lost, acknowledged between {_fmt(a)} and {_fmt(b)} relative to the fault's start; RPO {_fmt(rpo.rpo_s)}.",
                   {"lost": rpo.lost, "rpo_s": rpo.rpo_s})  # fmt: skip


def loss_not_suffix(x: FindingInput) -> Finding | None:
    n = x.m.rpo.non_suffix
    if not n:
        return None
    return Finding("loss-not-suffix", "medium",
                   f"Loss is not a suffix of the ack order: {n} writes acknowledged after the oldest lost write survived.",
                   {"survived_after_oldest_lost": n})  # fmt: skip


def duplicates(x: FindingInput) -> Finding | None:
    n = x.m.rpo.duplicates
    if not n:
        return None
    return Finding("duplicates", "medium",
                   f"{n} write ids are stored more than once or with differing payloads.", {"duplicates": n})  # fmt: skip


def failback_reconcile(x: FindingInput) -> Finding | None:
    """Only after a writer change: without one, writes missing in the other region are
    replication still in flight, not writes a failback must reconcile."""
    n, roles = x.m.rpo.recovery_only, x.m.roles
    if not n or x.phase("promotion") is None or roles.writer_after == roles.writer_before:
        return None
    return Finding("failback-reconcile", "medium",
                   f"{n} writes taken by {roles.writer_after} after the promotion are missing in {roles.writer_before}: failback must reconcile them.",
                   {"writes": n})  # fmt: skip


def lost_reads(x: FindingInput) -> Finding | None:
    n = x.m.rpo.lost_reads
    if not n:
        return None
    return Finding("lost-reads", "medium",
                   f"{n} reads of acknowledged ids answered 404 (a symptom of data loss, not counted as unavailability).",
                   {"lost_reads": n})  # fmt: skip


def client_errors(x: FindingInput) -> Finding | None:
    n = x.m.facts.outcomes.get("client-error")
    if not n:
        return None
    return Finding("client-errors", "info",
                   f"{n} requests got a 4xx client error (reported apart, not counted as unavailability).",
                   {"client_errors": n})  # fmt: skip


# ---------------------------------------------------------------------- the evidence
def clock_skew(x: FindingInput) -> Finding | None:
    c = x.m.clock
    if c.offset_s:
        return Finding("clock-skew", "medium",
                       f"The load's clock was {-c.offset_s:+.2f} s off the servers' (median over {c.samples} acknowledged writes); the ledger was shifted by {c.offset_s:+.2f} s before measuring.",
                       {"offset_s": c.offset_s, "samples": c.samples})  # fmt: skip
    if c.suspected:
        return Finding("clock-skew-suspected", "medium",
                       f"Possible clock skew, not corrected (no audit to measure it): {c.suspected}.", {})  # fmt: skip
    return None


def ledger_out_of_order(x: FindingInput) -> Finding | None:
    if not x.late_records:
        return None
    return Finding("ledger-out-of-order", "info",
                   f"{x.late_records} ledger records arrived more than the reorder horizon out of order and were measured in arrival order.",
                   {"records": x.late_records})  # fmt: skip


def faults_open(x: FindingInput) -> Finding | None:
    still = [f for f in x.faults or [] if f.state in ("pending", "applied")]
    if not still:
        return None
    return Finding("faults-open", "high",
                   f"{len(still)} faults of this run were not reverted: {', '.join(f.activity for f in still)} (run gameday recover).",
                   {"open": len(still)})  # fmt: skip


#: Every rule, in the order the report lists their findings.
RULES: tuple[Rule, ...] = (
    ttl_exceeds_rto, dns_floor_exceeds_rto, dns_shift_vs_floor, lag_exceeds_rpo, lag_crossed_rpo,
    not_recovered, no_outage, sticky_never_moved, sticky_slower, writes_refused_after_dns,
    split_brain, lost_writes, loss_not_suffix, duplicates, failback_reconcile, lost_reads,
    client_errors, clock_skew, ledger_out_of_order, faults_open,
)  # fmt: skip


def findings(x: FindingInput) -> tuple[Finding, ...]:
    """Every finding whose rule fires, each carrying the numbers behind it."""
    return tuple(f for rule in RULES if (f := rule(x)) is not None)
