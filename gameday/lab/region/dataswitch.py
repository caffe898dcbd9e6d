"""Which data a region's application serves: its own cluster, or the one the secret names.

A team cuts over to a restored database by changing the connection the application reads
(here the application secret's ``dbClusterIdentifier``), not by copying data back. The
region process reads its secret when the control plane says it changed, and every few tenths
of a second while it cannot connect to the database the secret names (its deep health,
:func:`gameday.lab.region.server.watch_secret`); each read goes through
:meth:`DataSource.follow`:

* no ``dbClusterIdentifier``, or the lab's global cluster (``GAMEDAY_LAB_HOME_CLUSTER``):
  the region serves its own member of the global database (its store, which the
  replication link keeps);
* a restored cluster whose storage exists (``<lab dir>/clusters/<id>.db``, written by the
  lab's restorer once the restore is ``available``): the region serves that cluster's
  data, reads and writes alike (writes only where the region is the writer);
* any other name (a cluster that does not exist, or is still being restored): the
  application cannot connect, so the deep health fails with the reason, as it would on AWS.

Only the public API follows the switch; replication and ground truth keep working on the
region's own store.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from gameday.lab.region.store import OrderStore

#: The environment variable naming the lab's global cluster (the region's home data).
HOME_ENV = "GAMEDAY_LAB_HOME_CLUSTER"
CLUSTERS_DIR = "clusters"


def cluster_store_path(lab_dir: str | Path, cluster_id: str) -> Path:
    """Where the lab keeps a restored cluster's storage."""
    return Path(lab_dir) / CLUSTERS_DIR / f"{cluster_id}.db"


class DataSource:
    """The store a region's public API reads and writes, switched by the secret."""

    def __init__(self, own: OrderStore, lab_dir: str | Path, region: str) -> None:
        self.own = own
        self.region = region
        self._lab_dir = Path(lab_dir)
        self._home = os.environ.get(HOME_ENV) or None
        self._lock = threading.Lock()
        self.store: OrderStore | None = own
        #: The cluster served (None: the region's own member of the global database).
        self.cluster: str | None = None
        self.error: str | None = None
        self.switched_at: float | None = None
        self._opened: dict[str, OrderStore] = {}

    def follow(self, secret_string: str | None) -> None:
        """Serve what the secret's connection names (see the module docstring)."""
        try:
            data = json.loads(secret_string or "{}")
        except ValueError:
            data = {}
        wanted = data.get("dbClusterIdentifier") if isinstance(data, dict) else None
        if wanted in (None, "", self._home):
            self._serve(None, self.own, None)
            return
        path = cluster_store_path(self._lab_dir, str(wanted))
        if not path.exists():
            self._serve(str(wanted), None, f"cannot connect to DB cluster {wanted}")
            return
        store = self._opened.get(str(wanted))
        if store is None:
            store = self._opened[str(wanted)] = OrderStore(path, self.region)
        self._serve(str(wanted), store, None)

    def _serve(self, cluster: str | None, store: OrderStore | None, error: str | None) -> None:
        with self._lock:
            if cluster != self.cluster:
                self.switched_at = time.time()
            self.cluster, self.store, self.error = cluster, store, error
            if store is not None and store is not self.own:
                store.max_seq = store.current_max_seq()

    def connected_to(self) -> str | None:
        """The cluster the application is connected to (its home: the global cluster)."""
        if self.store is None:
            return None
        return self.cluster or self._home

    def ping(self) -> bool:
        store = self.store
        return store is not None and store.ping()

    def describe(self) -> dict[str, object]:
        """What ``/_lab/state`` (and so ``lab status``) shows about the data served."""
        return {"cluster": self.cluster or "home", "error": self.error,
                "switched_at": self.switched_at}  # fmt: skip

    def close(self) -> None:
        for store in self._opened.values():
            store.close()
