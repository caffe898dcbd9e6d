"""The drill's timeline rules, each computed once: t0, the fault's window, the roles, the
promotion, the provider-side phases, lag before the fault and the floors.

* **t0** is when the impairment action *started* (the journal's ``start`` of it): from then
  on users may be hurt. Its end (the impairment in place) is a phase of its own.
* The **fault's window** runs from the end of the activity before the fault (anything that
  happens after it can be the fault's doing: a promotion inside a long failover action comes
  before the action returns) to the first rollback.
* **Roles** come from what happened, not from fixed names: users leave the region that
  served them just before t0 and reach the one serving them once recovered; the writer
  before is the one in place when the fault's window opened, the writer after the one the
  fault's promotion made. A failback moves users the other way.
* **Ground truth first**: on the lab its own log (Route 53's status flip, the service
  record's DNS change, the writer change) and nothing else when the log is there (what it
  did not log did not happen); against AWS the control plane (CloudWatch
  ``HealthCheckStatus``, ``describe_global_clusters`` through the sampler).

The drill control calls :func:`fault_start` (through :func:`gameday.reports.faultrule`) and
:mod:`gameday.reports.recovery`; it keeps no rule of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gameday.reports.measure import STEADY_SECONDS, BinRow
from gameday.reports.model import Event, Floors, Roles
from gameday.reports.runfiles import Journal, RunInfo, Sample

#: Seconds of requests (lab seconds, at least) that tell which region served users.
ROLE_LOOKBACK_S = 2.0


# ------------------------------------------------------------------------- the fault
def fault_start(journal: Journal) -> float | None:
    """t0: when the impairment action started (its end when a journal lacks the start)."""
    return journal.t0


def fault_window(journal: Journal) -> tuple[float | None, float | None]:
    """(opens, closes): the end of the run activity before the fault (else the journal's
    start), and the start of the first rollback (else the journal's end)."""
    fault = journal.fault
    if fault is None:
        return None, None
    opens = journal.start
    for a in journal.activities:
        if a is fault:
            break
        if a.phase in ("steady-before", "run") and a.end is not None:
            opens = a.end if opens is None else max(opens, a.end)
    t0 = fault_start(journal)
    if opens is not None and t0 is not None:
        opens = min(opens, t0)
    rollbacks = [a.start for a in journal.rollbacks if a.start is not None]
    return opens, min(rollbacks) if rollbacks else journal.end


def _between(time: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or time >= lo) and (hi is None or time < hi)


def _events(
    events: Iterable[dict[str, Any]], lo: float | None, hi: float | None, test: Callable[..., bool]
) -> list[dict[str, Any]]:
    return [e for e in events if _between(float(e["time"]), lo, hi) and test(e)]


# ----------------------------------------------------------------------------- writers
def writer_before(
    journal: Journal, samples: Sequence[Sample], lab_events: Sequence[dict[str, Any]]
) -> Event | None:
    """The writer in place when the fault's window opened."""
    opens, closes = fault_window(journal)
    if opens is None:
        return None
    earlier = _events(lab_events, None, opens, lambda e: e.get("kind") == "writer")
    if earlier:
        return Event(
            float(earlier[-1]["time"]), "lab log (writer)", {"region": earlier[-1]["region"]}
        )
    later = _events(lab_events, opens, closes, lambda e: e.get("kind") == "writer")
    if later and later[0].get("previous"):
        return Event(opens, "lab log (writer, previous)", {"region": later[0]["previous"]})
    t0 = fault_start(journal) or opens
    sample = _last(samples, "writer_region", opens) or next(
        (s for s in samples if s.probe == "writer_region" and opens <= s.time < t0), None
    )
    if sample is not None and isinstance(sample.value, str):
        return Event(sample.time, f"probe samples ({sample.probe})", {"region": sample.value})
    return None


def promotion(
    journal: Journal, samples: Sequence[Sample], lab_events: Sequence[dict[str, Any]],
    before: str | None,
) -> Event | None:  # fmt: skip
    """The writer change the fault caused: the first in the fault's window, from the lab's
    log first, else the writer-region samples (``describe_global_clusters``)."""
    opens, closes = fault_window(journal)
    if opens is None:
        return None
    changed = _events(
        lab_events, opens, closes,
        lambda e: e.get("kind") == "writer" and (before is None or e.get("region") != before),
    )  # fmt: skip
    if changed:
        e = changed[0]
        return Event(float(e["time"]), "lab log (writer)", {"region": e["region"]})
    if lab_events:
        return None  # the lab's log is the ground truth: no change logged, no promotion
    old = before
    for s in samples:
        if s.probe != "writer_region" or not isinstance(s.value, str):
            continue
        if s.time < opens or old is None:
            old = old or s.value
        elif _between(s.time, opens, closes) and old is not None and s.value != old:
            return Event(s.time, "probe samples (writer_region)", {"region": s.value})
    return None


# ------------------------------------------------------------------------------- roles
def _majority(rows: Iterable[BinRow]) -> str | None:
    counts: dict[str, int] = {}
    for row in rows:
        for region, n in row.regions.items():
            counts[region] = counts.get(region, 0) + n
    return max(sorted(counts.items()), key=lambda kv: kv[1])[0] if counts else None


def drill_roles(
    t0: float | None, bins: Sequence[BinRow], recovered_at: float | None, window_lab_s: float,
    writer_was: Event | None, promoted: Event | None, samples: Sequence[Sample],
) -> Roles:  # fmt: skip
    """Who did what (see the module docstring); what cannot be told is named, not guessed."""
    missing: list[str] = []
    if t0 is None:
        return Roles(None, None, None, None, ("the fault's start (no impairment action)",))
    look = max(ROLE_LOOKBACK_S, window_lab_s)
    left = _majority(r for r in bins if t0 - look - 1 < r.t < t0 // 1)
    if left is None:
        dns = _last(samples, "dns_answer", t0)
        left = dns.value.get("region") if dns and isinstance(dns.value, dict) else None
    if left is None:
        missing.append("the region users left (no request served before the fault)")
    if recovered_at is not None:
        after = [r for r in bins if recovered_at // 1 <= r.t <= recovered_at + look]
    else:
        last = bins[-1].t if bins else 0.0
        after = [r for r in bins if r.t > max(t0, last - look)]
    reached = _majority(after)
    if reached is None:
        missing.append("the region users reached (no request served after the fault)")
    elif reached == left:
        reached = None  # users did not move
    w_before = str(writer_was.detail["region"]) if writer_was else None
    w_after = str(promoted.detail["region"]) if promoted else w_before
    if w_before is None and promoted is None:
        missing.append("the writer region (no writer-region sample or lab log)")
    return Roles(left, reached, w_before, w_after, tuple(missing))


# ---------------------------------------------------------------------- provider phases
def _last(samples: Iterable[Sample], probe: str, before: float) -> Sample | None:
    found = None
    for s in samples:
        if s.probe == probe and s.time < before:
            found = s
    return found


def route53_unhealthy(
    t0: float, closes: float | None, region: str | None, samples: Sequence[Sample],
    lab_events: Sequence[dict[str, Any]],
) -> tuple[Event | None, str]:  # fmt: skip
    """Route 53's own status flip to unhealthy for the region users left, and its label."""
    flips = _events(
        lab_events, t0, closes,
        lambda e: e.get("kind") == "health" and e.get("healthy") is False
        and region in (None, e.get("region")),
    )  # fmt: skip
    if flips:
        return Event(float(flips[0]["time"]), "lab log (health)"), "Route 53 status unhealthy"
    if lab_events:
        return None, ""  # the lab's log is the ground truth: no flip logged, none claimed
    for s in samples:
        if s.probe == "health_check" and s.time >= t0 and region in (None, s.subject):
            value = s.value if isinstance(s.value, dict) else {}
            if value.get("route53_status") == 0:
                return Event(s.time, "probe samples (CloudWatch HealthCheckStatus)"), (
                    "Route 53 status unhealthy"
                )
    return None, ""


def first_checker_failure(t0: float, region: str | None, samples: Sequence[Sample]) -> Event | None:
    """The first sample whose checkers' observations computed unhealthy (leads Route 53's
    status by up to FailureThreshold - 1 intervals: a separate, earlier phase)."""
    for s in samples:
        failed = isinstance(s.value, dict) and s.value.get("healthy") is False
        if s.probe == "health_check" and s.time >= t0 and region in (None, s.subject) and failed:
            return Event(s.time, f"probe samples ({s.subject})")
    return None


def service_dns_change(
    t0: float, closes: float | None, service: str | None, lab_events: Sequence[dict[str, Any]]
) -> Event | None:
    """The service record's answer change in the lab's log (not any record's)."""
    if not service:
        return None
    name = service.rstrip(".")
    moved = _events(
        lab_events, t0, closes,
        lambda e: e.get("kind") == "dns" and str(e.get("name", "")).rstrip(".") == name
        and e.get("previous") is not None and e.get("answer") != e.get("previous"),
    )  # fmt: skip
    if not moved:
        return None
    return Event(float(moved[0]["time"]), "lab log (dns)", {"answer": moved[0].get("answer")})


def dns_answered(t0: float, region: str | None, samples: Sequence[Sample]) -> Event | None:
    """The first DNS probe sample after t0 naming ``region``."""
    for s in samples:
        named = isinstance(s.value, dict) and s.value.get("region") == region
        if s.probe == "dns_answer" and s.time >= t0 and region is not None and named:
            return Event(s.time, f"probe samples ({s.subject})")
    return None


# ------------------------------------------------------------------ lag and the floors
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def build_floors(
    run: RunInfo, samples: Sequence[Sample], t0: float | None, roles: Roles, speed: float,
    promoted: float | None,
) -> Floors:  # fmt: skip
    """Floors in AWS seconds; lag before the fault (samples taken before t0 only) and, after
    it, toward the region users moved to while it was still a reader."""
    f = run.floors
    interval, threshold, ttl = (
        f.get("health_check_interval_s"),
        f.get("failure_threshold"),
        f.get("ttl_s"),
    )
    floor = None
    if interval is not None and threshold is not None and ttl is not None:
        floor = interval * threshold + ttl
    last = maximum = None
    after: tuple[tuple[float, float], ...] = ()
    subject = None
    if t0 is not None:
        lags = sorted(
            (s for s in samples if s.probe == "replication_lag" and _is_number(s.value)),
            key=lambda s: s.time,
        )
        before = [s for s in lags if s.time < t0]
        if before:
            last = float(before[-1].value) * speed
            steady = [s for s in before if s.time >= t0 - STEADY_SECONDS / speed]
            maximum = max((float(s.value) * speed for s in steady), default=None)
        # failing over then would have lost this much: only before any promotion, and
        # toward the region users moved to when they moved (the subject is "writer->reader")
        after = tuple(
            ((s.time - t0) * speed, float(s.value) * speed)
            for s in lags
            if s.time >= t0
            and (promoted is None or s.time < promoted)
            and (roles.users_to is None or s.subject.endswith(f"->{roles.users_to}"))
        )
        subject = next((s.subject for s in lags if s.time >= t0), None)
    return Floors(
        interval, threshold, ttl, floor, f.get("lab_speed"), last, maximum, after, subject
    )
