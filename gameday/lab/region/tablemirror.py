"""The DynamoDB tier's items in the control plane: each region's replica of the global table.

In the ``dynamodb`` data tier the orders live in a DynamoDB global table. The region
process serves them from its own store (so that every request is answered at loopback
speed) and mirrors every version it holds, local writes and replicated ones alike, into
its region's replica of the table in the control plane. So ``get_item`` / ``scan`` in a
region show what that region holds: a write replicated to the other region appears there
once the replication link has delivered it, and not while an FIS pause holds it back.

The mirror is asynchronous (one thread, ``BatchWriteItem`` of up to 25 items every
``period``): the table trails the region's store by about one period, never the other way.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

from gameday.lab.region.store import Order

#: DynamoDB's BatchWriteItem limit.
BATCH = 25


def item(order: Order) -> dict[str, Any]:
    """An order as a DynamoDB item (``id`` is the table's hash key)."""
    return {
        "id": {"S": order.id},
        "acked_at": {"N": repr(order.acked_at)},
        "origin": {"S": order.origin},
        "body": {"S": json.dumps(order.body, sort_keys=True)},
    }


class TableMirror:
    """Writes the orders a region stores into its replica of the global table."""

    def __init__(self, region: str, table: str, period: float = 0.05) -> None:
        self.region = region
        self.table = table
        self.period = period
        self._queue: queue.Queue[Order] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="table-mirror", daemon=True)
        self.errors = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def put(self, order: Order) -> None:
        """Mirror ``order`` (the version this region now holds) soon."""
        self._queue.put(order)

    def _loop(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from gameday.aws import client

        dynamodb = client("dynamodb", self.region)
        pending: list[Order] = []
        while not self._stop.wait(self.period):
            while True:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            while pending:
                # one version per id and batch: the latest the region stored wins
                batch: dict[str, Order] = {}
                for order in pending[:BATCH]:
                    batch[order.id] = order
                try:
                    dynamodb.batch_write_item(
                        RequestItems={
                            self.table: [{"PutRequest": {"Item": item(o)}} for o in batch.values()]
                        }
                    )
                except (BotoCoreError, ClientError) as exc:  # the control plane is the lab's own
                    self.errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    break  # keep the batch; retry next period
                del pending[:BATCH]
