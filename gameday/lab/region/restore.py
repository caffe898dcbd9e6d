"""The lab's restorer: rebuilds a point-in-time restored cluster's data, and records cut-overs.

The control plane (:mod:`gameday.lab.controlplane.pitr`) accepts
``RestoreDBClusterToPointInTime`` and puts a request in the outbox. The restorer takes it,
copies the source cluster's orders acknowledged at or before the restore time into the new
cluster's storage (``<lab dir>/clusters/<id>.db``), and leaves the cluster ``creating`` for
as long as the restore takes, then makes it ``available`` (the file appears only then, so an
application pointed at it earlier cannot connect).

How long a restore takes: AWS documents that it grows with the amount of data (and log) to
restore, and gives no figure. The lab assumes :data:`RESTORE_BASE_SECONDS` plus one AWS
second per :data:`RESTORE_ROWS_PER_SECOND` orders, in AWS seconds on the lab's clock.

Ground truth, in the event log:

* ``bad-data-found``: the marked bad records (:mod:`gameday.baddata`) the source held when
  the restore was requested, with their first and last acknowledgement times;
* ``pitr-restore-started`` / ``pitr-restore-complete``: the restore point, the source, the
  rows restored and the duration;
* ``cut-over``: a region's application now serves another cluster (the secret changed), and,
  when that is a restored cluster, the good writes its source held after the restore point
  (``discarded``: what the restore threw away) and how many marked records it left behind.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.baddata import is_marked
from gameday.lab.clock import LabClock
from gameday.lab.controlplane import pitr
from gameday.lab.events import EventLog
from gameday.lab.region.client import RegionClient, RegionControlError
from gameday.lab.region.dataswitch import CLUSTERS_DIR, cluster_store_path
from gameday.lab.region.store import OrderStore
from gameday.lab.workers import Worker

#: AWS seconds every restore takes at least (a lab assumption: AWS gives no figure).
RESTORE_BASE_SECONDS = 60.0
#: Orders restored per AWS second beyond the base (a lab assumption).
RESTORE_ROWS_PER_SECOND = 100.0
#: How often the cut-over watch asks each region what it serves (lab seconds) while a
#: restore is under way or done, and while there is none; how long the restore worker
#: waits on its queue before it looks at its stop flag (a request is begun at once).
CUT_OVER_PERIOD = 0.1
IDLE_PERIOD = 0.5
REQUEST_WAIT = 0.5


@dataclass
class _Pending:
    request: pitr.RestoreRequest
    building: Path
    rows: int
    ready_at: float


#: One stored order as the restorer reads it: (id, body JSON, acked_at, origin).
Row = tuple[str, str, float, str]


def read_orders(path: Path, *, after: float | None = None, until: float | None = None) -> list[Row]:
    """(id, body, acked_at, origin) of the orders in a store file, read-only, by seq."""
    query = "SELECT id, body, acked_at, origin FROM orders WHERE 1=1"
    args: list[float] = []
    if after is not None:
        query, args = query + " AND acked_at > ?", [*args, after]
    if until is not None:
        query, args = query + " AND acked_at <= ?", [*args, until]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [(str(i), str(b), float(a), str(o))
                for i, b, a, o in db.execute(query + " ORDER BY seq", args)]  # fmt: skip


class Restorer:
    """Carries out accepted restores and watches which data each region serves."""

    def __init__(
        self,
        lab_dir: Path,
        stores: dict[str, Path],
        clients: dict[str, RegionClient],
        events: EventLog,
        clock: LabClock,
        exists: Callable[[str, str], bool] = pitr.cluster_exists,
    ) -> None:
        self._dir = Path(lab_dir)
        self._stores = dict(stores)  # cluster ARN -> its storage
        self._clients = clients
        self._events = events
        self._clock = clock
        self._exists = exists
        self.requests: pitr.Outbox = pitr.Outbox()
        self._pending: list[_Pending] = []
        self._restored: dict[str, pitr.RestoreRequest] = {}  # cluster id -> its request
        self._serving: dict[str, str] = {}
        self._workers = [
            Worker("pitr-restores", self._tick, 0.0, events),
            Worker("cut-over-watch", self._watch, CUT_OVER_PERIOD, events),
        ]

    def start(self) -> None:
        (self._dir / CLUSTERS_DIR).mkdir(parents=True, exist_ok=True)
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.join()

    def duration(self, rows: int) -> float:
        """Lab seconds a restore of ``rows`` orders takes."""
        return self._clock.aws_to_lab(RESTORE_BASE_SECONDS + rows / RESTORE_ROWS_PER_SECOND)

    # -- restores ------------------------------------------------------------------------

    def _tick(self) -> None:
        """Complete the restores that are due, then wait for the next request until the
        next restore is due (a request is begun the moment it is queued)."""
        now = time.time()
        for pending in [p for p in self._pending if p.ready_at <= now]:
            self._pending.remove(pending)
            self._complete(pending)
        next_due = min((p.ready_at for p in self._pending), default=now + REQUEST_WAIT)
        try:
            request = self.requests.get(timeout=max(0.0, min(next_due - now, REQUEST_WAIT)))
        except queue.Empty:
            return
        self._begin(request)

    def _begin(self, request: pitr.RestoreRequest) -> None:
        source = self._stores.get(request.source_arn)
        if source is None:
            source = cluster_store_path(self._dir, request.source_id)
        rows = read_orders(source, until=request.restore_time)
        building = self._dir / CLUSTERS_DIR / f".{request.cluster_id}.building.db"
        building.unlink(missing_ok=True)
        store = OrderStore(building, request.region)
        store.apply([{"id": i, "body": json.loads(b), "acked_at": a, "origin": o}
                     for i, b, a, o in rows])  # fmt: skip
        store.close()
        marked = [(i, a) for i, b, a, _ in read_orders(source) if is_marked(i, json.loads(b))]
        if marked:
            self._events.emit(
                "bad-data-found", cluster=request.source_id, count=len(marked),
                first_acked_at=min(a for _, a in marked), last_acked_at=max(a for _, a in marked),
            )  # fmt: skip
        took = self.duration(len(rows))
        self._pending.append(_Pending(request, building, len(rows), request.requested_at + took))
        self._events.emit(
            "pitr-restore-started", cluster=request.cluster_id, source=request.source_id,
            region=request.region, restore_time=request.restore_time, rows=len(rows),
            duration_lab_s=round(took, 3), duration_aws_s=round(took * self._clock.speed, 3),
        )  # fmt: skip

    def _complete(self, pending: _Pending) -> None:
        request = pending.request
        if not pitr.finish_restore(request.region, request.cluster_id):
            pending.building.unlink(missing_ok=True)  # deleted while it was being restored
            return
        pending.building.replace(cluster_store_path(self._dir, request.cluster_id))
        self._restored[request.cluster_id] = request
        self._events.emit(
            "pitr-restore-complete", cluster=request.cluster_id, source=request.source_id,
            restore_time=request.restore_time, rows=pending.rows,
        )  # fmt: skip

    # -- cut-overs ----------------------------------------------------------------------

    def _watch(self) -> float:
        """Record each region's cut-over once; the delay until the next look."""
        for region, client in self._clients.items():
            try:
                data = client.state().get("data") or {}
            except RegionControlError:
                continue  # a stopped or killed region: it is looked at again next time
            cluster = str(data.get("cluster") or "home")
            if self._serving.setdefault(region, "home") != cluster:
                self._serving[region] = cluster
                self._cut_over(region, cluster, data.get("switched_at"))
        for cluster_id in [
            c for c in self._restored if not self._exists(self._restored[c].region, c)
        ]:
            del self._restored[cluster_id]
            cluster_store_path(self._dir, cluster_id).unlink(missing_ok=True)
            self._events.emit("pitr-cluster-deleted", cluster=cluster_id)
        busy = self._pending or self._restored or any(c != "home" for c in self._serving.values())
        # nothing restored or restoring and every region at home: a cut-over now could only
        # follow a secret edited by hand; it is seen within the idle period
        return CUT_OVER_PERIOD if busy else IDLE_PERIOD

    def _cut_over(self, region: str, cluster: str, switched_at: Any) -> None:
        fields: dict[str, Any] = {"region": region, "cluster": cluster, "switched_at": switched_at}
        request = self._restored.get(cluster)
        if request is not None:
            source = self._stores.get(request.source_arn) or cluster_store_path(
                self._dir, request.source_id
            )
            after = read_orders(source, after=request.restore_time)
            good = [(i, a) for i, b, a, _ in after if not is_marked(i, json.loads(b))]
            fields.update(
                restore_time=request.restore_time,
                source=request.source_id,
                discarded=[{"id": i, "acked_at": a} for i, a in good],
                discarded_marked=len(after) - len(good),
            )
        self._events.emit("cut-over", **fields)


def prepare(lab_dir: Path, global_cluster: str) -> None:
    """Before the regions start: no restored cluster of an earlier lab, and the regions
    know which cluster is their home (:data:`gameday.lab.region.dataswitch.HOME_ENV`)."""
    import os
    import shutil

    from gameday.lab.region.dataswitch import HOME_ENV

    shutil.rmtree(Path(lab_dir) / CLUSTERS_DIR, ignore_errors=True)
    os.environ[HOME_ENV] = global_cluster


def install(
    lab_dir: Path,
    resources: Any,
    clients: dict[str, RegionClient],
    events: EventLog,
    clock: LabClock,
) -> Restorer:
    """The restorer for a started lab, with the control plane's PITR operations installed."""
    stores = {
        r.db_cluster_arn: Path(lab_dir) / f"region-{r.name}.db"
        for r in resources.regions
        if r.db_cluster_arn
    }
    restorer = Restorer(Path(lab_dir), stores, clients, events, clock)
    pitr.install(restorer.requests, clock)
    return restorer
