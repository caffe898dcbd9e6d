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
  primary from its successor's promotion until its volume is rebuilt: the rebuild takes
  ``resync_seconds`` (drawn per failover from AWS's "minutes to hours", :mod:`..draws`)
  and ends no earlier than the old primary is fenced and caught up. Aurora keeps what the
  old primary had as an automated snapshot ``rds:unplanned-global-failover-<cluster>-<time>``
  (taken at the promotion here). A switchover or failover while a member is
  ``pending-resync`` is refused (:mod:`.rds`).

An unplanned failover's own duration is ``failover_seconds`` when configured, else drawn
per failover from AWS's "typically minutes" (:mod:`gameday.lab.draws`); every draw is a
``draw`` event.

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

The fence window (decided here, deterministic): the writer holds a *writer lease* of
``LabConfig.writer_lease`` lab seconds (1 s: 10 AWS seconds on the default clock), renewed
every eighth of a lease while the
global database names it the writer. A writer that cannot be reached at a failover (frozen
with ``stop-region``) is fenced only once its lease has ended (the fence carries
``not_before``), and it acknowledges writes only while its lease lasts. So after resuming
it acknowledges writes exactly until the end of the lease it held at the promotion, never
after, whatever order its queued requests are read in; AWS promises no instant fence either.
Each write an old writer acknowledged after the promotion is recorded when the fence lands,
as a ``split-brain-write`` event (id, acked_at, promoted_at), so the RPO audit can report it.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gameday.lab.clock import LabClock
from gameday.lab.controlplane import rds
from gameday.lab.controlplane.aurora import AuroraRegional
from gameday.lab.draws import Draws, new_seed
from gameday.lab.events import EventLog
from gameday.lab.region.client import RegionClient, RegionControlError
from gameday.lab.region.replication import ReplicationLink
from gameday.lab.workers import Worker

#: Lab seconds a switchover waits for the link to drain before it is cancelled.
SWITCHOVER_TIMEOUT = 30.0
#: The share of an operation's duration spent in ``pending`` (verifying the request).
PENDING_SHARE = 0.1
#: How often the topology's timers look (lab seconds).
TICK = 0.02
#: How long the failover-request worker waits on its queue before it looks at its stop flag
#: (lab seconds; a request is taken the moment it is queued).
REQUEST_WAIT = 0.5
#: How long a fence attempt waits for the old writer (a hung one answers never): a failover
#: does not wait on it longer than this, the fence worker retries.
FENCE_TIMEOUT = 0.3


@dataclass(frozen=True)
class Member:
    """A region's cluster in the global database."""

    region: str
    cluster_arn: str


@dataclass(frozen=True)
class FailoverTiming:
    """How long each operation takes, in lab seconds (None: drawn per operation)."""

    failover: float | None = 0.0
    switchover: float = 0.0
    #: Lab seconds an old primary's volume takes to rebuild after an unplanned failover.
    resync: float | None = 0.0
    #: AWS seconds of an in-region failover (the clock below scales it).
    in_region_aws: float = 30.0
    clock: LabClock = field(default_factory=lambda: LabClock(1))

    @classmethod
    def from_aws(
        cls,
        clock: LabClock,
        failover: float | None,
        switchover: float,
        resync: float | None = None,
        in_region: float = 30.0,
    ) -> FailoverTiming:
        """Durations given in AWS seconds (None: drawn), on the lab's clock."""

        def lab(seconds: float | None) -> float | None:
            return None if seconds is None else clock.aws_to_lab(seconds)

        return cls(lab(failover), clock.aws_to_lab(switchover), lab(resync), in_region, clock)

    @classmethod
    def from_config(cls, config: Any) -> FailoverTiming:
        """A lab configuration's durations (:class:`gameday.lab.config.LabConfig`)."""
        return cls.from_aws(
            config.clock,
            config.failover_seconds,
            config.switchover_seconds,
            config.resync_seconds,
            config.in_region_failover_seconds,
        )

    def drawn(self, configured: float | None, name: str, draws: Draws, **context: object) -> float:
        """Lab seconds: ``configured``, or the next draw of ``name`` (AWS seconds) scaled."""
        if configured is not None:
            return configured
        return self.clock.aws_to_lab(draws.draw(name, **context))


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
        lease: float = 1.0,
        timing: FailoverTiming = FailoverTiming(),
        draws: Draws | None = None,
    ) -> None:
        self.global_cluster_id = global_cluster_id
        self.members = members
        self._clients = clients
        self._fence_clients = {
            name: RegionClient(c.port, host=c.host, timeout=FENCE_TIMEOUT)
            for name, c in clients.items()
        }
        self._link = link
        self._events = events
        self._on_change = on_change
        self._lock = threading.Lock()
        # region -> (shipped seq, fence request id) of a demotion not yet confirmed
        self._pending: dict[str, tuple[int, str]] = {}
        self.lease = lease
        # region -> the latest lease end sent to it; region -> when its successor was promoted
        self._lease_sent: dict[str, float] = {}
        self._promoted_at: dict[str, float] = {}
        self._pending_lock = threading.Lock()
        self.busy = False
        self._timing = timing
        self._draws = draws or Draws(new_seed(), events)
        self._stop = threading.Event()
        # old primaries in pending-resync -> when their volume's rebuild ends (time.time())
        self._resyncing: dict[str, float] = {}
        self._resync_lock = threading.Lock()
        #: Failover requests accepted by the control plane (rds.install puts them here).
        self.requests: rds.Outbox = queue.Queue()
        self.regional = AuroraRegional(
            {m.region: m.cluster_arn.rsplit(":", 1)[-1] for m in members},
            clients,
            link,
            events,
            self.roles,
            timing.clock,
            timing.in_region_aws,
        )
        self._workers = [
            Worker("failover-requests", self._take_request, 0.0, events),
            Worker("writer-fence", self._enforce, 0.2, events),
            Worker("writer-lease", self._renew_lease, lease / 8, events),
            Worker("writer-resync", self._resync, TICK * 5, events),
        ]

    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        self.regional.start()

    def _take_request(self) -> None:
        """Carry out the next failover/switchover request (one at a time) as soon as it is
        queued: the step waits on the queue, not a polling period."""
        try:
            request = self.requests.get(timeout=REQUEST_WAIT)
        except queue.Empty:
            return
        if isinstance(request, rds.InRegionRequest):
            self.regional.handle(request)
            return
        try:
            self.begin(request.from_arn, request.to_arn, request.allow_data_loss)
        except BaseException:
            # never leave the global cluster stuck in FailoverState
            self.busy = False
            rds.set_failover_state(self.global_cluster_id, None)
            raise

    def _renew_lease(self) -> None:
        """Extend the writer's lease, unless a failover is under way or it is being fenced."""
        if self.busy:
            return
        writer = next((r for r, role in self.roles().items() if role == "writer"), None)
        with self._pending_lock:
            if writer is None or writer in self._pending:
                return
        until = time.time() + self.lease
        self._lease_sent[writer] = max(self._lease_sent.get(writer, 0.0), until)
        try:
            self._clients[writer].renew_lease(until)
        except RegionControlError:
            return  # frozen or gone: its lease runs out, as it should

    def region_of(self, cluster_arn: str) -> str | None:
        return next((m.region for m in self.members if m.cluster_arn == cluster_arn), None)

    def roles(self) -> dict[str, str]:
        writer = rds.global_cluster_writer(self.global_cluster_id)
        return {m.region: "writer" if m.cluster_arn == writer else "reader" for m in self.members}

    def arn_of(self, region: str) -> str:
        return next(m.cluster_arn for m in self.members if m.region == region)

    # -- the clock ----------------------------------------------------------------------

    def _phase(self, status: str) -> None:
        """Move ``FailoverState.Status`` on (the rest of the state stays as requested)."""
        rds.update_failover_status(self.global_cluster_id, status)
        self._events.emit("global-cluster", cluster=self.global_cluster_id, failover_state=status)

    def _until(self, deadline: float) -> None:
        """Wait until ``deadline`` (time.time()) on the lab's clock, or the lab stops."""
        while not self._stop.is_set():
            left = deadline - time.time()
            if left <= 0:
                return
            self._stop.wait(min(left, TICK))

    def begin(self, from_arn: str, to_arn: str, allow_data_loss: bool) -> None:
        """Carry out a failover (data loss allowed) or switchover."""
        self.busy = True
        if allow_data_loss:
            self._failover(from_arn, to_arn)
        else:
            self._switchover(from_arn, to_arn)

    def _failover(self, from_arn: str, to_arn: str) -> None:
        old, new = self.region_of(from_arn), self.region_of(to_arn)
        assert old is not None and new is not None
        with self._lock:
            started = time.time()
            duration = self._timing.drawn(
                self._timing.failover,
                "global_failover_seconds",
                self._draws,
                cluster=self.global_cluster_id,
                target=new,
            )
            rds.set_global_cluster_status(self.global_cluster_id, "failing-over")
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
            self._until(started + PENDING_SHARE * duration)
            self._phase("failing-over")
            self._until(started + duration)
            promoted = time.time()
            self._promoted_at[old] = promoted
            self._clients[new].set_role("writer", lease_until=self._new_lease(new))
            self._finish(
                old,
                new,
                started,
                "failover",
                lost_on_old_writer=discarded,
                in_flight_dropped=len(previous.dropped),
                promoted_at=promoted,
                fence_not_before=self._lease_sent.get(old) if discarded is None else None,
            )
            self._begin_rebuild(old, promoted)

    def _new_lease(self, region: str) -> float:
        until = time.time() + self.lease
        self._lease_sent[region] = max(self._lease_sent.get(region, 0.0), until)
        return until

    def _demote(self, region: str, shipped: int) -> int | None:
        """Fence the old writer: it becomes a reader and moves its unshipped writes aside.

        An unreachable old writer (hung, or black-holed from the lab) is fenced as soon as it
        answers again, by the enforcer thread, as Aurora demotes an old primary that comes
        back; a killed one stays fenced by being gone. Returns how many writes it lost, or
        None when that is not known yet.
        """
        fence = uuid.uuid4().hex
        try:
            reply = self._fence_clients[region].set_role(
                "reader", discard_after_seq=shipped, request_id=fence
            )
            return int(reply["discarded"])
        except RegionControlError:
            with self._pending_lock:
                self._pending[region] = (shipped, fence)
            return None

    def _enforce(self) -> None:
        """Retry pending demotions (a supervised worker, every 0.2 s).

        A fence sent before the old writer's lease ends is deferred by the region (it
        answers ``deferred_until``) and retried here: the window stays the lease.
        """
        with self._pending_lock:
            pending = dict(self._pending)
        for region, (shipped, fence) in pending.items():
            try:
                reply = self._fence_clients[region].set_role(
                    "reader",
                    discard_after_seq=shipped,
                    request_id=fence,
                    not_before=self._lease_sent.get(region),
                )
            except RegionControlError:
                continue
            if "deferred_until" in reply:
                continue
            with self._pending_lock:
                self._pending.pop(region, None)
            split = self._split_brain_writes(region)
            self._events.emit(
                "writer-fenced",
                region=region,
                lost_on_old_writer=reply["discarded"],
                split_brain_writes=len(split),
            )

    def _split_brain_writes(self, region: str) -> list[dict[str, object]]:
        """Record every write ``region`` acknowledged after its successor's promotion."""
        promoted = self._promoted_at.get(region)
        if promoted is None:
            return []
        found = [
            w
            for w in self._clients[region].lost()
            if w["origin"] == region and float(w["acked_at"]) > promoted
        ]
        for write in found:
            self._events.emit(
                "split-brain-write",
                region=region,
                id=write["id"],
                acked_at=write["acked_at"],
                promoted_at=promoted,
            )
        return found

    # -- resynchronisation of an old primary ----------------------------------------------

    def _set_sync(self, region: str, status: str) -> None:
        rds.set_member_synchronization(self.global_cluster_id, self.arn_of(region), status)

    def _begin_rebuild(self, old: str, promoted: float) -> None:
        """The old primary becomes a secondary whose volume is rebuilt; Aurora keeps its
        data as an automated snapshot."""
        self._set_sync(old, "pending-resync")
        cluster_id = self.arn_of(old).rsplit(":", 1)[-1]
        stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(promoted))
        snapshot = rds.take_snapshot(
            old, cluster_id, f"rds:unplanned-global-failover-{cluster_id}-{stamp}"
        )
        rebuild = self._timing.drawn(self._timing.resync, "resync_seconds", self._draws, region=old)
        with self._resync_lock:
            self._resyncing[old] = promoted + rebuild
        self._events.emit(
            "resync-started",
            region=old,
            snapshot=snapshot,
            rebuild_aws_seconds=round(self._timing.clock.lab_to_aws(rebuild), 3),
            until=promoted + rebuild,
        )

    def _resync(self) -> None:
        """Old primaries leave ``pending-resync`` once rebuilt, fenced and caught up."""
        with self._resync_lock:
            waiting = dict(self._resyncing)
        for region, rebuilt_at in waiting.items():
            if time.time() < rebuilt_at:
                continue
            with self._pending_lock:
                fenced = region not in self._pending
            if fenced and self._link.status().target == region and self._link.caught_up():
                with self._resync_lock:
                    self._resyncing.pop(region, None)
                self._set_sync(region, "connected")
                self._events.emit("resynchronised", region=region)

    def stop(self) -> None:
        self._stop.set()
        self.regional.stop()
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.join()

    def _switchover(self, from_arn: str, to_arn: str) -> None:
        old, new = self.region_of(from_arn), self.region_of(to_arn)
        assert old is not None and new is not None
        with self._lock:
            started = time.time()
            rds.set_global_cluster_status(self.global_cluster_id, "switching-over")
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
                self._clients[old].set_role("writer", lease_until=self._new_lease(old))
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
                self._clients[new].set_role("writer", lease_until=self._new_lease(new))
            except RegionControlError as exc:
                self._clients[old].set_role("writer", lease_until=self._new_lease(old))
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
        new_arn = next(m.cluster_arn for m in self.members if m.region == new)
        rds.set_global_cluster_writer(self.global_cluster_id, new_arn)
        self._on_change(self.roles())
        self._events.emit("writer", region=new, previous=old, how=how, started=started, **details)
        self.busy = False
        rds.set_global_cluster_status(self.global_cluster_id, "available")
        rds.set_failover_state(self.global_cluster_id, None)

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
        rds.set_global_cluster_status(self.global_cluster_id, "available")
        rds.set_failover_state(self.global_cluster_id, None)
