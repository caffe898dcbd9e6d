"""Ground truth for the DynamoDB tier: what a failed region had not replicated at failover.

In a multi-active global table every region acknowledges writes locally and replicates them
asynchronously. When DNS moves the service away from a region (the failover a drill
measures), the writes that region acknowledged but the survivor does not hold yet are the
RPO exposure; unlike Aurora, they are not thrown away: they may still arrive once the
region's replication resumes. This witness records both, in the lab's event log:

* ``unreplicated-at-failover``: the failed region, the survivor, the ids it lacks and
  whether the list is complete (a killed region cannot be asked; then only the changes in
  flight on the link are known);
* ``arrived-later``: ids of that list that reached the survivor afterwards, as they do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from gameday.lab.events import Event, EventLog
from gameday.lab.region.client import RegionClient, RegionControlError
from gameday.lab.region.replication import ReplicationLink

#: How often the witness checks the survivor for late arrivals (lab seconds).
PERIOD = 0.1


class FailoverWitness:
    """Subscribes to DNS changes of the service name and records the replication gap."""

    def __init__(
        self,
        record_name: str,
        addresses: dict[str, str],
        clients: dict[str, RegionClient],
        links: dict[str, ReplicationLink],
        events: EventLog,
        stopped: Callable[[], bool],
    ) -> None:
        self._name = record_name.rstrip(".")
        self._region_at = {address: region for region, address in addresses.items()}
        self._clients = clients
        self._links = links  # by source region
        self._events = events
        self._stopped = stopped
        events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event["kind"] != "dns" or event.get("name") != self._name:
            return
        before = {self._region_at.get(a) for a in event.get("previous") or ()}
        after = {self._region_at.get(a) for a in event.get("answer") or ()}
        for failed in sorted(r for r in before - after if r is not None):
            survivors = sorted(r for r in after if r is not None)
            if survivors:
                threading.Thread(
                    target=self._witness,
                    args=(failed, survivors[0], event["time"]),
                    name="failover-witness",
                    daemon=True,
                ).start()

    def _unshipped(self, failed: str) -> tuple[list[str], bool]:
        """Ids ``failed`` acknowledged that its link has not applied: (ids, complete)."""
        link = self._links[failed]
        shipped = link.status().shipped_seq
        in_flight = link.in_flight_ids()
        try:
            changes = self._clients[failed].changes(shipped, limit=100_000)["changes"]
        except RegionControlError:
            return in_flight, False
        own = [c["id"] for c in changes if c["origin"] == failed]
        return sorted(set(own) | set(in_flight)), True

    def _witness(self, failed: str, survivor: str, at: float) -> None:
        ids, complete = self._unshipped(failed)
        try:
            present = set(self._clients[survivor].existing(ids)) if ids else set()
        except RegionControlError:
            present = set()
        missing = [i for i in ids if i not in present]
        self._events.emit(
            "unreplicated-at-failover",
            region=failed,
            survivor=survivor,
            failover_at=at,
            ids=missing,
            count=len(missing),
            complete=complete,
        )
        while missing and not self._stopped():
            threading.Event().wait(PERIOD)
            try:
                arrived = set(self._clients[survivor].existing(missing))
            except RegionControlError:
                continue
            if arrived:
                self._events.emit(
                    "arrived-later",
                    region=failed,
                    survivor=survivor,
                    ids=sorted(arrived),
                    count=len(arrived),
                )
                missing = [i for i in missing if i not in arrived]
