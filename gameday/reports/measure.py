"""Measured RTO and RPO: pure arithmetic over typed records (no I/O, no clock).

Definitions (DESIGN.md, "Measured RTO and RPO", sharpened here):

* A request's **outcome** (:func:`classify`): ``ok``; ``failed`` (no answer at all, i.e.
  status 0, or a 5xx, including a reader refusing a write); ``lost-read`` (a 404 reading an
  id the client had written and seen acknowledged: a symptom of data loss, counted under
  RPO, not an availability failure); ``client-error`` (any other 4xx, reported on its own).
  Only ``ok`` and ``failed`` enter a success ratio.
* **t0** is when the impairment action *started* (:mod:`gameday.reports.timeline`).
* **Sustained recovery** and **RTO = t_r - t0**: :mod:`gameday.reports.recovery`.
* **RPO**: :mod:`gameday.reports.analysis` (the later of t0 and the newest lost write
  acknowledged before the promotion, minus the oldest lost write's ack).

:class:`LedgerPass` consumes the ledger once, in start order, and keeps only per-second
aggregates, a bounded latency histogram per second, the recovery scanners' sliding windows
(requests-per-second x W records) and counters: memory follows the run's length in
seconds and its writes to audit, never its number of requests. Every second between the
first and the last request is a row, a second without requests a row of zeros: a chart
drawn from the rows never carries a value across a silence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gameday.load.ledger import ACK_STATUSES, LedgerRecord
from gameday.reports.objectives import Objectives
from gameday.reports.recovery import Recovery, RecoveryScanner
from gameday.reports.runfiles import Request

#: A ledger record: the load's dataclass, or the reader's faster tuple with the same fields.
Record = LedgerRecord | Request

OK, FAILED, LOST_READ, CLIENT_ERROR = "ok", "failed", "lost-read", "client-error"
OUTCOMES = (OK, FAILED, LOST_READ, CLIENT_ERROR)
COHORTS = ("ttl", "sticky")
STEADY_SECONDS = 30.0  # length of the steady-state windows before the fault and at the end
SAMPLE_IDS = 20  # ids kept as a sample of each list (full lists stay in audit.json)


def classify(record: Record) -> str:
    """The outcome of one request (see the module docstring)."""
    status = record.status
    if status == 404 and record.op == "read" and record.write_id:
        return LOST_READ
    if status == 0 or status >= 500:
        return FAILED
    if 400 <= status < 500:
        return CLIENT_ERROR
    return OK if record.ok else FAILED


# ---------------------------------------------------------------------- latency histogram
_LOG_BASE = math.log(1.05)
_MIN_MS = 0.1
HIST_BUCKETS = 400  # 0.1 ms .. ~30 min at 5 % resolution: bounded whatever the run


def latency_bucket(ms: float) -> int:
    if ms <= _MIN_MS:
        return 0
    return min(HIST_BUCKETS - 1, int(math.log(ms / _MIN_MS) / _LOG_BASE) + 1)


def bucket_upper_ms(bucket: int) -> float:
    return _MIN_MS * 1.05**bucket


def percentile(hist: dict[int, int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a sparse bucket histogram, as its bucket's upper bound
    (at most 5 % above the true value). None when empty."""
    total = sum(hist.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return bucket_upper_ms(bucket)
    return bucket_upper_ms(max(hist))


# ---------------------------------------------------------------------- the ledger pass
@dataclass
class _Bin:
    counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    regions: dict[str, int] = field(default_factory=dict)
    latency: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BinRow:
    """One second of the run: requests (by start) per outcome and serving region, latency."""

    t: float  # the second's start (unix)
    ok: int
    failed: int
    lost_read: int
    client_error: int
    regions: dict[str, int]
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class WriteMark:
    id: str
    time: float
    region: str | None


@dataclass(frozen=True)
class CohortResult:
    cohort: str
    requests: int
    recovery: Recovery
    first_after_t0: dict[str, float]  # region -> this cohort's first request at/after t0


@dataclass(frozen=True)
class SteadyState:
    """Requests that started in [since, until): the steady state before or after."""

    since: float
    until: float
    requests: int
    failed: int
    success_ratio: float | None
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    regions: dict[str, int]


@dataclass(frozen=True)
class LedgerFacts:
    """Everything measured from the ledger in one pass."""

    requests: int
    outcomes: dict[str, int]
    first_start: float | None
    last_end: float | None
    bins: tuple[BinRow, ...]
    recovery: Recovery
    cohorts: tuple[CohortResult, ...]
    regions_before_t0: dict[str, int]
    first_after_t0: dict[str, float]  # region -> first request start at or after t0
    first_write_after_t0: WriteMark | None
    refused_writes: dict[str, tuple[int, float, float]]  # region -> (count, first, last) after t0
    acked_after_promotion: dict[str, tuple[int, tuple[WriteMark, ...]]]  # region -> count, sample
    acked_writes: int
    found_after_oldest_lost: int  # acked, not lost, by the lost writes' region, after it
    lost_reads: int
    first_lost_read: float | None
    latency_all: dict[int, int]


class LedgerPass:
    """Feed every ledger record once (start order); :meth:`result` gives :class:`LedgerFacts`.

    ``promotion`` (when known) enables split-brain counting; ``lost`` (ids from the audit)
    and ``oldest_lost`` enable the non-suffix check.
    """

    def __init__(
        self,
        t0: float | None,
        objectives: Objectives,
        *,
        promotion: float | None = None,
        lost: frozenset[str] = frozenset(),
        oldest_lost: WriteMark | None = None,
        speed: float = 1.0,
    ) -> None:
        self.t0 = t0
        self.objectives = objectives
        self.promotion = promotion
        self.lost = lost
        self.oldest_lost = oldest_lost
        self.all = RecoveryScanner(t0, objectives, speed)
        self.by_cohort = {c: RecoveryScanner(t0, objectives, speed) for c in COHORTS}
        self.cohort_requests = dict.fromkeys(COHORTS, 0)
        self.cohort_first: dict[tuple[str, str], float] = {}
        self.bins: dict[int, _Bin] = {}
        self.requests = 0
        self._counts = [0, 0, 0, 0]  # per OUTCOMES index
        self._second: int | None = None  # the bin of the last record (records come in order)
        self._bin = _Bin()
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.regions_before: dict[str, int] = {}
        self.first_after: dict[str, float] = {}
        self.first_write: WriteMark | None = None
        self.refused: dict[str, list[float]] = {}
        self.split: dict[str, list[Any]] = {}
        self.acked = 0
        self.found_after_lost = 0
        self.lost_reads = 0
        self.first_lost_read: float | None = None
        self.latency_all: dict[int, int] = {}

    def feed(self, r: Record) -> None:
        """One record (records must come in start order)."""
        self.feed_many((r,))

    def feed_many(self, records: Iterable[Record]) -> None:
        """Records in start order. The hot loop of a report: attribute lookups are hoisted
        into locals, and per-second aggregates are reached through the current bin."""
        counts, bins, t0 = self._counts, self.bins, self.t0
        all_feed, by_cohort = self.all.feed, self.by_cohort
        cohort_requests, first_after, cohort_first = self.cohort_requests, self.first_after, self.cohort_first  # fmt: skip
        regions_before, refused = self.regions_before, self.refused
        log, floor_ms, log_base, top = math.log, _MIN_MS, _LOG_BASE, HIST_BUCKETS - 1
        second_now, b = self._second, self._bin
        n = 0
        last_end = self.last_end if self.last_end is not None else -math.inf
        for r in records:
            n += 1
            status = r.status
            if status == 404 and r.op == "read" and r.write_id:
                outcome = 2  # LOST_READ
            elif status == 0 or status >= 500:
                outcome = 1  # FAILED
            elif 400 <= status < 500:
                outcome = 3  # CLIENT_ERROR
            else:
                outcome = 0 if r.ok else 1
            start = r.start
            counts[outcome] += 1
            if self.first_start is None:
                self.first_start = start
            if r.end > last_end:
                last_end = r.end
            second = int(start // 1)
            if second != second_now:
                b = bins.get(second)
                if b is None:
                    b = bins[second] = _Bin()
                second_now = second
            b.counts[outcome] += 1
            region = r.region
            if region:
                b.regions[region] = b.regions.get(region, 0) + 1
            ms = r.latency_ms
            bucket = 0 if ms <= floor_ms else min(top, int(log(ms / floor_ms) / log_base) + 1)
            b.latency[bucket] = b.latency.get(bucket, 0) + 1
            cohort = r.cohort
            if cohort not in cohort_requests:
                cohort = "ttl"
            cohort_requests[cohort] += 1
            after = t0 is not None and start >= t0
            if outcome < 2:
                if after:
                    ok = outcome == 0
                    all_feed(start, ok)
                    by_cohort[cohort].feed(start, ok)
            elif outcome == 2:
                self.lost_reads += 1
                if self.first_lost_read is None:
                    self.first_lost_read = start
            if region:
                if after:
                    if region not in first_after:
                        first_after[region] = start
                    key = (cohort, region)
                    if key not in cohort_first:
                        cohort_first[key] = start
                elif t0 is not None:
                    regions_before[region] = regions_before.get(region, 0) + 1
            if r.op == "write":
                if r.ok and status in ACK_STATUSES and r.write_id is not None:
                    self._acked(r, after)
                elif after and (status == 503 or (status >= 500 and region)):
                    span = refused.get(region or "?")
                    if span is None:
                        refused[region or "?"] = [1, start, start]
                    else:
                        span[0] += 1
                        span[2] = start
        self.requests += n
        self._second, self._bin = second_now, b
        if n:
            self.last_end = last_end

    def _acked(self, r: Record, after: bool) -> None:
        self.acked += 1
        write_id = r.write_id or ""
        if after and self.first_write is None:
            self.first_write = WriteMark(write_id, r.end, r.region)
        promotion = self.promotion
        if promotion is not None and r.end > promotion:
            entry = self.split.setdefault(r.region or "?", [0, []])
            entry[0] += 1
            if len(entry[1]) < SAMPLE_IDS:
                entry[1].append(WriteMark(write_id, r.end, r.region))
        oldest = self.oldest_lost
        if (
            oldest is not None
            and r.end > oldest.time
            and r.region == oldest.region
            and (promotion is None or r.end <= promotion)
            and write_id not in self.lost
        ):
            self.found_after_lost += 1

    def result(self) -> LedgerFacts:
        until = self.last_end if self.last_end is not None else 0.0
        rows = []
        empty = _Bin()
        for second in _seconds(self.bins):
            b = self.bins.get(second, empty)  # a second without requests is a row of zeros
            for bucket, n in b.latency.items():
                self.latency_all[bucket] = self.latency_all.get(bucket, 0) + n
            rows.append(
                BinRow(float(second), *b.counts, dict(b.regions),
                       percentile(b.latency, 0.5), percentile(b.latency, 0.95), percentile(b.latency, 0.99))
            )  # fmt: skip
        cohorts = tuple(
            CohortResult(
                c, self.cohort_requests[c], self.by_cohort[c].finish(until),
                {region: t for (k, region), t in self.cohort_first.items() if k == c},
            )
            for c in COHORTS
            if self.cohort_requests[c]
        )  # fmt: skip
        return LedgerFacts(
            requests=self.requests,
            outcomes=dict(zip(OUTCOMES, self._counts, strict=True)),
            first_start=self.first_start,
            last_end=self.last_end,
            bins=tuple(rows),
            recovery=self.all.finish(until),
            cohorts=cohorts,
            regions_before_t0=dict(self.regions_before),
            first_after_t0=dict(self.first_after),
            first_write_after_t0=self.first_write,
            refused_writes={k: (int(v[0]), v[1], v[2]) for k, v in self.refused.items()},
            acked_after_promotion={k: (v[0], tuple(v[1])) for k, v in self.split.items()},
            acked_writes=self.acked,
            found_after_oldest_lost=self.found_after_lost,
            lost_reads=self.lost_reads,
            first_lost_read=self.first_lost_read,
            latency_all=self.latency_all,
        )


#: Longest run filled second by second; past it only the seconds that bound a silence are.
MAX_FILLED_SECONDS = 7 * 86400


def _seconds(bins: dict[int, _Bin]) -> list[int]:
    """Every second from the first request to the last; for a longer span (a clock jump)
    the seconds that hold requests plus one zero second on each side of every silence."""
    held = sorted(bins)
    if not held or held[-1] - held[0] <= MAX_FILLED_SECONDS:
        return list(range(held[0], held[-1] + 1)) if held else []
    edges = set(held)
    for a, b in itertools.pairwise(held):
        if b - a > 1:
            edges.update((a + 1, b - 1))
    return sorted(edges)


def measure_ledger(
    records: Iterable[Record], t0: float | None, objectives: Objectives, **kw: Any
) -> LedgerFacts:
    """Convenience: one :class:`LedgerPass` over ``records`` (already in start order)."""
    p = LedgerPass(t0, objectives, **kw)
    p.feed_many(records)
    return p.result()


def steady_state(bins: Iterable[BinRow], since: float, until: float) -> SteadyState:
    """Aggregate the per-second rows whose second lies in [since, until)."""
    requests = failed = ok = 0
    regions: dict[str, int] = {}
    p50s: list[float] = []
    p99s: list[float] = []
    for row in bins:
        if not since <= row.t < until:
            continue
        ok += row.ok
        failed += row.failed
        requests += row.ok + row.failed + row.lost_read + row.client_error
        for k, v in row.regions.items():
            regions[k] = regions.get(k, 0) + v
        if row.p50_ms is not None:
            p50s.append(row.p50_ms)
        if row.p99_ms is not None:
            p99s.append(row.p99_ms)
    span = max(until - since, 1e-9)
    return SteadyState(
        since, until, requests, failed, ok / (ok + failed) if ok + failed else None,
        requests / span, _median(p50s), max(p99s) if p99s else None, regions,
    )  # fmt: skip


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
