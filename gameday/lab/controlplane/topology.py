"""The global database's topology: which region writes, and how that changes over time.

Both operations run on the lab's clock (:mod:`gameday.lab.clock`) for the durations the
lab is configured with (AWS seconds, defaults and their source in
:mod:`gameday.lab.config`), and report what AWS reports while they run:

* ``FailoverState.Status``: ``pending`` (the request is verified: the target must answer)
  for the first tenth of the duration, then ``failing-over`` or ``switching-over``, then
  no ``FailoverState`` once the new writer takes writes; ``cancelling`` briefly when a
  switchover cannot complete;
* the global cluster's ``Status``: ``failing-over`` / ``switching-over``, then ``available``;
* each member's ``SynchronizationStatus``: ``connected``, or ``pending-resync`` for an old
  primary after a failover until it has caught up with the new writer.

* Unplanned failover (``failover_global_cluster`` with ``AllowDataLoss``): the old writer
  is fenced at once (it becomes a reader and moves aside whatever it acknowledged but never
  shipped); changes in flight on the link are dropped (the data loss AWS warns about); no
  region takes writes until the target is promoted at the end of the duration; then
  replication flows from the new writer and the old primary resynchronises.
* Planned switchover (``switchover_global_cluster``, or ``failover_global_cluster``
  without ``AllowDataLoss``): after ``pending`` the old writer stops taking writes, the
  link drains, and the roles swap at the end of the duration (or once drained, if later).
  Nothing is lost. If the link cannot drain within :data:`SWITCHOVER_TIMEOUT` lab seconds
  the switchover is cancelled and the old writer keeps its role.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from gameday.lab.clock import LabClock
from gameday.lab.controlplane import motoext
from gameday.lab.events import EventLog
from gameday.lab.region.client import RegionClient, RegionControlError
from gameday.lab.region.replication import ReplicationLink

#: Lab seconds a switchover waits for the link to drain before it is cancelled.
SWITCHOVER_TIMEOUT = 30.0
#: The share of an operation's duration spent in ``pending`` (verifying the request).
PENDING_SHARE = 0.1
#: How often the topology's timers and the resync watcher look (lab seconds).
TICK = 0.02


@dataclass(frozen=True)
class Member:
    """A region's cluster in the global database."""

    region: str
    cluster_arn: str


@dataclass(frozen=True)
class FailoverTiming:
    """How long each operation takes, in lab seconds."""

    failover: float = 0.0
    switchover: float = 0.0

    @classmethod
    def from_aws(cls, clock: LabClock, failover: float, switchover: float) -> FailoverTiming:
        """Durations given in AWS seconds, on the lab's clock."""
        return cls(clock.aws_to_lab(failover), clock.aws_to_lab(switchover))


