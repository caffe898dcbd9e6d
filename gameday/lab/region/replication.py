"""The inter-region replication link: asynchronous, source -> target, with a lag.

The link pulls the source's change log, holds each change until ``acked_at + lag`` and
then applies it to the target. The lag is a lab-only knob (``gameday lab set-lag``, which
takes AWS seconds; the link holds lab seconds, the supervisor converts): AWS has no fault
that delays Aurora's storage replication, so a drill that needs unshipped writes sets it
explicitly and says so.

While the link is blocked (a paused DynamoDB global table, in the DynamoDB tier) nothing
is pulled or delivered; when it opens again it catches up from where it stopped. A change
that was pulled but not yet applied is *in flight*: if the writer is failed over with data
loss, in-flight changes are dropped, exactly what AWS loses.

The Aurora tier runs one link, re-pointed from the writer on a role change. The DynamoDB
tier runs one link per direction; each ships only the writes its source region accepted
(``origin_only``) and the target merges them last-writer-wins.

The link runs as a supervised worker (:mod:`gameday.lab.workers`). A region that the lab
itself impaired (killed, stopped) is simply retried; any other failure (a peer that dies
mid-batch, an answer that is not what the protocol says) is a ``lab-error`` and a restart,
with the batch still in flight, never a silently dead link.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gameday.lab.events import EventLog
from gameday.lab.region.client import RegionClient, RegionControlError
from gameday.lab.workers import Worker

#: Returns why the link is blocked right now, or None when it flows.
BlockReason = Callable[[], str | None]


@dataclass
class LinkStatus:
    """Where the link stands (for status and for failover decisions)."""

    source: str
    target: str
    pulled_seq: int
    shipped_seq: int
    in_flight: int
    blocked: str | None


@dataclass
class Repoint:
    """What the link's previous direction left behind when it was re-pointed."""

    source: str | None
    dropped: list[dict[str, Any]]
    shipped_seq: int


class ReplicationLink:
    """Ships the writer's changes to the reader; one thread, re-pointed on role changes."""

    def __init__(
        self,
        clients: dict[str, RegionClient],
        lag: float,
        events: EventLog,
        blocked: BlockReason = lambda: None,
        period: float = 0.05,
        impaired: Callable[[str], bool] = lambda region: False,
        *,
        origin_only: bool = False,
        merge: str = "first-writer",
    ) -> None:
        self._clients = clients
        self._lag = lag
        self._origin_only = origin_only
        self._merge = merge
        self._events = events
        self._blocked = blocked
        self._period = period
        self._lock = threading.RLock()
        self._source: str | None = None
        self._target: str | None = None
        self._pulled = 0
        self._shipped = 0
        self._in_flight: deque[dict[str, Any]] = deque()
        self._was_blocked: str | None = None
        self._impaired = impaired
        self._worker = Worker("replication", self._tick, period, events)

    def point(self, source: str, target: str, from_seq: int | Callable[[], int]) -> Repoint:
        """Replicate from ``source`` (after ``from_seq``) to ``target`` from now on.

        Returns what the previous direction left: the in-flight changes dropped and the
        last sequence number it had shipped. ``from_seq`` may be a callable, evaluated
        once no delivery is under way.
        """
        with self._lock:
            previous = Repoint(self._source, list(self._in_flight), self._shipped)
            self._in_flight.clear()
            self._source, self._target = source, target
            self._pulled = self._shipped = from_seq() if callable(from_seq) else from_seq
            return previous

    def status(self) -> LinkStatus:
        with self._lock:
            return LinkStatus(
                source=self._source or "",
                target=self._target or "",
                pulled_seq=self._pulled,
                shipped_seq=self._shipped,
                in_flight=len(self._in_flight),
                blocked=self._blocked(),
            )

    def in_flight_ids(self) -> list[str]:
        """Ids pulled from the source and not yet applied at the target."""
        with self._lock:
            return [c["id"] for c in self._in_flight]

    def oldest_unshipped_age(self, now: float | None = None) -> float:
        """Lab seconds since the oldest change pulled and not yet applied was acknowledged
        (0 when nothing is waiting): how far the target is behind, as Aurora's RPO lag."""
        with self._lock:
            if not self._in_flight:
                return 0.0
            oldest = float(self._in_flight[0]["acked_at"])
        return max(0.0, (time.time() if now is None else now) - oldest)

    @property
    def lag(self) -> float:
        """The lab-only replication delay, in lab seconds."""
        return self._lag

    def set_lag(self, seconds: float, aws_seconds: float | None = None) -> None:
        """Change the lab-only replication delay to ``seconds`` lab seconds (``aws_seconds``
        as the user wrote it, for the event log); applies to changes not yet delivered."""
        with self._lock:
            previous, self._lag = self._lag, float(seconds)
        self._events.emit(
            "replication-lag",
            lab_only=True,
            lab_seconds=self._lag,
            aws_seconds=aws_seconds,
            previous_lab_seconds=previous,
            source=self._source,
            target=self._target,
        )

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._worker.join()

    def caught_up(self) -> bool:
        """True when everything the writer has is applied at the reader."""
        with self._lock:
            if self._source is None:
                return True
            source = self._source
            shipped = self._shipped
        try:
            return int(self._clients[source].state()["max_seq"]) <= shipped
        except RegionControlError:
            return False

    def wait_caught_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.caught_up():
                return True
            time.sleep(self._period)
        return False

    def _tick(self) -> None:
        reason = self._blocked()
        if reason != self._was_blocked:
            self._events.emit(
                "replication",
                state="blocked" if reason else "flowing",
                reason=reason,
                source=self._source,
                target=self._target,
            )
            self._was_blocked = reason
        if reason:
            return
        try:
            self._step()
        except RegionControlError:
            with self._lock:
                ends = (self._source, self._target)
            if any(r is not None and self._impaired(r) for r in ends):
                return  # the lab stopped or killed that region: retry next period
            raise

    def _step(self) -> None:
        # One lock for the whole step: re-pointing the link (a failover) waits for a
        # delivery under way, so "shipped" is exactly what the reader has applied.
        with self._lock:
            source, target = self._source, self._target
            if source is None or target is None:
                return
            batch = self._clients[source].changes(self._pulled)["changes"]
            for change in batch:
                self._in_flight.append(change)
                self._pulled = max(self._pulled, change["seq"])
            now = time.time()
            due = []
            while self._in_flight and self._in_flight[0]["acked_at"] + self._lag <= now:
                due.append(self._in_flight.popleft())
            if not due:
                return
            ship = [c for c in due if not self._origin_only or c["origin"] == source]
            try:
                if ship:
                    self._clients[target].apply(ship, self._merge)
            except RegionControlError:
                self._in_flight.extendleft(reversed(due))
                raise
            self._shipped = max(self._shipped, due[-1]["seq"])
