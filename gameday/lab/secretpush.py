"""Word to the regions that their secret changed, so each reads it again at once.

A region reads the application secret through its own Secrets Manager endpoint, as the
application would (:func:`gameday.lab.region.server.watch_secret`). Polling that API fast
enough to notice a removed replica within a health-check interval cost each region four
reads a second (a third of an idle lab's CPU at speed 20); instead the control plane says
when a secret may have changed (:func:`gameday.lab.controlplane.secretsmanager.on_change`)
and :class:`SecretPush` passes the word to every region's control listener. A region that
does not take it (frozen, restarting) is told again every :data:`RETRY` seconds until it
does, and reads on its own every 2 s anyway.
"""

from __future__ import annotations

import threading

from gameday.lab.events import EventLog
from gameday.lab.region.client import RegionClient, RegionControlError
from gameday.lab.workers import Worker

#: Seconds a region's control listener gets to take the word (a frozen region holds up the
#: others at most two of them: the client tries twice), and between two rounds for a region
#: that did not take it.
TIMEOUT = 0.5
RETRY = 0.2
#: Seconds the worker sleeps when nothing changed (it is woken by every change).
IDLE = 60.0


class SecretPush:
    """Tells every region, by name and control port, that the secret may have changed."""

    def __init__(self, control_ports: dict[str, int], events: EventLog | None) -> None:
        self._clients = {
            name: RegionClient(port, timeout=TIMEOUT) for name, port in control_ports.items()
        }
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.worker = Worker("secret-push", self._step, IDLE, events)

    def start(self) -> SecretPush:
        self.worker.start()
        return self

    def stop(self) -> None:
        self.worker.stop()

    def changed(self) -> None:
        """A secret may have changed: tell every region (returns at once, any thread)."""
        with self._lock:
            self._pending.update(self._clients)
        self.worker.wake()

    def _step(self) -> float | None:
        with self._lock:
            todo, self._pending = sorted(self._pending), set()
        missed = []
        for name in todo:
            try:
                self._clients[name].call("POST", "/_lab/secret-changed")
            except RegionControlError:
                missed.append(name)
        if not missed:
            return None
        with self._lock:
            self._pending.update(missed)
        return RETRY