class Topology:
    """Applies writer changes requested through the control plane to the regions."""

    def __init__(
        self,
        global_cluster_id: str,
        members: list[Member],
        clients: dict[str, RegionClient],
        link: ReplicationLink,
        events: EventLog,
        on_change: Callable[[dict[str, str]], None],
        timing: FailoverTiming = FailoverTiming(),
    ) -> None:
        self.global_cluster_id = global_cluster_id
        self.members = members
        self._clients = clients
        self._link = link
        self._events = events
        self._on_change = on_change
        self._timing = timing
        self._lock = threading.Lock()
        # region -> (shipped seq, fence request id) of a demotion not yet confirmed
        self._pending: dict[str, tuple[int, str]] = {}
        self._pending_lock = threading.Lock()
        self._enforcer: threading.Thread | None = None
        self._resyncing: set[str] = set()
        self._resync_lock = threading.Lock()
        self._resyncer: threading.Thread | None = None
        self._stop = threading.Event()
        self.busy = False

    def region_of(self, cluster_arn: str) -> str | None:
        return next((m.region for m in self.members if m.cluster_arn == cluster_arn), None)

    def arn_of(self, region: str) -> str:
        return next(m.cluster_arn for m in self.members if m.region == region)

    def roles(self) -> dict[str, str]:
        writer = motoext.global_cluster_writer(self.global_cluster_id)
        return {m.region: "writer" if m.cluster_arn == writer else "reader" for m in self.members}

    def begin(self, from_arn: str, to_arn: str, allow_data_loss: bool) -> None:
        """Start a failover (data loss allowed) or switchover in the background."""
        self.busy = True
        target = self._failover if allow_data_loss else self._switchover
        threading.Thread(
            target=target, args=(from_arn, to_arn), name="global-failover", daemon=True
        ).start()

    def stop(self) -> None:
        self._stop.set()

    # -- the clock ----------------------------------------------------------------------

    def _phase(self, status: str) -> None:
        """Move ``FailoverState.Status`` on (the rest of the state stays as requested)."""
        motoext.update_failover_status(self.global_cluster_id, status)
        self._events.emit("global-cluster", cluster=self.global_cluster_id, failover_state=status)

    def _until(self, deadline: float) -> None:
        """Wait until ``deadline`` (time.time()) on the lab's clock, or the lab stops."""
        while not self._stop.is_set():
            left = deadline - time.time()
            if left <= 0:
                return
            self._stop.wait(min(left, TICK))

    # -- unplanned failover ---------------------------------------------------------------

    def _failover(self, from_arn: str, to_arn: str) -> None:
        old, new = self.region_of(from_arn), self.region_of(to_arn)
        assert old is not None and new is not None
        with self._lock:
            started = time.time()
            motoext.set_global_cluster_status(self.global_cluster_id, "failing-over")
            try:
                new_seq = self._max_seq(new)
            except RegionControlError as exc:
                self._cancel(
                    old, new, started, "failover", f"the target {new} is unreachable: {exc}"
                )
                return
            previous = self._link.point(new, old, from_seq=new_seq)
            shipped = previous.shipped_seq if previous.source == old else 0
            discarded = self._demote(old, shipped)
            self._set_sync(old, "pending-resync")
            self._until(started + PENDING_SHARE * self._timing.failover)
            self._phase("failing-over")
            self._until(started + self._timing.failover)
            self._promote(new)
            self._finish(
                old,
                new,
                started,
                "failover",
                lost_on_old_writer=discarded,
                in_flight_dropped=len(previous.dropped),
            )
            self._watch_resync(old)

    def _promote(self, region: str) -> None:
        try:
            self._clients[region].set_role("writer")
        except RegionControlError as exc:
            # The control plane has promoted it; a region that answers again (or is
            # restarted) takes the role the global database gives it.
            self._events.emit("lab-error", component="topology", error=f"promoting {region}: {exc}")

    def _demote(self, region: str, shipped: int) -> int | None:
        """Fence the old writer: it becomes a reader and moves its unshipped writes aside.

        An unreachable old writer (hung, or black-holed from the lab) is fenced as soon as it
        answers again, by the enforcer thread, as Aurora demotes an old primary that comes
        back; a killed one stays fenced by being gone. Returns how many writes it lost, or
        None when that is not known yet.
        """
        fence = uuid.uuid4().hex
        try:
            reply = self._clients[region].set_role(
                "reader", discard_after_seq=shipped, request_id=fence
            )
            return int(reply["discarded"])
        except RegionControlError:
            with self._pending_lock:
                self._pending[region] = (shipped, fence)
            self._ensure_enforcer()
            return None

    def _ensure_enforcer(self) -> None:
        if self._enforcer is None or not self._enforcer.is_alive():
            self._enforcer = threading.Thread(
                target=self._enforce, name="topology-fence", daemon=True
            )
            self._enforcer.start()

    def _enforce(self) -> None:
        """Retry pending demotions until they succeed (or the lab stops)."""
        while not self._stop.wait(0.2):
            with self._pending_lock:
                pending = dict(self._pending)
            if not pending:
                return
            for region, (shipped, fence) in pending.items():
                try:
                    reply = self._clients[region].set_role(
                        "reader", discard_after_seq=shipped, request_id=fence
                    )
                except RegionControlError:
                    continue
                with self._pending_lock:
                    self._pending.pop(region, None)
                self._events.emit(
                    "writer-fenced", region=region, lost_on_old_writer=reply["discarded"]
                )

    # -- resynchronisation of an old primary ----------------------------------------------

    def _set_sync(self, region: str, status: str) -> None:
        motoext.set_member_synchronization(self.global_cluster_id, self.arn_of(region), status)

    def _watch_resync(self, region: str) -> None:
        """Keep ``region`` in ``pending-resync`` until it is fenced and has caught up."""
        with self._resync_lock:
            self._resyncing.add(region)
            if self._resyncer is None or not self._resyncer.is_alive():
                self._resyncer = threading.Thread(
                    target=self._resync_loop, name="topology-resync", daemon=True
                )
                self._resyncer.start()

    def _resync_loop(self) -> None:
        while not self._stop.wait(TICK * 5):
            with self._resync_lock:
                waiting = set(self._resyncing)
            if not waiting:
                return
            for region in waiting:
                with self._pending_lock:
                    fenced = region not in self._pending
                status = self._link.status()
                if fenced and status.target == region and self._link.caught_up():
                    with self._resync_lock:
                        self._resyncing.discard(region)
                    self._set_sync(region, "connected")
                    self._events.emit("resynchronised", region=region)

    # -- planned switchover ---------------------------------------------------------------

    def _switchover(self, from_arn: str, to_arn: str) -> None:
        old, new = self.region_of(from_arn), self.region_of(to_arn)
        assert old is not None and new is not None
        with self._lock:
            started = time.time()
            motoext.set_global_cluster_status(self.global_cluster_id, "switching-over")
            try:
                self._max_seq(new)
            except RegionControlError as exc:
                self._cancel(
                    old, new, started, "switchover", f"the target {new} is unreachable: {exc}"
                )
                return
            self._until(started + PENDING_SHARE * self._timing.switchover)
            self._phase("switching-over")
            try:
                self._clients[old].set_role("reader")
            except RegionControlError as exc:
                self._cancel(
                    old, new, started, "switchover", f"the writer {old} is unreachable: {exc}"
                )
                return
            if not self._link.wait_caught_up(SWITCHOVER_TIMEOUT):
                self._clients[old].set_role("writer")
                self._cancel(
                    old,
                    new,
                    started,
                    "switchover",
                    f"replication to {new} did not catch up within {SWITCHOVER_TIMEOUT:.0f} s",
                )
                return
            self._until(started + self._timing.switchover)
            try:
                new_seq = self._max_seq(new)
                self._clients[new].set_role("writer")
            except RegionControlError as exc:
                self._clients[old].set_role("writer")
                self._cancel(
                    old, new, started, "switchover", f"the target {new} is unreachable: {exc}"
                )
                return
            self._link.point(new, old, from_seq=new_seq)
            self._finish(old, new, started, "switchover")

    def _max_seq(self, region: str) -> int:
        return int(self._clients[region].state()["max_seq"])

    def _finish(self, old: str, new: str, started: float, how: str, **details: object) -> None:
        # Order matters to observers: roles and the event first, then the lab is free for
        # the next operation, and clearing FailoverState (what AWS callers poll) comes last.
        motoext.set_global_cluster_writer(self.global_cluster_id, self.arn_of(new))
        self._on_change(self.roles())
        self._events.emit("writer", region=new, previous=old, how=how, started=started, **details)
        self.busy = False
        motoext.set_global_cluster_status(self.global_cluster_id, "available")
        motoext.set_failover_state(self.global_cluster_id, None)

    def _cancel(self, old: str, new: str, started: float, how: str, reason: str) -> None:
        self._phase("cancelling")
        self._on_change(self.roles())
        self._events.emit(
            "writer-unchanged",
            region=old,
            target=new,
            how=how,
            started=started,
            reason=reason,
        )
        self.busy = False
        motoext.set_global_cluster_status(self.global_cluster_id, "available")
        motoext.set_failover_state(self.global_cluster_id, None)
