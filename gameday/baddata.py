"""How gameday marks the bad data it writes on purpose, so anything can find it again.

The corrupted-data drill writes a batch of orders with an invalid total through the
service's own API. Each one carries :data:`MARKER` (the batch name) in its body and an id
starting with :data:`ID_PREFIX`, so probes count them, the purge removes exactly them,
and the lab's ground truth tells them apart from the load's good writes. One place for
the rule: the action, the probe, the report and the lab all import it from here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ID_PREFIX", "INVALID_TOTAL", "MARKER", "batch_ids", "is_marked"]

#: The body field naming the bad-data batch an order belongs to.
MARKER = "gameday_bad_data"
#: Every bad-data order id starts with this (then the batch, then the number).
ID_PREFIX = "gameday-bad-"
#: The invalid total the bad orders carry (an order total is never negative).
INVALID_TOTAL = -1


def batch_ids(batch: str, count: int) -> list[str]:
    """The ids of the ``count`` orders of bad-data batch ``batch``."""
    return [f"{ID_PREFIX}{batch}-{n:05d}" for n in range(count)]


def is_marked(order_id: str, body: Any = None) -> bool:
    """True for an order gameday wrote as bad data (by id, or by the body's marker)."""
    if order_id.startswith(ID_PREFIX):
        return True
    return isinstance(body, dict) and MARKER in body
