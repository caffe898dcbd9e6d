"""Sustained recovery t_r: one rule, for the report and for the drill control.

t_r is the start of the first window [s, s + W) with s the start of a *successful* request
at or after the first failed request after t0 (the impairment may hurt users only some time
after it started: a good window before that is not a recovery), holding at least
``min_requests`` ok+failed requests with a success ratio at least ``success_threshold``, lying wholly inside the observed ledger (s + W <= last request
end), with no silence longer than W / 2 in it. At request resolution, not per-second bins:
a window only starts at a request, and a mostly silent one is not evidence, so a gap in the
load is never taken for a recovery. **RTO = t_r - t0**; no failed request after t0 at all is
"no user-visible outage" (RTO 0, no t_r).

W is declared in AWS seconds; on a lab run at ``speed`` it lasts W / speed lab seconds
(:func:`scanner`). The control's "stop the load once recovered" asks the same
:class:`RecoveryScanner` (:func:`recovered_in`), so the load never stops before the report
finds its recovery.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from gameday.reports.objectives import Objectives


class _Request(Protocol):
    start: float
    end: float
    status: int
    ok: bool
    op: str
    write_id: str | None


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
    lab_rto_s: float | None = None  # the same RTO in lab seconds, on a compressed lab run

    def to_aws(self, speed: float) -> Recovery:
        """This result (measured in lab seconds) with its RTO in AWS seconds."""
        if speed == 1.0 or self.rto_s is None:
            return self
        return replace(self, rto_s=self.rto_s * speed, lab_rto_s=self.rto_s)

    @property
    def error_share(self) -> float | None:
        return self.failed_after_t0 / self.requests_after_t0 if self.requests_after_t0 else None


class RecoveryScanner:
    """One-pass search for t_r over requests fed in start order (mutable; see module doc)."""

    def __init__(self, t0: float | None, objectives: Objectives, speed: float = 1.0) -> None:
        self.t0 = t0
        self.window = objectives.window_seconds / speed  # lab seconds
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
        self._hurt = False  # a request failed at or after t0: the outage began
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
        if self.recovered_at is not None or (not self._hurt and ok):
            return  # before the first failure there is nothing to recover from
        self._hurt = True
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
        elif not self._hurt:
            outcome = "no-outage"
        elif self.recovered_at is None:
            outcome = "not-recovered"
        else:
            outcome = "recovered"
        rto = None
        if outcome == "no-outage":
            rto = 0.0
        elif self.recovered_at is not None and self.t0 is not None:
            rto = max(0.0, self.recovered_at - self.t0)
        return Recovery(
            outcome, self.t0, self.recovered_at, rto, self.failed_before, self.requests,
            self.first_failure, self.last_failure, self._window_n, self._window_ratio,
        )  # fmt: skip


def is_failure(status: int, ok: bool, op: str, write_id: str | None) -> bool | None:
    """True for a failed request, False for an ok one, None for those outside success
    ratios (a lost read, a client error): the outcome rule of :func:`measure.classify`."""
    if status == 404 and op == "read" and write_id:
        return None
    if status == 0 or status >= 500:
        return True
    if 400 <= status < 500:
        return None
    return not ok


def recovered_in(
    records: Iterable[_Request], t0: float, objectives: Objectives, speed: float = 1.0
) -> Recovery:
    """The recovery scan over ``records`` (start order), closed at their last end: what
    the control asks to decide when the load may stop."""
    scan = RecoveryScanner(t0, objectives, speed)
    last_end = t0
    for r in records:
        last_end = max(last_end, r.end)
        failed = is_failure(r.status, r.ok, r.op, r.write_id)
        if failed is not None:
            scan.feed(r.start, not failed)
    return scan.finish(last_end)
