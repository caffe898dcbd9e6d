"""Measured RTO and RPO: pure arithmetic over typed records (no I/O, no clock).

Definitions (DESIGN.md, "Measured RTO and RPO", sharpened here):

* A request's **outcome** (:func:`classify`): ``ok``; ``failed`` (no answer at all, i.e.
  status 0, or a 5xx, including a reader refusing a write); ``lost-read`` (a 404 reading an
  id the client had written and seen acknowledged: a symptom of data loss, counted under
  RPO, not an availability failure); ``client-error`` (any other 4xx, reported on its own).
  Only ``ok`` and ``failed`` enter a success ratio.
* **t0** is when the impairment action completed (the journal's ``end`` of it).
* **Sustained recovery** t_r is the start of the first window [s, s + W) with s the start
  of a *successful* request at or after t0, holding at least ``min_requests`` ok+failed requests with a
  success ratio at least ``success_threshold``, and lying wholly inside the observed ledger
  (s + W <= last request end), with no silence longer than W / 2 in it (between two of its
  requests or before its end). At request resolution, not per-second bins. A window only
  starts at a request, and a mostly silent one is not evidence, so a gap in the load is
  never taken for a recovery. **RTO = t_r - t0**.
  No failed request in [t0, t_r) is the result "no user-visible outage"; no such window in
  the ledger is "not recovered within the observation window".
* **RPO = promotion time - ack time of the oldest lost write** (0 when nothing was lost),
  where promotion is when the recovery region became the writer (probe samples, else the
  lab's events; t0 when neither knows, said so in ``basis``).

:class:`LedgerPass` consumes the ledger once, in start order, and keeps only per-second
aggregates, a bounded latency histogram per second, the recovery scanners' sliding windows
(requests-per-second x W records) and counters: memory follows the run's length in
seconds and its writes to audit, never its number of requests.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gameday.load.ledger import ACK_STATUSES, LedgerRecord
from gameday.reports.objectives import Objectives
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


# ------------------------------------------------------------------------- the recovery
@dataclass(frozen=True)
class Recovery:
    """The sustained-recovery result of one population (all requests, or one cohort)."""

    outcome: str  # "recovered" | "no-outage" | "not-recovered" | "no-fault" | "no-requests"
    t0: float | None
    recovered_at: float | None
    rto_s: float | None
    failed_after_t0: int  # failed requests in [t0, t_r) (or to the end when not recovered)
    requests_after_t0: int
    first_failure: float | None
    last_failure: float | None  # last failed request before t_r
    window_requests: int = 0  # requests in the recovery window
    window_ratio: float | None = None

    @property
    def error_share(self) -> float | None:
        return self.failed_after_t0 / self.requests_after_t0 if self.requests_after_t0 else None


class RecoveryScanner:
    """One-pass search for t_r over requests fed in start order (mutable; see module doc)."""

    def __init__(self, t0: float | None, objectives: Objectives) -> None:
        self.t0 = t0
        self.window = objectives.window_seconds
        self.threshold = objectives.success_threshold
        self.min_requests = objectives.min_requests
        self.max_silence = self.window / 2
        self._queue: deque[tuple[float, bool]] = deque()
        self._gaps: deque[float] = deque()  # starts of requests that followed a long silence
        self._last_start: float | None = None
        self._ok = 0
        self.recovered_at: float | None = None
        self._window_n = 0
        self._window_ratio: float | None = None
        self.requests = 0
        self.failed_before = 0  # failed in [t0, t_r)
        self.first_failure: float | None = None
        self.last_failure: float | None = None

    def _qualifies(self) -> bool:
        """The window starting at the head: it starts with a success (recovery begins at a
        request that worked), holds enough requests, and meets the threshold."""
        queue = self._queue
        n = len(queue)
        head = queue[0][0]
        end = head + self.window
        gaps = self._gaps
        while gaps and gaps[0] <= head:
            gaps.popleft()
        if (gaps and gaps[0] < end) or end - queue[-1][0] > self.max_silence:
            return False  # a silent stretch in the window: no evidence of recovery
        return queue[0][1] and n >= self.min_requests and self._ok >= self.threshold * n

    def _settle(self, head: float) -> None:
        self.recovered_at = head
        self._window_n = len(self._queue)
        self._window_ratio = self._ok / self._window_n
        self._queue.clear()

    def _drop_head(self) -> None:
        start, ok = self._queue.popleft()
        if ok:
            self._ok -= 1
        else:
            self.failed_before += 1
            if self.first_failure is None:
                self.first_failure = start
            self.last_failure = start

    def feed(self, start: float, ok: bool) -> None:
        """One ok/failed request (others do not enter ratios), in start order."""
        if self.t0 is None or start < self.t0:
            return
        self.requests += 1
        if self.recovered_at is not None:
            return
        if self._last_start is not None and start - self._last_start > self.max_silence:
            self._gaps.append(start)
        self._last_start = start
        queue = self._queue
        while queue and start >= queue[0][0] + self.window:
            if self._qualifies():
                self._settle(queue[0][0])
                return
            self._drop_head()
        queue.append((start, ok))
        if ok:
            self._ok += 1

    def finish(self, observed_until: float) -> Recovery:
        """Close the scan: windows that end by ``observed_until`` are still judged."""
        queue = self._queue
        while self.recovered_at is None and queue and queue[0][0] + self.window <= observed_until:
            if self._qualifies():
                self._settle(queue[0][0])
                break
            self._drop_head()
        while queue:  # not recovered: what is left are failures and successes after t0
            self._drop_head()
        if self.t0 is None:
            outcome = "no-fault"
        elif self.requests == 0:
            outcome = "no-requests"
        elif self.recovered_at is None:
            outcome = "not-recovered"
        elif self.failed_before == 0:
            outcome = "no-outage"
        else:
            outcome = "recovered"
        rto = None
        if self.recovered_at is not None and self.t0 is not None:
            rto = 0.0 if outcome == "no-outage" else max(0.0, self.recovered_at - self.t0)
        return Recovery(
            outcome, self.t0, self.recovered_at, rto, self.failed_before, self.requests,
            self.first_failure, self.last_failure, self._window_n, self._window_ratio,
        )  # fmt: skip


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
    ) -> None:
        self.t0 = t0
        self.objectives = objectives
        self.promotion = promotion
        self.lost = lost
        self.oldest_lost = oldest_lost
        self.all = RecoveryScanner(t0, objectives)
        self.by_cohort = {c: RecoveryScanner(t0, objectives) for c in COHORTS}
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
        cohort_requests, first_after, cohort_first = (
            self.cohort_requests,
            self.first_after,
            self.cohort_first,
        )
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
        for second in sorted(self.bins):
            b = self.bins[second]
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
