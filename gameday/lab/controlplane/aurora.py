"""Aurora inside a region, and the global database's RPO guard, on the lab's clock.

* **In-region failover** (``FailoverDBCluster``; a reboot of the writer instance): moto
  swaps the writer instance at once; the lab makes the region's writer unavailable for
  ``in_region_failover_seconds`` (AWS: "typically within 30 seconds", Aurora User Guide,
  high availability for Aurora; the lab takes the whole 30, not the flattering end): its
  commits are refused (:mod:`gameday.lab.region.writeblock`), the cluster's ``Status`` is
  ``failing-over`` (``rebooting``), then ``available``. ``in-region-failover`` events mark
  both ends.
* **``rds.global_db_rpo``** (Aurora PostgreSQL global databases; Aurora User Guide,
  "Managing RPOs for Aurora PostgreSQL-based global databases"): when the primary
  cluster's parameter group sets it, and every secondary lags beyond it (the age of the
  oldest committed change not yet applied at the secondary, in AWS seconds), the primary
  blocks commits until one catches up. ``write-stall`` events mark when commits were
  blocked and released, with the lag and the limit, so a drill's run directory shows
  where the lag became unavailability instead of data at risk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gameday.lab.clock import LabClock
from gameday.lab.controlplane import rds
from gameday.lab.events import EventLog
from gameday.lab.region.client import RegionClient, RegionControlError
from gameday.lab.region.replication import ReplicationLink
from gameday.lab.workers import Worker

#: How often the RPO guard and the in-region timers look (lab seconds).
TICK = 0.05
#: How often the loops look while they have nothing to time (lab seconds): the RPO guard
#: while no ``rds.global_db_rpo`` is set (a new value bites within it), the in-region
#: timer while no failover runs (a new one wakes it).
IDLE = 0.5


class AuroraRegional:
    """In-region failovers and the RPO guard of the lab's Aurora clusters."""

    def __init__(
        self,
        clusters: dict[str, str],
        clients: dict[str, RegionClient],
        link: ReplicationLink,
        events: EventLog,
        roles: Callable[[], dict[str, str]],
        clock: LabClock,
        in_region_seconds: float,
    ) -> None:
        self._clusters = {r: c for r, c in clusters.items() if c}
        self._clients = clients
        self._link = link
        self._events = events
        self._roles = roles
        self._clock = clock
        self._in_region_seconds = in_region_seconds
        self._lock = threading.Lock()
        self._ending: list[tuple[float, rds.InRegionRequest]] = []
        self._stalled: dict[str, bool] = {}
        self._timer = Worker("aurora-in-region", self._finish_due, TICK, events)
        self._workers = [self._timer, Worker("aurora-rpo-guard", self._guard_rpo, TICK, events)]

    def start(self) -> None:
        if self._clusters:
            for worker in self._workers:
                worker.start()

    def stop(self) -> None:
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.join()

    # -- in-region failover ----------------------------------------------------------------

    def handle(self, request: rds.InRegionRequest) -> None:
        """Start an accepted in-region failover or writer reboot (returns at once)."""
        until = time.time() + self._clock.aws_to_lab(self._in_region_seconds)
        writer = self._roles().get(request.region) == "writer"
        status = "failing-over" if request.operation == "failover" else "rebooting"
        rds.set_cluster_status(request.region, request.cluster_id, status)
        if writer:
            self._clients[request.region].set_writes(
                unavailable_until=until,
                reason=f"the writer of DB cluster {request.cluster_id} in {request.region} is "
                f"unavailable: in-region {request.operation} under way (a reader is promoted)",
            )
        self._events.emit(
            "in-region-failover",
            region=request.region,
            cluster=request.cluster_id,
            operation=request.operation,
            state="started",
            aws_seconds=self._in_region_seconds,
            writes_refused=writer,
            until=until,
        )
        with self._lock:
            self._ending.append((until, request))
        self._timer.wake()

    def _finish_due(self) -> float:
        """End the in-region operations that are due; the delay until the next one."""
        now = time.time()
        with self._lock:
            due = [r for end, r in self._ending if end <= now]
            self._ending = [(end, r) for end, r in self._ending if end > now]
            next_end = min((end for end, _ in self._ending), default=now + IDLE)
        for request in due:
            rds.set_cluster_status(request.region, request.cluster_id, "available")
            self._events.emit(
                "in-region-failover",
                region=request.region,
                cluster=request.cluster_id,
                operation=request.operation,
                state="completed",
            )
        return max(0.0, min(next_end - time.time(), IDLE))

    # -- rds.global_db_rpo -----------------------------------------------------------------

    def _guard_rpo(self) -> float | None:
        writer = next((r for r, role in self._roles().items() if role == "writer"), None)
        for region, stalled in list(self._stalled.items()):
            if stalled and region != writer:  # the writer moved: the old one's gate opens
                self._set_stall(region, False, 0.0, None)
        if writer is None or writer not in self._clusters:
            return IDLE
        value = rds.cluster_parameter(writer, self._clusters[writer], rds.GLOBAL_DB_RPO)
        limit = int(value) if value and value.isdigit() else None
        if limit is None and not self._stalled.get(writer, False):
            return IDLE
        lag = self._clock.lab_to_aws(self._link.oldest_unshipped_age())
        blocked = limit is not None and lag > limit
        if blocked != self._stalled.get(writer, False):
            self._set_stall(writer, blocked, lag, limit)
        return None

    def _set_stall(self, region: str, blocked: bool, lag: float, limit: int | None) -> None:
        try:
            self._clients[region].set_writes(
                rpo_blocked=blocked,
                rpo_reason=f"commit blocked by {rds.GLOBAL_DB_RPO} = {limit} s: every "
                f"secondary lags {lag:.1f} AWS s behind the primary",
            )
        except RegionControlError:
            return  # gone or frozen: retried at the next tick
        self._stalled[region] = blocked
        self._events.emit(
            "write-stall",
            region=region,
            blocked=blocked,
            lag_aws_seconds=round(lag, 3),
            rpo_limit_seconds=limit,
            parameter=rds.GLOBAL_DB_RPO,
        )
